"""The Orchestrator: owns every live instance's ContextMachine state and the coordinator, and
offers the Orchestration API (create, activate, apply, end, kill, global events, plan
provisioning, agent syncs).

Each verb is queued as a request for the consumer (pipeline.py) and answered once its batch
has committed; the work itself is a function of one step (steps.py), applied through the
effect interpreter (interpreter.py) and written by the batch's commit (commit.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ikasched.v1 import plan_pb2
from ikasched_common.calendar_jobs import cron_job_calendars, with_calendar_documents
from ikasched_common.calendars import CalendarBook
from ikasched_common.clock import SYSTEM, Clock
from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_common.journal import DeadLetterJournal, Journal, PoisonGuard
from ikasched_common.link import LinkSettings
from ikasched_dashboard.engine.coordinator import CoordinatorState
from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.inputs import (
    Input,
    ProcessEvent,
    RetryDue,
)
from ikasched_dashboard.engine.state import InstanceState
from ikasched_dashboard.interfaces import NewInstance, VerbResult
from ikasched_dashboard.orchestrator import messages as out
from ikasched_dashboard.orchestrator import verbs
from ikasched_dashboard.orchestrator.commit import UNREACHABLE, BatchCommitter
from ikasched_dashboard.orchestrator.interpreter import EffectInterpreter
from ikasched_dashboard.orchestrator.pipeline import (
    BatchObserver,
    Notify,
    Pipeline,
    PipelineSettings,
)
from ikasched_dashboard.orchestrator.plans import PlanCache
from ikasched_dashboard.orchestrator.recovery import recover
from ikasched_dashboard.orchestrator.retries import RetryTimers
from ikasched_dashboard.orchestrator.steps import (
    CompiledPlan,
    Layers,
    Request,
    ScheduledRetry,
    Step,
)
from ikasched_dashboard.store import calendars as calendar_store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.store.messages import OutboxMessage


def _utc_clock(ms: int) -> str:
    return time.strftime("%H:%M:%SZ", time.gmtime(ms / 1000))


log = logging.getLogger(__name__)


def _report_oversized(agent: str, skipped: Sequence[out.Oversized]) -> None:
    """What a sync or provisioning had to leave out: no link message could carry it."""
    for item in skipped:
        log.error(
            "not queued for agent %s: %s is %d bytes, more than one link message carries;"
            " lower its parameter or command sizes",
            agent,
            item.what,
            item.size,
        )


@dataclass(frozen=True, slots=True)
class OrchestratorSettings:
    batch_max: int = 2000
    max_attempts: int = 3  # poison: tries before the dead letters
    retry_backoff: float = 0.05  # after a failed commit
    # the largest message a link frame carries; the dashboard sets its link's limit
    max_message_bytes: int = LinkSettings().message_limit


class Orchestrator:
    """Implements interfaces.Orchestration; see the module doc."""

    def __init__(
        self,
        engine: Engine,
        inbox: Journal,
        dead_letters: Journal,
        *,
        notify: Notify | None = None,
        clock: Clock = SYSTEM,
        settings: OrchestratorSettings | None = None,
        db_executor: Executor | None = None,
    ) -> None:
        self._engine = engine
        self._dead = DeadLetterJournal(dead_letters)
        settings = settings or OrchestratorSettings()
        self._clock = clock
        self._max_message = settings.max_message_bytes
        # one DB thread shared with the outboxes (SQLite): writers never meet on the file lock,
        # whose busy handler would sleep for milliseconds
        self._own_db = db_executor is None
        self._db = db_executor or ThreadPoolExecutor(1, thread_name_prefix="orchestrator-db")
        self._jx = ThreadPoolExecutor(1, thread_name_prefix="inbox-reader")
        self._layers = Layers()
        self._plans = PlanCache()
        self._fx = EffectInterpreter(self._layers, clock)
        self._timers = RetryTimers(self._retry_due)
        self._pipeline = Pipeline(
            engine=engine,
            inbox=inbox,
            guard=PoisonGuard(inbox, self._dead, max_attempts=settings.max_attempts),
            settings=PipelineSettings(
                settings.batch_max, settings.retry_backoff, settings.max_message_bytes
            ),
            db=self._db,
            journal_thread=self._jx,
            layers=self._layers,
            on_message=self._fx.on_message,
            committer=BatchCommitter(engine, self._layers, clock),
            timers=self._timers,
            notify=notify or (lambda _names: None),
            clock=clock,
        )
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        #: instances whose snapshot could not be loaded at start (id -> why): they take no
        #: events until ended; the services show them (ContextInstance.load_error)
        self.quarantined: dict[str, str] = {}

    # ---- start / stop ------------------------------------------------------------------------
    async def start(self) -> None:
        """Rebuild machines from snapshots and the coordinator, then consume."""
        found = await self._pipeline.db_call(
            lambda: recover(self._engine, self._plans, self._layers)
        )
        self.quarantined.clear()
        self.quarantined.update(found)
        now = self._clock.now_ms()
        for iid, live in self._layers.committed.items():
            for job, retry in live.retries.items():
                self._timers.arm(ScheduledRetry(iid, job, retry.attempt, retry.due_ms), now)
        self._task = asyncio.get_running_loop().create_task(
            self._pipeline.run(), name="orchestrator"
        )
        self.ready.set()
        self.wake()

    async def stop(self) -> None:
        """Finish queued work (drain), then stop."""
        self._pipeline.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._timers.cancel_all()
        for req in self._pipeline.requests:
            if req.future is not None and not req.future.done():
                req.future.set_exception(FailedPrecondition("the dashboard is stopping"))
        self._jx.shutdown(wait=True)
        if self._own_db:
            self._db.shutdown(wait=True)

    def wake(self) -> None:
        self._pipeline.wake()

    def set_batch_observer(self, observer: BatchObserver | None) -> None:
        """Called after each committed batch (metrics)."""
        self._pipeline.observe = observer

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Called on the event loop after each committed batch (e.g. to wake watch streams)."""
        self._pipeline.commit_listeners.append(listener)

    # ---- counters (metrics, benches) ---------------------------------------------------------
    @property
    def batches(self) -> int:
        """Batches committed."""
        return self._pipeline.batches

    @property
    def duplicate_redos(self) -> int:
        """Batches redone after their commit met an already-processed message id."""
        return self._pipeline.duplicate_redos

    @property
    def events_processed(self) -> int:
        """Agent messages processed (committed)."""
        return self._pipeline.events_processed

    @property
    def events_refused(self) -> dict[str, int]:
        """Process events refused, by sending agent (committed batches)."""
        return dict(self._pipeline.events_refused)

    # ---- Orchestration API -------------------------------------------------------------------
    async def _submit(self, run: Callable[[Step], Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pipeline.requests.append(Request(run, future))
        self.wake()
        return await future

    async def _plan(self, name: str, version: int = 0) -> CompiledPlan:
        def work() -> CompiledPlan:
            with read_transaction(self._engine) as conn:
                return self._plans.compile(conn, name, version)

        return await self._pipeline.db_call(work)

    async def create_instance(self, spec: NewInstance) -> str:
        compiled = await self._plan(spec.plan_name)
        iid = spec.instance_id or uuid.uuid4().hex
        return str(await self._submit(lambda step: self._fx.create(step, spec, compiled, iid)))

    async def activate_instance(
        self, instance_id: str, *, time_ms: int, projected_end_time_ms: int = 0
    ) -> None:
        await self._submit(
            lambda step: verbs.activate(
                self._fx,
                self._layers,
                step,
                instance_id,
                time_ms=time_ms,
                projected_end_time_ms=projected_end_time_ms,
            )
        )

    async def apply(self, instance_id: str, verb: Input) -> VerbResult:
        result: VerbResult = await self._submit(
            lambda step: verbs.apply(self._fx, step, instance_id, verb)
        )
        return result

    async def end_instance(
        self, instance_id: str, *, actor: str, time_ms: int, kill_running_jobs: bool = True
    ) -> None:
        await self._submit(
            lambda step: verbs.end(
                self._fx,
                self._layers,
                step,
                instance_id,
                actor=actor,
                time_ms=time_ms,
                kill_running_jobs=kill_running_jobs,
            )
        )

    async def drop_prepared(self, instance_id: str) -> None:
        await self._submit(
            lambda step: verbs.drop_prepared(self._fx, self._layers, step, instance_id)
        )

    async def kill_job(
        self,
        instance_id: str,
        job_identifier: str,
        child_context_name: str,
        *,
        destroy: bool,
        actor: str,
    ) -> VerbResult:
        job = (job_identifier, child_context_name)
        result: VerbResult = await self._submit(
            lambda step: verbs.kill_job(
                self._fx,
                self._layers,
                step,
                instance_id,
                job,
                destroy=destroy,
                actor=actor,
                now_ms=self._clock.now_ms(),
            )
        )
        return result

    async def raise_global_event(
        self,
        job_name: str,
        *,
        environment_group: str,
        ignore_environment_group: bool,
        actor: str,
        time_ms: int,
        plans: frozenset[str] | None = None,
    ) -> list[str]:
        result: list[str] = await self._submit(
            lambda step: verbs.global_event(
                self._fx,
                step,
                job_name,
                environment_group=environment_group,
                ignore_environment_group=ignore_environment_group,
                actor=actor,
                time_ms=time_ms,
                plans=plans,
            )
        )
        return result

    async def _with_calendars(self, plan: plan_pb2.Context) -> plan_pb2.Context:
        """The plan as agents get it: cron jobs with their calendars' documents (§13.5)."""
        if not cron_job_calendars(plan):
            return plan

        def load() -> CalendarBook:
            with read_transaction(self._engine) as conn:
                return calendar_store.calendar_book(conn)

        return with_calendar_documents(plan, await self._pipeline.db_call(load))

    async def plan_provisioned(self, plan_name: str) -> None:
        compiled = await self._plan(plan_name)
        proto = await self._with_calendars(compiled.proto)

        def run(step: Step) -> None:
            now = self._clock.now_ms()
            for agent in compiled.agents:
                parts, skipped = out.provision(
                    proto, compiled.version, agent, now, self._max_message
                )
                _report_oversized(agent, skipped)
                step.outbox.extend(out.as_row(agent, m) for m in parts)

        await self._submit(run)

    async def plan_removed(self, plan_name: str) -> None:
        agents = self._plans.agents_of(plan_name)

        def run(step: Step) -> None:
            now = self._clock.now_ms()
            for agent in agents:
                step.outbox.append(out.as_row(agent, out.remove_plan(plan_name, now)))

        await self._submit(run)

    async def sync_agent(self, agent_name: str) -> int:
        """Queue a (re)connecting agent's provisioning and its live instances in its outbox;
        returns how many messages were queued.

        The sync is a consistent cut of the outbox: its rows are built inside a step and
        committed in that batch's transaction, from the states as of that batch. An
        activation committed earlier is both before the sync in the outbox and in it; one
        committed later comes after it. (Built outside the batch, a snapshot taken before an
        activation's commit but written after it made the agent drop that instance.)"""

        def load() -> list[tuple[CompiledPlan, plan_pb2.Context]]:
            with read_transaction(self._engine) as conn:
                compiled = [
                    self._plans.compile(conn, n)
                    for n in plan_store.plans_on_agent(conn, agent_name)
                ]
                book = calendar_store.calendar_book(conn)
                return [(c, with_calendar_documents(c.proto, book)) for c in compiled]

        loaded = await self._pipeline.db_call(load)

        def run(step: Step) -> int:
            now = self._clock.now_ms()
            limit = self._max_message
            sync_id = out.new_sync_id()
            rows: list[OutboxMessage] = []
            for n, (c, proto) in enumerate(loaded, start=1):
                parts, skipped = out.provision(
                    proto, c.version, agent_name, now, limit, f"{sync_id}:p{n}"
                )
                _report_oversized(agent_name, skipped)
                rows.extend(out.as_row(agent_name, m) for m in parts)
            acts = [
                out.activation(
                    live.state,
                    live.compiled.plan,
                    agent_name,
                    start_time=live.row.start_time,
                    projected_end_time=live.row.projected_end_time,
                    timezone=live.row.timezone,
                )
                for live in self._layers.visible_lives(step)
                if agent_name in live.compiled.agents
            ]
            syncs, skipped = out.sync(acts, now, limit, sync_id)
            _report_oversized(agent_name, skipped)
            rows.extend(out.as_row(agent_name, m) for m in syncs)
            # an older sync for this agent not sent yet is superseded by this one: deleted in
            # this batch's transaction, so reconnects cannot pile syncs up (§4.11)
            step.supersede.add(agent_name)
            step.outbox.extend(rows)
            return len(rows)

        queued: int = await self._submit(run)
        return queued

    async def agent_presence(self, agent_name: str, *, reachable: bool, since_ms: int) -> int:
        """An agent's link went away (`reachable` False) or came back: its running jobs get
        the status reason "agent NAME unreachable since HH:MM:SSZ" and an alert audit row,
        or lose that reason (docs/semantics.md §10). Returns how many jobs it touched."""
        reason = f"agent {agent_name}{UNREACHABLE}{_utc_clock(since_ms)}" if not reachable else ""

        def run(step: Step) -> int:
            return verbs.agent_presence(
                self._layers, step, agent_name, reason=reason, now_ms=self._clock.now_ms()
            )

        touched: int = await self._submit(run)
        return touched

    # ---- read-only views ---------------------------------------------------------------------
    def events_that_can_run(
        self, instance_id: str, job_identifier: str, child_context_name: str
    ) -> Sequence[RaiseInitiation]:
        live = self._layers.committed.get(instance_id)
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
            # no child named: the job as it completes in every context it is in
            child_context_names=(
                (child_context_name,)
                if child_context_name
                else live.compiled.plan.job_contexts.get(job_identifier, ("",))
            ),
            successful=True,
            time_ms=self._clock.now_ms(),
        )
        return live.compiled.machine.events_that_can_run(live.state, ev)

    def live_instance_ids(self, plan_name: str | None = None) -> list[str]:
        return sorted(
            iid
            for iid, live in self._layers.committed.items()
            if not live.state.prepared
            and not live.state.ended
            and (plan_name is None or live.state.plan_name == plan_name)
        )

    def instance_state(self, instance_id: str) -> InstanceState | None:
        live = self._layers.committed.get(instance_id)
        return live.state if live is not None else None

    @property
    def coordinator_state(self) -> CoordinatorState:
        return self._layers.coord

    @property
    def dead_letters(self) -> DeadLetterJournal:
        return self._dead

    # ---- retry timers ------------------------------------------------------------------------
    def _retry_due(self, retry: ScheduledRetry) -> None:
        """A timer fired: queue its RetryDue (no answer awaited)."""
        job, attempt = retry.job, retry.attempt
        ev = RetryDue(job[0], job[1], attempt, self._clock.now_ms(), id=f"retry:{job[0]}:{attempt}")

        def run(step: Step) -> None:
            live = self._layers.live(step, retry.instance_id)
            if job in live.retries:
                self._fx.feed(step, retry.instance_id, ev, "engine")

        self._pipeline.requests.append(Request(run, None))
        self.wake()
