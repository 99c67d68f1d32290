"""The orchestrator: owns every live instance's ContextMachine state and the coordinator.

One task consumes everything in batches: inbox journal items (agent messages), operator verbs,
timer actions. Serial order per instance follows from the single consumer; the batch is the
unit of durability:

  peek inbox -> drop ids already processed -> apply each input (and the coordinator / virtual
  re-entries it causes, in memory) -> ONE DB transaction: instance rows, changed job rows, one
  snapshot per touched instance, audit rows, processed ids, coordinator state, outbox rows ->
  remove the batch from the journal -> wake senders, answer verbs, arm timers.

Each input is applied as a step with its own undo: a refused verb (FailedPrecondition, ...) or
a failing agent message leaves nothing behind. A failing agent message stays in the journal
and is retried with the next batch; PoisonGuard moves it to the dead letters after
`max_attempts`. Holds (DESIGN §4): the machine only holds WAITING/RELEASED jobs, so a job the
dashboard knows has started (RUNNING) is refused FAILED_PRECONDITION by the machine itself; a
held job whose initiation was raised gets a CancelInitiation. The agent's "cancelled" answer
(not successful, outcome EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY, naming the parked
initiation) is recorded and dropped here so the hold stands. If the agent had started it
before the cancel arrived, its starting/completion events apply as usual (reality wins; the
audit trail shows hold then RUNNING).

Retry timers (ScheduleRetry) live in the instance's stored snapshot beside the engine state
({"state": ..., "retries": [[job, context, attempt, due_ms], ...]}), so a restart re-arms them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from ikasched.v1 import agent_pb2, plan_pb2
from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_common.journal import DeadLetterJournal, Journal, JournalItem, PoisonGuard
from ikasched_dashboard.engine.coordinator import (
    Coordinator,
    CoordinatorState,
    Delivery,
    LiveInstance,
    RegisterInstance,
    UnregisterInstance,
)
from ikasched_dashboard.engine.effects import (
    Audit,
    CancelInitiation,
    ContextStatusChanged,
    GlobalEvent,
    InstanceComplete,
    JobStatusChanged,
    KillJob,
    LockRelease,
    LockRequest,
    RaiseInitiation,
    ScheduleRetry,
)
from ikasched_dashboard.engine.inputs import (
    AcknowledgeError,
    Activate,
    End,
    Input,
    KillRunningJobs,
    LockGranted,
    LockQueued,
    MarkKilled,
    ProcessEvent,
    RetryDue,
)
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import Plan, Status
from ikasched_dashboard.engine.snapshot import (
    coordinator_from_snapshot,
    coordinator_to_snapshot,
    from_snapshot,
)
from ikasched_dashboard.engine.state import InstanceState, JobKey
from ikasched_dashboard.gateway import decode_inbox_entry
from ikasched_dashboard.interfaces import NewInstance, VerbResult
from ikasched_dashboard.orchestrator import messages as out
from ikasched_dashboard.orchestrator import writes
from ikasched_dashboard.orchestrator.snapshots import SnapshotWriter
from ikasched_dashboard.plans.convert import event_from_proto, plan_from_proto
from ikasched_dashboard.store import changes, instances, locks, plans
from ikasched_dashboard.store import messages as msg_store
from ikasched_dashboard.store.changes import AuditEntry
from ikasched_dashboard.store.db import read_transaction, write_transaction
from ikasched_dashboard.store.instances import InstanceRow, JobInstanceRow
from ikasched_dashboard.store.messages import OutboxMessage

log = logging.getLogger(__name__)

T = TypeVar("T")
CANCELLED_OUTCOME = "EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY"
_RUNNING = frozenset({Status.RUNNING, Status.SKIPPED_RUNNING})
_FINISHED = frozenset({Status.COMPLETE, Status.SKIPPED_COMPLETE, Status.ERROR, Status.KILLED})
_INSTANCE_DONE = frozenset({Status.COMPLETE, Status.ENDED})

Notify = Callable[[Sequence[str]], None]
BatchObserver = Callable[[float, int], None]  # (seconds to process + commit, events)
Clock = Callable[[], int]


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class CompiledPlan:
    plan: Plan
    proto: plan_pb2.Context
    version: int
    machine: ContextMachine
    agents: tuple[str, ...]


@dataclass(slots=True)
class _Live:
    """A live (or PREPARED) instance: committed state and its row."""

    state: InstanceState
    compiled: CompiledPlan
    row: InstanceRow
    retries: dict[JobKey, tuple[int, int]] = field(default_factory=dict)  # key -> attempt, due


@dataclass(frozen=True, slots=True)
class OrchestratorSettings:
    batch_max: int = 2000
    max_attempts: int = 3  # poison: tries before the dead letters
    retry_backoff: float = 0.05  # after a failed commit


class _Step:
    """One input's changes, merged into the batch only if the whole input succeeds."""

    __slots__ = (
        "acks",
        "audits",
        "changed",
        "coord",
        "ended",
        "facts",
        "forget",
        "jobs_changed",
        "lives",
        "outbox",
        "result",
        "retries",
    )

    def __init__(self) -> None:
        self.lives: dict[str, _Live] = {}  # touched instances: copies with the step's state
        self.coord: CoordinatorState | None = None
        self.audits: list[AuditEntry] = []
        self.outbox: list[OutboxMessage] = []
        self.retries: list[tuple[str, ScheduleRetry, int]] = []
        self.ended: set[str] = set()
        self.forget: set[str] = set()  # dropped PREPARED instances
        self.changed: list[tuple[str, str]] = []
        self.jobs_changed: dict[str, list[tuple[str, str]]] = {}
        # (instance, job, context) -> (start, end, return code) learned in this step
        self.facts: dict[tuple[str, str, str], tuple[int, int, int | None]] = {}
        # (instance, job, child) -> (message, ticket, user, time) of an error acknowledgement
        self.acks: dict[tuple[str, str, str], tuple[str, str, str, int]] = {}
        self.result: Any = None


class _Batch:
    def __init__(self) -> None:
        self.lives: dict[str, _Live] = {}
        self.new_ids: set[str] = set()
        self.coord: CoordinatorState | None = None
        self.audits: list[AuditEntry] = []
        self.outbox: list[OutboxMessage] = []
        self.retries: list[tuple[str, ScheduleRetry, int]] = []
        self.ended: set[str] = set()
        self.forget: set[str] = set()
        self.processed: list[str] = []
        self.done_keys: list[int] = []
        self.facts: dict[tuple[str, str, str], tuple[int, int, int | None]] = {}
        # (instance, job, child) -> (message, ticket, user, time) of an error acknowledgement
        self.acks: dict[tuple[str, str, str], tuple[str, str, str, int]] = {}
        self.answers: list[tuple[asyncio.Future[Any], Any]] = []
        self.refusals: list[tuple[asyncio.Future[Any], BaseException]] = []
        self.poison: list[tuple[JournalItem, str]] = []
        self.reqs: list[_Request] = []
        self.processed_set: frozenset[str] = frozenset()
        self.last_key = 0  # its newest journal key (0: no items)
        self.pipelinable = False
        self.began = 0.0
        self.commit: asyncio.Future[None] | None = None


class _DuplicateSeen(Exception):
    """The commit met an already-processed message id (the batch rolls back)."""


@dataclass(slots=True)
class _Request:
    run: Callable[[_Step], Any]
    future: asyncio.Future[Any] | None


class Orchestrator:
    """Implements interfaces.Orchestration; see the module doc."""

    def __init__(
        self,
        engine: Engine,
        inbox: Journal,
        dead_letters: Journal,
        *,
        notify: Notify | None = None,
        clock: Clock = _wall_ms,
        settings: OrchestratorSettings | None = None,
        db_executor: Executor | None = None,
    ) -> None:
        self._engine = engine
        self._inbox = inbox
        self._dead = DeadLetterJournal(dead_letters)
        self._settings = settings or OrchestratorSettings()
        self._guard = PoisonGuard(inbox, self._dead, max_attempts=self._settings.max_attempts)
        self._notify = notify or (lambda _names: None)
        self._clock = clock
        # one DB thread shared with the outboxes (SQLite): writers never meet on the file lock,
        # whose busy handler would sleep for milliseconds
        self._own_db = db_executor is None
        self._db = db_executor or ThreadPoolExecutor(1, thread_name_prefix="orchestrator-db")
        self._jx = ThreadPoolExecutor(1, thread_name_prefix="inbox-reader")
        self._coordinator = Coordinator()
        self._coord: CoordinatorState = Coordinator.empty()
        self._lives: dict[str, _Live] = {}
        self._plans: dict[tuple[str, int], CompiledPlan] = {}
        self._job_rows: dict[str, dict[tuple[str, str], JobInstanceRow]] = {}
        self._snapshots = SnapshotWriter()
        self._requests: deque[_Request] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._timers: dict[tuple[str, JobKey, int], asyncio.TimerHandle] = {}
        self._stopping = False
        self._batch = _Batch()  # the batch being built
        self._inflight: _Batch | None = None  # built, its commit running
        self._done_keys: list[int] = []
        self._verify_ids = True
        self.ready = asyncio.Event()
        self.batches = 0
        self.duplicate_redos = 0  # batches redone after the commit met a processed id
        self.events_processed = 0
        self.dropped: list[tuple[str, str]] = []  # (message id, why), recent, for tests/metrics
        self._observe: BatchObserver | None = None
        self._commit_listeners: list[Callable[[], None]] = []

    # ---- start / stop -------------------------------------------------------------------------
    async def start(self) -> None:
        """Rebuild machines from snapshots and the coordinator, then consume."""
        await self._db_call(self._recover)
        loop = asyncio.get_running_loop()
        now = self._clock()
        for iid, live in self._lives.items():
            for key, (attempt, due) in live.retries.items():
                self._arm(iid, key, attempt, due, now)
        self._task = loop.create_task(self._loop(), name="orchestrator")
        self.ready.set()
        self.wake()

    async def stop(self) -> None:
        """Finish queued work (drain), then stop."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for req in self._requests:
            if req.future is not None and not req.future.done():
                req.future.set_exception(FailedPrecondition("the dashboard is stopping"))
        self._jx.shutdown(wait=True)
        if self._own_db:
            self._db.shutdown(wait=True)

    def wake(self) -> None:
        self._wake.set()

    def set_batch_observer(self, observer: BatchObserver | None) -> None:
        """Called after each committed batch (metrics)."""
        self._observe = observer

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Called on the event loop after each committed batch (e.g. to wake watch streams)."""
        self._commit_listeners.append(listener)

    async def _db_call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    async def _jcall(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._jx, fn)

    # ---- recovery ------------------------------------------------------------------------------
    def _recover(self) -> None:
        with read_transaction(self._engine) as conn:
            saved = locks.load_lock_state(conn)
            if saved is not None:
                self._coord = coordinator_from_snapshot(json.loads(saved.snapshot))
            rows = {
                r.id: r
                for r in instances.list_instances(conn, excluding_statuses=("ENDED",), limit=10**9)
            }
            for snap in instances.load_snapshots(conn):
                row = rows.get(snap.id)
                if row is None:
                    continue
                data = json.loads(snap.snapshot)
                compiled = self._compile(conn, row.plan_name, int(data["state"]["plan_version"]))
                state = from_snapshot(compiled.plan, data["state"])
                if state.ended:
                    continue
                retries = {(j, c): (int(a), int(d)) for j, c, a, d in data.get("retries", [])}
                self._lives[snap.id] = _Live(state, compiled, row, retries)
        log.info("orchestrator recovered %d instances", len(self._lives))

    # ---- plans -------------------------------------------------------------------------------
    def _compile(self, conn: Connection, name: str, version: int = 0) -> CompiledPlan:
        if version:
            found = self._plans.get((name, version))
            if found is not None:
                return found
        record = plans.get_plan(conn, name, version)
        if record is None:
            raise NotFound(f"plan {name!r}" + (f" version {version}" if version else ""))
        found = self._plans.get((name, record.version))
        if found is not None:
            return found
        proto = plan_pb2.Context.FromString(record.plan)
        plan = plan_from_proto(proto, version=str(record.version))
        compiled = CompiledPlan(
            plan, proto, record.version, ContextMachine(plan), out.plan_agents(plan)
        )
        self._plans[(name, record.version)] = compiled
        return compiled

    async def _plan(self, name: str, version: int = 0) -> CompiledPlan:
        def work() -> CompiledPlan:
            with read_transaction(self._engine) as conn:
                return self._compile(conn, name, version)

        return await self._db_call(work)

    # ---- Orchestration API -------------------------------------------------------------------
    async def _submit(self, run: Callable[[_Step], Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests.append(_Request(run, future))
        self.wake()
        return await future

    async def create_instance(self, spec: NewInstance) -> str:
        compiled = await self._plan(spec.plan_name)
        iid = uuid.uuid4().hex
        return str(await self._submit(lambda step: self._create(step, spec, compiled, iid)))

    async def activate_instance(
        self, instance_id: str, *, time_ms: int, projected_end_time_ms: int = 0
    ) -> None:
        def run(step: _Step) -> None:
            live = self._live(step, instance_id)
            live.row = replace(
                live.row,
                start_time=time_ms,
                projected_end_time=projected_end_time_ms or live.row.projected_end_time,
            )
            self._feed(
                step,
                instance_id,
                Activate(time_ms=time_ms, id=f"activate:{instance_id}"),
                "schedule",
            )
            live = self._live(step, instance_id)
            self._register(step, live, prepared=False)
            self._publish(step, live)

        await self._submit(run)

    async def apply(self, instance_id: str, verb: Input) -> VerbResult:
        def run(step: _Step) -> VerbResult:
            actor = str(getattr(verb, "actor", "") or "operator")
            self._feed(step, instance_id, verb, actor)
            changed = dict.fromkeys(step.jobs_changed.get(instance_id, ()))
            return VerbResult(instance_id, tuple(changed))

        result: VerbResult = await self._submit(run)
        return result

    async def end_instance(
        self, instance_id: str, *, actor: str, time_ms: int, kill_running_jobs: bool = True
    ) -> None:
        def run(step: _Step) -> None:
            self._live(step, instance_id)
            if kill_running_jobs:
                self._feed(step, instance_id, KillRunningJobs(actor, time_ms, id="end:kill"), actor)
            self._feed(
                step,
                instance_id,
                End(time_ms, actor, id=f"end:{instance_id}"),
                actor,
                kill_running_jobs=kill_running_jobs,
            )

        await self._submit(run)

    async def drop_prepared(self, instance_id: str) -> None:
        def run(step: _Step) -> None:
            live = self._live(step, instance_id)
            if not live.state.prepared:
                raise FailedPrecondition(f"instance {instance_id} is not PREPARED")
            self._coordinate(step, UnregisterInstance(instance_id), "drop")
            step.forget.add(instance_id)

        await self._submit(run)

    async def kill_job(
        self,
        instance_id: str,
        job_identifier: str,
        child_context_name: str,
        *,
        destroy: bool,
        actor: str,
    ) -> VerbResult:
        def run(step: _Step) -> VerbResult:
            live = self._live(step, instance_id)
            js = live.state.jobs.get((job_identifier, child_context_name))
            if js is None:
                raise NotFound(f"job {job_identifier!r} in child context {child_context_name!r}")
            if js.status not in _RUNNING or js.initiation is None:
                raise FailedPrecondition(
                    f"cannot kill job {job_identifier} in child context {child_context_name}:"
                    f" it is {js.status}"
                )
            init = js.initiation
            k = KillJob(
                init.initiation_id, init.agent_name, job_identifier, child_context_name, js.pid
            )
            now = self._clock()
            step.outbox.append(
                out.kill(
                    k, instance_id, now, destroy=destroy, user=actor, reason=f"killed by {actor}"
                )
            )
            # the engine marks it killed (and audits); the agent's event will set ERROR
            self._feed(
                step,
                instance_id,
                MarkKilled(
                    job_identifier,
                    child_context_name,
                    actor,
                    now,
                    id="verb:kill" + (":destroy" if destroy else ""),
                ),
                actor,
            )
            return VerbResult(instance_id, ((job_identifier, child_context_name),))

        result: VerbResult = await self._submit(run)
        return result

    async def raise_global_event(
        self,
        job_name: str,
        *,
        environment_group: str,
        ignore_environment_group: bool,
        actor: str,
        time_ms: int,
    ) -> list[str]:
        def run(step: _Step) -> list[str]:
            ev = GlobalEvent(
                "",
                environment_group,
                job_name,
                "",
                False,
                ignore_environment_group,
                f"global:{uuid.uuid4().hex[:12]}",
                time_ms=time_ms,
            )
            reached = self._coordinate(step, ev, actor)
            return reached

        result: list[str] = await self._submit(run)
        return result

    async def plan_provisioned(self, plan_name: str) -> None:
        compiled = await self._plan(plan_name)

        def run(step: _Step) -> None:
            now = self._clock()
            for agent in compiled.agents:
                step.outbox.append(
                    out.as_row(agent, out.provision(compiled.proto, compiled.version, agent, now))
                )

        await self._submit(run)

    async def plan_removed(self, plan_name: str) -> None:
        agents = sorted(
            {a for (n, _), c in self._plans.items() if n == plan_name for a in c.agents}
        )

        def run(step: _Step) -> None:
            now = self._clock()
            for agent in agents:
                step.outbox.append(out.as_row(agent, out.remove_plan(plan_name, now)))

        await self._submit(run)

    def events_that_can_run(
        self, instance_id: str, job_identifier: str, child_context_name: str
    ) -> Sequence[RaiseInitiation]:
        live = self._lives.get(instance_id)
        if live is None:
            raise NotFound(f"instance {instance_id!r} is not live")
        jdef = live.compiled.plan.jobs.get(job_identifier)
        if jdef is None:
            raise NotFound(f"job {job_identifier!r}")
        ev = ProcessEvent(
            id="query",
            agent_name=jdef.agent_name,
            job_name=jdef.job_name,
            job_identifier=job_identifier,
            child_context_names=(child_context_name,),
            successful=True,
            time_ms=self._clock(),
        )
        return live.compiled.machine.events_that_can_run(live.state, ev)

    def live_instance_ids(self, plan_name: str | None = None) -> list[str]:
        return sorted(
            iid
            for iid, live in self._lives.items()
            if not live.state.prepared
            and not live.state.ended
            and (plan_name is None or live.state.plan_name == plan_name)
        )

    # ---- extras (read-only views for services and tests) -------------------------------------
    def instance_state(self, instance_id: str) -> InstanceState | None:
        live = self._lives.get(instance_id)
        return live.state if live is not None else None

    @property
    def coordinator_state(self) -> CoordinatorState:
        return self._coord

    @property
    def dead_letters(self) -> DeadLetterJournal:
        return self._dead

    async def sync_agent(self, agent_name: str) -> int:
        """Queue a (re)connecting agent's provisioning and its live instances in its outbox;
        returns how many messages were queued.

        The sync is a consistent cut of the outbox: its rows are built inside a step and
        committed in that batch's transaction, from the states as of that batch. An
        activation committed earlier is both before the sync in the outbox and in it; one
        committed later comes after it. (Built outside the batch, a snapshot taken before an
        activation's commit but written after it made the agent drop that instance.)"""

        def load() -> list[CompiledPlan]:
            with read_transaction(self._engine) as conn:
                return [self._compile(conn, n) for n in plans.plans_on_agent(conn, agent_name)]

        loaded = await self._db_call(load)

        def run(step: _Step) -> int:
            now = self._clock()
            rows = [
                out.as_row(agent_name, out.provision(c.proto, c.version, agent_name, now))
                for c in loaded
            ]
            acts = [
                out.activation(
                    live.state,
                    live.compiled.plan,
                    agent_name,
                    start_time=live.row.start_time,
                    projected_end_time=live.row.projected_end_time,
                    timezone=live.row.timezone,
                )
                for live in self._visible_lives(step)
                if agent_name in live.compiled.agents
            ]
            rows.append(out.as_row(agent_name, out.sync(acts, now)))
            step.outbox.extend(rows)
            return len(rows)

        queued: int = await self._submit(run)
        return queued

    def _visible_lives(self, step: _Step) -> list[_Live]:
        """Every live, non-PREPARED instance as this step sees it (committed, in flight, and
        changed earlier in the batch being built)."""
        ids: set[str] = set(self._lives)
        if self._inflight is not None:
            ids.update(self._inflight.lives)
        ids.update(self._batch.lives)
        ids.update(step.lives)
        found: list[_Live] = []
        for iid in sorted(ids):
            live = step.lives.get(iid) or self._base_live(iid)
            if live is not None and not live.state.prepared and not live.state.ended:
                found.append(live)
        return found

    # ---- the consumer --------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            if self._inflight is None and not self._done_keys:
                await self._wake.wait()
            self._wake.clear()  # before the peek: anything later wakes the next round
            flying = self._inflight
            # pipelining: while batch N commits, build N+1 on top of N's (uncommitted) states;
            # N+1 is committed only after N, and dropped (its work redone) if N fails
            after: int | None = None
            if flying is not None:
                if not flying.pipelinable:
                    await self._settle()
                    continue
                after = flying.last_key
            items = await self._jcall(lambda a=after: self._take(a))  # type: ignore[misc]
            reqs: list[_Request] = []
            while self._requests and len(reqs) < self._settings.batch_max:
                reqs.append(self._requests.popleft())
            if not items and not reqs:
                if flying is not None:
                    assert flying.commit is not None
                    if not flying.commit.done():
                        # whichever first: N's commit, or new work to build on top of N
                        woken = asyncio.ensure_future(self._wake.wait())
                        either: list[asyncio.Future[Any]] = [flying.commit, woken]
                        await asyncio.wait(either, return_when="FIRST_COMPLETED")
                        woken.cancel()
                        if not flying.commit.done():
                            continue
                    await self._settle()
                    continue
                if self._stopping:
                    await self._jcall(lambda: self._take(None))  # the last batch's removals
                    return
                continue
            began = time.perf_counter()
            try:
                batch = await self._build(items, reqs)
            except Exception:  # only the dedupe read can fail here
                log.exception("orchestrator batch could not be built")
                self._requests.extendleft(reversed(reqs))
                await asyncio.sleep(self._settings.retry_backoff)
                continue
            finally:
                self._batch = _Batch()
            batch.began = began
            batch.reqs = reqs
            if self._inflight is not None:
                if not await self._settle(batch):
                    continue  # N failed: N+1 was built on states that never were
                # let the senders woken by N queue their outbox claims before N+1's commit
                await asyncio.sleep(0)
            batch.commit = asyncio.get_running_loop().run_in_executor(
                self._db,
                lambda b=batch: self._commit(b),  # type: ignore[misc]
            )
            self._inflight = batch

    def _discard(self, *batches: _Batch | None) -> None:
        """Put the unanswered requests of dropped batches back in front, in their order."""
        again = [
            r
            for b in batches
            if b is not None
            for r in b.reqs
            if r.future is None or not r.future.done()
        ]
        self._requests.extendleft(reversed(again))

    async def _settle(self, built: _Batch | None = None) -> bool:
        """Wait for the in-flight batch's commit and apply its outcome; True if committed.
        `built`: the batch built on top of it, dropped (its requests redone) if it failed."""
        batch = self._inflight
        assert batch is not None and batch.commit is not None
        try:
            await batch.commit
        except _DuplicateSeen:
            # rolled back: redo the same work with the processed-ids check
            self._inflight = None
            self._verify_ids = True
            self.duplicate_redos += 1
            self._job_rows.clear()
            self._discard(batch, built)
            self._wake.set()  # redo at once
            return False
        except Exception as exc:  # the commit failed: nothing was applied
            self._inflight = None
            log.exception("orchestrator batch failed")
            self._job_rows.clear()  # may hold rows of the rolled-back batch
            for req in batch.reqs:
                if req.future is not None and not req.future.done():
                    req.future.set_exception(exc)
            self._discard(built)
            await asyncio.sleep(self._settings.retry_backoff)
            self._wake.set()  # its journal items are still there: retry them
            return False
        self._inflight = None
        self._after_commit(batch)
        self.batches += 1
        self.events_processed += len(batch.processed)
        if self._observe is not None:
            self._observe(time.perf_counter() - batch.began, len(batch.processed))
        for listener in self._commit_listeners:
            listener()
        self._done_keys = batch.done_keys
        for future, refusal in batch.refusals:
            if not future.done():
                future.set_exception(refusal)
        if batch.poison:
            self._wake.set()  # a failed item is retried with the next batch, now
        for item, reason in batch.poison:
            moved = await self._jcall(lambda i=item, r=reason: self._guard.failed(i, r))  # type: ignore[misc]
            if moved:
                log.error("inbox item %d moved to the dead letters: %s", item.key, reason)
        return True

    def _take(self, after: int | None) -> list[JournalItem]:
        """Journal thread: remove what the last commit covered, then peek the next batch
        (one hop instead of two; a crash before the removal only replays processed ids).
        `after`: the in-flight batch's last key (its items are still in the journal)."""
        if self._done_keys:
            self._inbox.remove(self._done_keys)
            self._done_keys = []
        return self._inbox.peek(self._settings.batch_max, after)

    async def _build(self, items: list[JournalItem], reqs: list[_Request]) -> _Batch:
        """Apply a batch's inputs in memory (nothing is answered or written yet)."""
        batch = _Batch()
        self._batch = batch
        if items:
            batch.last_key = items[-1].key
        decoded: list[tuple[JournalItem, str, agent_pb2.AgentMessage]] = []
        poison = batch.poison
        for item in items:
            try:
                agent, raw = decode_inbox_entry(item.value)
                decoded.append((item, agent, agent_pb2.AgentMessage.FromString(raw)))
            except Exception as exc:
                poison.append((item, f"undecodable: {exc!r}"))
        ids = [m.id for _, _, m in decoded]
        seen: set[str] = set()
        flying = self._inflight
        if flying is not None:
            seen.update(i for i in ids if i in flying.processed_set)
        # Optimistic dedupe: only while replays are likely (after start, after a duplicate)
        # is the DB asked first; otherwise the commit's insert of processed ids detects a
        # duplicate and the batch is redone with the check (_DuplicateSeen).
        checked = bool(ids) and self._verify_ids
        if checked:

            def already() -> frozenset[str]:
                with read_transaction(self._engine) as conn:
                    return msg_store.processed_among(conn, ids)

            seen.update(await self._db_call(already))
            self._batch = batch
            self._verify_ids = bool(seen)
        for item, agent, message in decoded:
            if message.id in seen:
                batch.done_keys.append(item.key)  # a replay: changes nothing
                continue
            try:
                self._run_step(batch, lambda step, a=agent, m=message: self._on_message(step, a, m))  # type: ignore[misc]
            except Exception as exc:
                log.warning("agent message %s from %s failed: %r", message.id, agent, exc)
                poison.append((item, repr(exc)))
                continue
            seen.add(message.id)
            batch.processed.append(message.id)
            batch.done_keys.append(item.key)
        batch.processed_set = frozenset(batch.processed)
        for req in reqs:
            try:
                result = self._run_step(batch, req.run)
            except Exception as exc:
                if req.future is not None:
                    batch.refusals.append((req.future, exc))  # answered once N is settled
                continue
            if req.future is not None:
                batch.answers.append((req.future, result))
        # a failed item stays in the journal: the next batch must start from the oldest key
        batch.pipelinable = not poison
        return batch

    def _run_step(self, batch: _Batch, fn: Callable[[_Step], T]) -> T:
        step = _Step()
        self._batch = batch
        result = fn(step)
        # merge
        batch.lives.update(step.lives)
        if step.coord is not None:
            batch.coord = step.coord
        batch.audits.extend(step.audits)
        batch.outbox.extend(step.outbox)
        batch.retries.extend(step.retries)
        batch.ended |= step.ended
        batch.forget |= step.forget
        batch.facts.update(step.facts)
        batch.acks.update(step.acks)
        return result

    # ---- step helpers --------------------------------------------------------------------------
    def _live(self, step: _Step, instance_id: str) -> _Live:
        found = step.lives.get(instance_id)
        if found is not None:
            return found
        # copies: the batch's and the committed records change only when a step succeeds
        base = self._base_live(instance_id)
        if base is None:
            raise NotFound(f"instance {instance_id!r} is not live")
        found = _Live(base.state, base.compiled, base.row, dict(base.retries))
        step.lives[instance_id] = found
        return found

    def _base_live(self, instance_id: str) -> _Live | None:
        """An instance as the batch being built sees it: its own change, else the in-flight
        batch's (ended or dropped there: gone), else the committed one."""
        batch = self._batch
        found = batch.lives.get(instance_id)
        if found is not None or instance_id in batch.forget:
            return found
        flying = self._inflight
        if flying is not None:
            if instance_id in flying.forget or instance_id in flying.ended:
                return None
            found = flying.lives.get(instance_id)
            if found is not None:
                return found
        return self._lives.get(instance_id)

    def _coord_state(self, step: _Step) -> CoordinatorState:
        if step.coord is not None:
            return step.coord
        if self._batch.coord is not None:
            return self._batch.coord
        flying = self._inflight
        if flying is not None and flying.coord is not None:
            return flying.coord
        return self._coord

    def _create(self, step: _Step, spec: NewInstance, compiled: CompiledPlan, iid: str) -> str:
        plan = compiled.plan
        now = self._clock()
        state = compiled.machine.new_instance(
            iid, parameters=spec.parameters, prepared=spec.prepared
        )
        row = InstanceRow(
            id=iid,
            plan_name=plan.name,
            plan_version=compiled.version,
            status=state.status.value,
            created_time=now,
            updated_time=now,
            start_time=spec.start_time_ms,
            projected_end_time=spec.projected_end_time_ms,
            timezone=compiled.proto.timezone or "UTC",
            created_by=spec.created_by,
            reset_from=spec.reset_from_instance_id,
            environment_group=plan.flags.environment_group,
            quartz_disabled=state.quartz_disabled,
        )
        live = _Live(state, compiled, row)
        step.lives[iid] = live
        self._batch.new_ids.add(iid)
        step.audits.append(
            AuditEntry(
                now,
                iid,
                plan.name,
                "",
                state.status.value,
                "",
                plan.name,
                "create",
                spec.created_by,
                "instance created",
            )
        )
        self._register(step, live, prepared=spec.prepared)
        if not spec.prepared:
            self._publish(step, live)
            if spec.hold_command_jobs:
                from ikasched_dashboard.engine.inputs import HoldAll

                self._feed(
                    step,
                    iid,
                    HoldAll(plan.root, spec.created_by, now, id="create:hold"),
                    spec.created_by,
                )
        return iid

    def _register(self, step: _Step, live: _Live, *, prepared: bool) -> None:
        plan = live.compiled.plan
        self._coordinate(
            step,
            RegisterInstance(
                LiveInstance(
                    live.state.instance_id,
                    plan.flags.environment_group,
                    plan.global_job_names,
                    prepared,
                )
            ),
            "register",
        )

    def _publish(self, step: _Step, live: _Live) -> None:
        now = self._clock()
        for agent in live.compiled.agents:
            act = out.activation(
                live.state,
                live.compiled.plan,
                agent,
                start_time=live.row.start_time,
                projected_end_time=live.row.projected_end_time,
                timezone=live.row.timezone,
            )
            step.outbox.append(out.activate(act, agent, now))

    def _coordinate(self, step: _Step, item: Any, actor: str) -> list[str]:
        state, outputs = self._coordinator.apply(self._coord_state(step), item)
        step.coord = state
        reached: list[str] = []
        for o in outputs:
            if isinstance(o, Delivery):
                reached.append(o.instance_id)
                self._feed(step, o.instance_id, o.event, "engine")
            elif isinstance(o, (LockGranted, LockQueued)):
                self._feed(step, o.instance_id, o, "engine")
        return reached

    def _feed(
        self,
        step: _Step,
        instance_id: str,
        first: Input,
        actor: str,
        *,
        kill_running_jobs: bool = True,
    ) -> None:
        """Apply an input and everything it causes (coordinator, completion ends)."""
        live = self._live(step, instance_id)
        machine = live.compiled.machine
        old = live.state
        new, effects = machine.apply(old, first)
        live.state = new
        now = self._clock()
        plan_name = old.plan_name
        rc = first.return_code if isinstance(first, ProcessEvent) else None
        if isinstance(first, RetryDue):
            live.retries.pop((first.job_identifier, first.child_context_name), None)
        changed = step.jobs_changed.setdefault(instance_id, [])
        status_changed = False
        for e in effects:
            if isinstance(e, JobStatusChanged):
                changed.append((e.job_identifier, e.child_context_name))
                status_changed = True
                step.audits.append(
                    AuditEntry(
                        e.time_ms or now,
                        instance_id,
                        plan_name,
                        e.previous.value,
                        e.status.value,
                        e.job_identifier,
                        e.child_context_name,
                        e.cause,
                        actor,
                    )
                )
                fkey = (instance_id, e.job_identifier, e.child_context_name)
                start, end, code = (
                    step.facts.get(fkey) or self._batch.facts.get(fkey) or (0, 0, None)
                )
                t = e.time_ms or now
                if e.status in _RUNNING:
                    start, end = t, 0
                elif e.status in _FINISHED:
                    end = t
                    if rc is not None and isinstance(first, ProcessEvent):
                        code = rc
                step.facts[fkey] = (start, end, code)
            elif isinstance(e, ContextStatusChanged):
                step.audits.append(
                    AuditEntry(
                        e.time_ms or now,
                        instance_id,
                        plan_name,
                        e.previous.value,
                        e.status.value,
                        "",
                        e.context_name,
                        e.cause,
                        actor,
                    )
                )
            elif isinstance(e, Audit):
                if isinstance(first, AcknowledgeError) and e.job_identifier:
                    step.acks[(instance_id, e.job_identifier, e.child_context_name)] = (
                        first.message,
                        first.ticket_id,
                        e.actor or actor,
                        e.time_ms or now,
                    )
                step.audits.append(
                    AuditEntry(
                        e.time_ms or now,
                        instance_id,
                        plan_name,
                        "",
                        "",
                        e.job_identifier,
                        e.child_context_name,
                        e.cause,
                        e.actor or actor,
                        f"{e.action} {e.detail}".strip(),
                    )
                )
            elif isinstance(e, RaiseInitiation):
                step.outbox.append(out.initiation(e, now))
            elif isinstance(e, CancelInitiation):
                step.outbox.append(out.cancel(e, instance_id, now))
            elif isinstance(e, KillJob):
                step.outbox.append(out.kill(e, instance_id, now, user=actor))
            elif isinstance(e, (LockRequest, LockRelease, GlobalEvent)):
                self._coordinate(step, e, actor)
            elif isinstance(e, ScheduleRetry):
                due = (first.time_ms or now) + e.delay_seconds * 1000
                live.retries[(e.job_identifier, e.child_context_name)] = (e.attempt, due)
                step.retries.append((instance_id, e, due))
            elif isinstance(e, InstanceComplete) and e.end_instance and not live.state.ended:
                self._feed(
                    step,
                    instance_id,
                    End(first.time_ms or now, "engine", id=f"complete:{instance_id}"),
                    "engine",
                )
        if isinstance(first, ProcessEvent) and not status_changed:
            self._repeat_run_facts(step, instance_id, first, old, new, now)
        live = self._live(step, instance_id)
        if live.state.ended and not old.ended:
            live.retries.clear()
            step.ended.add(instance_id)
            self._coordinate(step, UnregisterInstance(instance_id), actor)
            for agent in live.compiled.agents:
                step.outbox.append(
                    out.remove(instance_id, agent, now, kill_running_jobs=kill_running_jobs)
                )

    def _repeat_run_facts(
        self,
        step: _Step,
        instance_id: str,
        ev: ProcessEvent,
        old: InstanceState,
        new: InstanceState,
        now: int,
    ) -> None:
        """A repeat run of a COMPLETE job changes no status, so its start, end and return code
        come from the event itself (rare: only repeatable jobs and late duplicates get here)."""
        ident = ev.job_identifier or f"{ev.agent_name}-{ev.job_name}"
        t = ev.time_ms or now
        for key, js in new.jobs.items():
            if key[0] != ident or old.jobs.get(key) is js:
                continue
            fkey = (instance_id, key[0], key[1])
            start, end, code = step.facts.get(fkey) or self._batch.facts.get(fkey) or (0, 0, None)
            if ev.job_starting:
                start, end = t, 0
            else:
                end, code = t, ev.return_code
            step.facts[fkey] = (start, end, code)

    def _on_message(self, step: _Step, agent: str, message: agent_pb2.AgentMessage) -> None:
        kind = message.WhichOneof("body")
        if kind != "process_event":
            step.audits.append(
                AuditEntry(
                    self._clock(),
                    message.alert.context_instance_id,
                    "",
                    "",
                    "",
                    message.alert.job_identifier,
                    "",
                    message.id,
                    f"agent:{agent}",
                    f"{kind}: {message.alert.message}"[:500],
                )
            )
            return
        pe = message.process_event
        iid = pe.context_instance_id
        why = ""
        live = step.lives.get(iid) or self._base_live(iid)
        if pe.agent_name != agent:
            why = f"event names agent {pe.agent_name!r} but came over {agent!r}'s link"
        elif live is None:
            why = "unknown instance"
        elif live.state.ended:
            why = "instance ENDED"
        ev = event_from_proto(pe)
        if not why and live is not None and not ev.job_starting and not ev.successful:
            ident = live.compiled.plan.resolve_identifier(
                ev.job_identifier, ev.agent_name, ev.job_name
            )
            parked = [
                init
                for (j, _c), init in live.state.held_initiations.items()
                if j == ident and init.initiation_id == ev.initiation_id
            ]
            if parked and ev.outcome == CANCELLED_OUTCOME:
                why = "cancel confirmed for a held job"
        if why:
            self.dropped.append((message.id, why))
            del self.dropped[:-1000]
            log.info("process event %s from %s dropped: %s", message.id, agent, why)
            step.audits.append(
                AuditEntry(
                    self._clock(),
                    iid,
                    pe.context_name,
                    "",
                    "",
                    pe.job_identifier,
                    "",
                    pe.id,
                    f"agent:{agent}",
                    f"event dropped: {why}",
                )
            )
            return
        self._feed(step, iid, ev, f"agent:{agent}")

    # ---- commit --------------------------------------------------------------------------------
    def _snapshot(self, live: _Live) -> bytes:
        return self._snapshots.text(live.state, live.retries)

    def _commit(self, batch: _Batch) -> None:
        now = self._clock()
        new_rows: list[InstanceRow] = []
        upd_rows: list[tuple[InstanceRow, bytes]] = []
        new_jobs: list[JobInstanceRow] = []
        upd_jobs: list[JobInstanceRow] = []
        snaps: list[tuple[str, bytes]] = []  # new instances only
        with write_transaction(self._engine) as conn:
            wanted = len(set(batch.processed))
            if msg_store.record_processed(conn, batch.processed, now) != wanted:
                raise _DuplicateSeen()
            for iid, live in batch.lives.items():
                if iid in batch.forget:
                    continue
                state = live.state
                status = state.status
                row = replace(
                    live.row,
                    status=status.value,
                    updated_time=now,
                    end_time=live.row.end_time or (now if status in _INSTANCE_DONE else 0),
                    run_until_manually_ended=state.run_until_manually_ended,
                    dry_run=state.dry_run,
                    quartz_disabled=state.quartz_disabled,
                )
                live.row = row
                plan = live.compiled.plan
                if iid in batch.new_ids:
                    new_rows.append(row)
                    snaps.append((iid, self._snapshot(live)))
                    cache: dict[tuple[str, str], JobInstanceRow] = {}
                    for (ident, ctx), js in state.jobs.items():
                        jr = self._job_row(iid, plan, ident, ctx, js, None, batch)
                        cache[(ctx, ident)] = jr
                        new_jobs.append(jr)
                    self._job_rows[iid] = cache
                else:
                    upd_rows.append((row, self._snapshot(live)))
                    base = self._lives[iid].state
                    cache = self._job_rows.get(iid) or self._load_jobs(conn, iid)
                    for key, js in state.jobs.items():
                        if base.jobs.get(key) is js:
                            continue
                        ident, ctx = key
                        jr = self._job_row(
                            iid, plan, ident, ctx, js, cache.get((ctx, ident)), batch
                        )
                        cache[(ctx, ident)] = jr
                        upd_jobs.append(jr)
            instances.insert_instances(conn, new_rows)
            instances.insert_job_instances(conn, new_jobs)
            writes.update_instances_and_snapshots(conn, upd_rows)
            writes.update_job_states(conn, upd_jobs)
            instances.write_snapshots(conn, snaps)
            forget = [i for i in batch.forget if i not in batch.new_ids]
            if forget:
                instances.delete_instances(conn, forget)
            changes.append_audit(conn, batch.audits)
            if batch.coord is not None and batch.coord is not self._coord:
                locks.save_lock_state(
                    conn,
                    json.dumps(
                        coordinator_to_snapshot(batch.coord), separators=(",", ":")
                    ).encode(),
                    now,
                )
            msg_store.insert_outbox(conn, batch.outbox)

    def _load_jobs(self, conn: Connection, iid: str) -> dict[tuple[str, str], JobInstanceRow]:
        cache = {
            (r.child_context, r.job_identifier): r for r in instances.jobs_of_instance(conn, iid)
        }
        self._job_rows[iid] = cache
        return cache

    def _job_row(
        self,
        iid: str,
        plan: Plan,
        ident: str,
        ctx: str,
        js: Any,
        old: JobInstanceRow | None,
        batch: _Batch,
    ) -> JobInstanceRow:
        init = js.initiation
        start, end, code = batch.facts.get((iid, ident, ctx)) or (0, 0, None)
        if old is None:
            jdef = plan.jobs[ident]
            job_type, job_name, agent_name = jdef.kind.value, jdef.job_name, jdef.agent_name
            old_start = old_end = old_rc = old_attempts = 0
            old_init = ack_message = ack_ticket = ack_user = reason = ""
            ack_time = 0
        else:
            job_type, job_name, agent_name = old.job_type, old.job_name, old.agent_name
            old_start, old_end, old_rc = old.start_time, old.end_time, old.return_code
            old_attempts, old_init = old.attempts, old.initiation_id
            ack_message, ack_ticket = old.error_ack_message, old.error_ack_ticket
            ack_user, ack_time, reason = old.error_ack_user, old.error_ack_time, old.status_reason
        ack = batch.acks.get((iid, ident, ctx))
        if ack is not None:
            ack_message, ack_ticket, ack_user, ack_time = ack
        elif not js.error_acknowledged:
            ack_message = ack_ticket = ack_user = ""
            ack_time = 0
        # keywords, not dataclasses.replace: this runs for every changed job of every batch
        return JobInstanceRow(
            instance_id=iid,
            child_context=ctx,
            job_identifier=ident,
            job_type=job_type,
            status=js.status.value,
            job_name=job_name,
            agent_name=agent_name,
            held=js.held,
            skip=js.skip,
            initiation_raised=js.raised,
            killed=js.killed,
            pid=js.pid,
            return_code=old_rc if code is None else code,
            start_time=start or old_start,
            end_time=end if start or end else old_end,
            # runs started in this instance: a new start time is one more run
            attempts=old_attempts + 1 if start and start != old_start else old_attempts,
            initiation_id=init.initiation_id if init is not None else old_init,
            error_acknowledged=js.error_acknowledged,
            error_ack_message=ack_message,
            error_ack_ticket=ack_ticket,
            error_ack_user=ack_user,
            error_ack_time=ack_time,
            status_reason=reason,
        )

    def _after_commit(self, batch: _Batch) -> None:
        for iid, live in batch.lives.items():
            if iid in batch.forget or iid in batch.ended:
                self._lives.pop(iid, None)
                self._job_rows.pop(iid, None)
                self._snapshots.forget(iid)
                for tkey in [k for k in self._timers if k[0] == iid]:
                    self._timers.pop(tkey).cancel()
            else:
                self._lives[iid] = live
        if batch.coord is not None:
            self._coord = batch.coord
        now = self._clock()
        for iid, r, due in batch.retries:
            if iid in self._lives:
                self._arm(iid, (r.job_identifier, r.child_context_name), r.attempt, due, now)
        agents = sorted({m.agent_name for m in batch.outbox})
        if agents:
            self._notify(agents)
        for future, result in batch.answers:
            if not future.done():
                future.set_result(result)

    def _arm(self, iid: str, key: JobKey, attempt: int, due: int, now: int) -> None:
        loop = asyncio.get_running_loop()
        tkey = (iid, key, attempt)
        if tkey in self._timers:
            return

        def fire() -> None:
            self._timers.pop(tkey, None)
            ev = RetryDue(key[0], key[1], attempt, self._clock(), id=f"retry:{key[0]}:{attempt}")

            def run(step: _Step) -> None:
                live = self._live(step, iid)
                if key in live.retries:
                    self._feed(step, iid, ev, "engine")

            self._requests.append(_Request(run, None))
            self.wake()

        self._timers[tkey] = loop.call_later(max(0.0, (due - now) / 1000), fire)

    async def idle(self) -> None:
        """Wait until queued work is done (tests)."""
        while self._requests or self._wake.is_set() or self._inflight is not None:
            await asyncio.sleep(0.005)
