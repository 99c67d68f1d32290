"""ContextMachine: one plan instance's pure step function, Ikasan reference §4.

`ContextMachine(plan).apply(state, input) -> (new_state, effects)`; the same state and input
always give the same result, and `state` is never changed. A refused verb raises
FailedPrecondition / NotFound and produces no state.

Design choices (documented here because other parts depend on them):
- Virtual jobs start/terminal/local/bridging resolve inside the machine: when raised, the
  machine processes their successful self-event (agent name = the constant) in the same step,
  after the event that raised them, instead of emitting an initiation. A global job emits a
  GlobalEvent effect; its status changes only when the coordinator's fan-out delivers the
  event back (the originating instance included).
- Locks: a raised job occurrence that takes part in a lock emits LockRequest and waits in
  `lock_pending` (status unchanged). The coordinator answers LockGranted (the machine then
  emits the initiation) or LockQueued (status LOCK_QUEUED) as inputs to this machine. A
  lock-holding command job gives its locks back (LockRelease) on its first non-starting event.
  A held job is parked before any lock is asked for, and a grant that reaches a held job is
  given straight back: held jobs stay held when a lock frees (IKASAN-2694).
- Hold of a raised-but-not-started job emits CancelInitiation and parks the initiation; the
  orchestrator refuses the hold if the agent already started it. Release re-emits a parked
  initiation under a new id.
- Retry (ours): a failed command job with retry.count >= its attempt number becomes ERROR as
  usual and emits ScheduleRetry(attempt+1, delay); RetryDue then re-raises it (ERROR ->
  WAITING) unless it was reset, acknowledged, killed or re-run meanwhile.
- Initiation ids are "<instance id>:<n>" from a counter in the state: deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_dashboard.engine import logic
from ikasched_dashboard.engine.effects import (
    Audit,
    CancelInitiation,
    ContextStatusChanged,
    Effect,
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
    OUTCOME_IGNORED_DAY_OF_WEEK,
    AcknowledgeError,
    Activate,
    DisableQuartzJobs,
    EnableQuartzJobs,
    End,
    Hold,
    HoldAll,
    Input,
    KillRunningJobs,
    LockGranted,
    LockQueued,
    ManualRun,
    MarkKilled,
    Pairs,
    ProcessEvent,
    Release,
    ReleaseAll,
    ReleaseQueuedJobs,
    ResetJob,
    RetryDue,
    RunUntilManuallyEnded,
    SetDryRun,
    Skip,
    SkipAll,
    UpdateParameters,
)
from ikasched_dashboard.engine.model import (
    LOCAL_VIRTUAL_KINDS,
    MANUAL_FIRE_GROUP,
    PARKABLE_KINDS,
    QUARTZ_BASED_KINDS,
    JobDef,
    JobKind,
    Plan,
    Status,
)
from ikasched_dashboard.engine.state import InstanceState, JobKey, JobState

_HOLDABLE = frozenset({Status.WAITING, Status.RELEASED})
_RESETTABLE = frozenset({Status.COMPLETE, Status.ERROR, Status.WAITING, Status.LOCK_QUEUED})
_UNSKIPPABLE = frozenset({Status.SKIPPED, Status.SKIPPED_COMPLETE})
_NO_MANUAL_RUN = frozenset(
    {Status.RUNNING, Status.SKIPPED_RUNNING, Status.ON_HOLD, Status.LOCK_QUEUED, Status.DISABLED}
)


class ContextMachine:
    """Stateless over a compiled plan; the instance state is passed in and returned."""

    __slots__ = ("plan",)

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def new_instance(
        self, instance_id: str, *, parameters: Pairs = (), prepared: bool = False
    ) -> InstanceState:
        """Initial state: jobs WAITING (or held/skipped per the plan's defaults)."""
        plan = self.plan
        jobs: dict[JobKey, JobState] = {}
        for ctx in plan.order:
            for ident in plan.contexts[ctx].jobs:
                jdef = plan.jobs[ident]
                held = ctx in jdef.held_contexts
                jobs[(ident, ctx)] = JobState(Status.ON_HOLD if held else Status.WAITING, held=held)
        values = dict(plan.contexts[plan.root].parameters)
        values.update(parameters)
        initial = Status.PREPARED if prepared else Status.WAITING
        state = InstanceState(
            instance_id=instance_id,
            plan_name=plan.name,
            plan_version=plan.version,
            jobs=jobs,
            contexts=dict.fromkeys(plan.order, initial),
            parameters=values,
            held_initiations={},
            lock_pending={},
            lock_holding=frozenset(),
            quartz_disabled=plan.flags.quartz_jobs_disabled,
            prepared=prepared,
        )
        # template-level skip defaults use the skip verb's rule
        work = _Work(self, state, "create", 0)
        for (ident, ctx), js in jobs.items():
            if ctx in plan.jobs[ident].skipped_contexts and js.status in _HOLDABLE:
                work.skip_one((ident, ctx), "create")
        return work.finish(recompute_all=not prepared)[0]

    def apply(self, state: InstanceState, event: Input) -> tuple[InstanceState, tuple[Effect, ...]]:
        work = _Work(self, state, event.id, event.time_ms)
        recompute_all = work.dispatch(event)
        return work.finish(recompute_all=recompute_all)

    def events_that_can_run(
        self, state: InstanceState, event: ProcessEvent
    ) -> tuple[RaiseInitiation, ...]:
        """Ikasan's getEventsThatCanRun: what this event would raise if its job were satisfied.

        Read-only: nothing is marked raised, held targets are dropped, locks are ignored.
        """
        work = _Work(self, state, event.id, event.time_ms, dry=True)
        work.on_event(event, dry=True)
        return tuple(work.dry_raised)


class _Work:
    """The mutable scratch of one step; copies of the state's maps, discarded or frozen."""

    __slots__ = (
        "_held", "_holding", "_pending", "cause", "contexts", "dirty", "dry", "dry_raised",
        "dry_run", "dry_run_parameters", "effects", "ended", "jobs", "parameters", "plan",
        "prepared", "quartz_disabled", "run_until_manually_ended", "seq", "state", "time",
        "virtual",
    )  # fmt: skip

    def __init__(
        self,
        machine: ContextMachine,
        state: InstanceState,
        cause: str,
        time_ms: int,
        *,
        dry: bool = False,
    ) -> None:
        self.plan = machine.plan
        self.state = state
        self.cause = cause
        self.time = time_ms
        self.dry = dry
        self.jobs: dict[JobKey, JobState] = dict(state.jobs)
        self.contexts: dict[str, Status] = dict(state.contexts)
        self._held: dict[JobKey, RaiseInitiation] | None = None
        self._pending: dict[JobKey, RaiseInitiation] | None = None
        self._holding: set[JobKey] | None = None
        self.parameters = state.parameters
        self.quartz_disabled = state.quartz_disabled
        self.run_until_manually_ended = state.run_until_manually_ended
        self.dry_run = state.dry_run
        self.dry_run_parameters = state.dry_run_parameters
        self.prepared = state.prepared
        self.ended = state.ended
        self.seq = state.seq
        self.effects: list[Effect] = []
        self.dirty: set[str] = set()
        self.virtual: deque[ProcessEvent] = deque()
        self.dry_raised: list[RaiseInitiation] = []

    # -- copy-on-write accessors -------------------------------------------------------------

    @property
    def held(self) -> dict[JobKey, RaiseInitiation]:
        if self._held is None:
            self._held = dict(self.state.held_initiations)
        return self._held

    @property
    def pending(self) -> dict[JobKey, RaiseInitiation]:
        if self._pending is None:
            self._pending = dict(self.state.lock_pending)
        return self._pending

    @property
    def holding(self) -> set[JobKey]:
        if self._holding is None:
            self._holding = set(self.state.lock_holding)
        return self._holding

    def has_held(self, key: JobKey) -> bool:
        return key in (self._held if self._held is not None else self.state.held_initiations)

    def has_pending(self, key: JobKey) -> bool:
        return key in (self._pending if self._pending is not None else self.state.lock_pending)

    def is_holding(self, key: JobKey) -> bool:
        return key in (self._holding if self._holding is not None else self.state.lock_holding)

    def set_job(self, key: JobKey, new: JobState, cause: str) -> None:
        old = self.jobs[key]
        self.jobs[key] = new
        if old.status is not new.status:
            self.effects.append(
                JobStatusChanged(key[0], key[1], old.status, new.status, cause, self.time)
            )
            self.dirty.add(key[1])

    def audit(
        self, action: str, *, actor: str = "", key: JobKey | None = None, detail: str = ""
    ) -> None:
        ident, ctx = key if key is not None else ("", "")
        self.effects.append(Audit(action, self.cause, actor, ident, ctx, detail, self.time))

    def finish(self, *, recompute_all: bool = False) -> tuple[InstanceState, tuple[Effect, ...]]:
        self.recompute_contexts(all_contexts=recompute_all)
        s = self.state
        new = InstanceState(
            instance_id=s.instance_id,
            plan_name=s.plan_name,
            plan_version=s.plan_version,
            jobs=self.jobs,
            contexts=self.contexts,
            parameters=self.parameters,
            held_initiations=self._held if self._held is not None else s.held_initiations,
            lock_pending=self._pending if self._pending is not None else s.lock_pending,
            lock_holding=(
                frozenset(self._holding) if self._holding is not None else s.lock_holding
            ),
            quartz_disabled=self.quartz_disabled,
            run_until_manually_ended=self.run_until_manually_ended,
            dry_run=self.dry_run,
            dry_run_parameters=self.dry_run_parameters,
            prepared=self.prepared,
            ended=self.ended,
            seq=self.seq,
        )
        return new, tuple(self.effects)

    # -- dispatch ------------------------------------------------------------------------------

    def dispatch(self, event: Input) -> bool:
        """Apply one input; returns True when every context must be recomputed."""
        recompute_all = self.handle(event)
        self.drain()
        return recompute_all

    def drain(self) -> None:
        """Process the self-events of virtual jobs raised so far (they may raise more)."""
        while self.virtual:
            self.process_event(self.virtual.popleft(), dry=False)

    def handle(self, event: Input) -> bool:
        if isinstance(event, ProcessEvent):
            self.on_event(event)
            return False
        if self.ended:
            if isinstance(event, (LockGranted, LockQueued)):
                self.give_back_lock((event.job_identifier, event.child_context_name), True)
                return False
            if isinstance(event, (RetryDue, End)):
                self.audit("ignored-after-end")
                return False
            raise FailedPrecondition(f"instance {self.state.instance_id} has ended")
        if isinstance(event, Hold):
            self.hold(event)
        elif isinstance(event, Release):
            self.release(event)
        elif isinstance(event, Skip):
            self.skip(event)
        elif isinstance(event, HoldAll):
            self.bulk(event.child_context_name, "hold-all", event.actor)
        elif isinstance(event, ReleaseAll):
            self.bulk(event.child_context_name, "release-all", event.actor)
        elif isinstance(event, SkipAll):
            self.bulk(
                event.child_context_name, "skip-all" if event.skip else "unskip-all", event.actor
            )
        elif isinstance(event, ResetJob):
            self.reset(event)
            return True
        elif isinstance(event, AcknowledgeError):
            self.acknowledge(event)
        elif isinstance(event, KillRunningJobs):
            self.kill(event.actor)
        elif isinstance(event, MarkKilled):
            self.mark_killed(event)
        elif isinstance(event, DisableQuartzJobs):
            self.set_quartz(disabled=True, actor=event.actor)
        elif isinstance(event, EnableQuartzJobs):
            self.set_quartz(disabled=False, actor=event.actor)
        elif isinstance(event, RunUntilManuallyEnded):
            self.run_until_manually_ended = event.enabled
            self.audit("run-until-manually-ended", actor=event.actor, detail=str(event.enabled))
        elif isinstance(event, UpdateParameters):
            merged = dict(self.parameters)
            merged.update(event.values)
            self.parameters = merged
            self.audit(
                "update-parameters",
                actor=event.actor,
                detail=",".join(sorted(k for k, _ in event.values)),
            )
        elif isinstance(event, SetDryRun):
            self.dry_run = event.enabled
            self.dry_run_parameters = event.parameters if event.enabled else None
            self.audit("dry-run", actor=event.actor, detail=str(event.enabled))
        elif isinstance(event, ManualRun):
            self.manual_run(event)
        elif isinstance(event, ReleaseQueuedJobs):
            self.release_queued(event.actor)
        elif isinstance(event, RetryDue):
            self.retry_due(event)
        elif isinstance(event, LockGranted):
            self.lock_granted((event.job_identifier, event.child_context_name))
        elif isinstance(event, LockQueued):
            self.lock_queued((event.job_identifier, event.child_context_name))
        elif isinstance(event, Activate):
            if not self.prepared:
                raise FailedPrecondition(f"instance {self.state.instance_id} is not PREPARED")
            self.prepared = False
            for name in self.contexts:
                self.set_context(name, Status.WAITING)
            return True
        elif isinstance(event, End):
            self.end(event.actor)
        return False

    # -- process events (reference §4.1) -----------------------------------------------------

    def on_event(self, ev: ProcessEvent, *, dry: bool = False) -> None:
        if self.ended or self.prepared:
            self.audit("event-ignored", detail="instance not live")
            return
        self.process_event(ev, dry=dry)

    def process_event(self, ev: ProcessEvent, *, dry: bool) -> None:
        plan = self.plan
        ident = plan.resolve_identifier(ev.job_identifier, ev.agent_name, ev.job_name)
        if ident is None:
            self.audit("event-ignored", detail=f"unknown job {ev.agent_name}-{ev.job_name}")
            return
        jdef = plan.jobs[ident]
        if self.quartz_disabled and jdef.kind in QUARTZ_BASED_KINDS and not ev.is_manual:
            self.audit("event-ignored", key=(ident, ""), detail="quartz jobs disabled")
            return
        contexts = plan.job_contexts.get(ident, ())
        targets = frozenset(ev.child_context_names) if ev.child_context_names else None
        resubmit = ev.raised_due_to_failure_resubmission or dry
        if ev.raised_due_to_failure_resubmission and not dry:
            for ctx in contexts:
                if targets is not None and ctx not in targets:
                    continue
                status = self.jobs[(ident, ctx)].status
                if status is not Status.ERROR:
                    raise FailedPrecondition(
                        f"job {ident} in child context {ctx} is {status}: a failure "
                        "resubmission needs it in ERROR"
                    )
        if not ev.job_starting and not resubmit and jdef.kind is JobKind.COMMAND:
            for ctx in contexts:
                if self.is_holding((ident, ctx)):
                    self.give_back_lock((ident, ctx), False)
        restore: list[tuple[JobKey, JobState]] = []
        updated: list[JobKey] = []
        trco = jdef.target_residing_context_only
        for ctx in contexts:
            if trco and targets is not None and ctx not in targets:
                continue
            key = (ident, ctx)
            if targets is None or ctx in targets:
                js = self.jobs[key]
                if resubmit:
                    # COMPLETE for this evaluation only; put back below, no status change seen
                    restore.append((key, js))
                    self.jobs[key] = js.but(status=Status.COMPLETE)
                else:
                    self.update_status(key, js, ev)
                    updated.append(key)
            self.select_candidates(ident, jdef, ctx, ev, dry=dry)
        for key, js in restore:
            self.jobs[key] = js
        if not dry and not ev.job_starting and not ev.successful and not resubmit:
            self.maybe_retry(ident, jdef, ev)

    def update_status(self, key: JobKey, js: JobState, ev: ProcessEvent) -> None:
        skip = js.skip or ev.skipped
        new_status: Status
        if ev.job_starting:
            if js.status is Status.COMPLETE or js.status is Status.SKIPPED_COMPLETE:
                new_status = js.status  # a late starting event never regresses COMPLETE
            else:
                new_status = Status.SKIPPED_RUNNING if skip else Status.RUNNING
        elif ev.successful:
            ignored_day = ev.outcome == OUTCOME_IGNORED_DAY_OF_WEEK
            new_status = Status.SKIPPED_COMPLETE if skip or ignored_day else Status.COMPLETE
        else:
            new_status = Status.ERROR
        # a completion carries the pid too: the only word of it when no start was reported
        pid = ev.pid or js.pid
        self.set_job(key, js.but(status=new_status, pid=pid, last_event_id=ev.id), ev.id)

    def select_candidates(
        self, ident: str, jdef: JobDef, ctx: str, ev: ProcessEvent, *, dry: bool
    ) -> None:
        cdef = self.plan.contexts[ctx]
        dep_indexes = cdef.mentioned_by.get(ident)
        if not dep_indexes:
            return
        jobs = self.jobs
        sat = logic.satisfied_in(jobs, ctx)
        for i in dep_indexes:
            dep = cdef.dependencies[i]
            grouping = dep.grouping
            if grouping is None or not logic.evaluate(grouping, sat):
                continue
            target = dep.target
            tdef = self.plan.jobs[target]
            ts = jobs[(target, ctx)]
            kind = tdef.kind
            if kind is JobKind.COMMAND:
                fire = (
                    ts.status is Status.ON_HOLD
                    or (
                        not ts.raised
                        and ts.status is not Status.COMPLETE
                        and ts.status is not Status.ERROR
                    )
                    or (tdef.repeatable and tdef.job_name != jdef.job_name)
                )
            elif kind is JobKind.BRIDGING:
                fire = not ts.raised or (jdef.kind is JobKind.COMMAND and jdef.repeatable)
            elif kind in LOCAL_VIRTUAL_KINDS or kind is JobKind.GLOBAL:
                fire = not ts.raised
            else:
                fire = False  # time and file jobs are only ever started by their trigger
            if fire:
                self.raise_target((target, ctx), tdef, ev, dry=dry)

    def child_names_for(self, tdef: JobDef, ctx: str, ev: ProcessEvent | None) -> tuple[str, ...]:
        if tdef.target_residing_context_only and not tdef.repeatable:
            ts = self.jobs[(tdef.identifier, ctx)]
            if ts.status is Status.COMPLETE or ev is None or not ev.child_context_names:
                return (ctx,)
            return ev.child_context_names
        return self.plan.job_contexts[tdef.identifier]

    def resolve_parameters(self, tdef: JobDef, ctx: str, extra: Pairs = ()) -> Pairs:
        """Child context values (nearest first), then plan values, then the job's defaults."""
        if not tdef.parameters and not extra:
            return ()
        plan = self.plan
        chain = plan.ancestry[ctx][:-1]  # child contexts only; the root's values are instance's
        out: dict[str, str] = {}
        for p in tdef.parameters:
            value = ""
            for c in chain:
                value = plan.contexts[c].parameters.get(p.name, "")
                if value:
                    break
            if not value:
                value = self.parameters.get(p.name, "")
            out[p.name] = value or p.default_value
        out.update(extra)
        return tuple(out.items())

    def next_id(self) -> str:
        self.seq += 1
        return f"{self.state.instance_id}:{self.seq}"

    def raise_target(
        self,
        key: JobKey,
        tdef: JobDef,
        ev: ProcessEvent | None,
        *,
        dry: bool = False,
        actor: str = "",
        extra: Pairs = (),
        attempt: int = 1,
    ) -> None:
        ctx = key[1]
        ts = self.jobs[key]
        init = RaiseInitiation(
            initiation_id="" if dry else self.next_id(),
            instance_id=self.state.instance_id,
            plan_name=self.plan.name,
            job=tdef,
            child_context_name=ctx,
            child_context_names=self.child_names_for(tdef, ctx, ev),
            parameters=self.resolve_parameters(tdef, ctx, extra),
            skipped=ts.skip,
            dry_run=self.dry_run,
            dry_run_parameters=self.dry_run_parameters,
            catalyst=ev,
            attempt=attempt,
            output_parameters=ev.output_parameters if ev is not None else (),
            manually_submitted_by=actor,
            raised_time=self.time,
        )
        if dry:
            if not (ts.held and tdef.kind in PARKABLE_KINDS):
                self.dry_raised.append(init)
            return
        self.set_job(key, ts.but(raised=True, initiation=init), self.cause)
        self.send(key, init)

    def send(self, key: JobKey, init: RaiseInitiation) -> None:
        """Route a raised initiation: park it, resolve it, ask for locks, or emit it."""
        tdef = init.job
        kind = tdef.kind
        ts = self.jobs[key]
        if ts.initiation is not init:
            self.jobs[key] = ts.but(initiation=init)
        if ts.held and kind in PARKABLE_KINDS:
            self.held[key] = init
            self.audit("parked", key=key, detail=init.initiation_id)
            return
        if kind is JobKind.GLOBAL:
            self.effects.append(
                GlobalEvent(
                    origin_instance_id=self.state.instance_id,
                    environment_group=self.plan.flags.environment_group,
                    job_name=tdef.job_name,
                    job_identifier=tdef.identifier,
                    skipped=ts.skip,
                    ignore_environment_group=tdef.ignore_environment_group,
                    cause=init.initiation_id,
                    output_parameters=init.output_parameters,
                    time_ms=self.time,
                )
            )
            return
        if kind in LOCAL_VIRTUAL_KINDS:
            self.virtual.append(
                ProcessEvent(
                    id=init.initiation_id,
                    agent_name=tdef.agent_name,
                    job_name=tdef.job_name,
                    job_identifier=tdef.identifier,
                    child_context_names=init.child_context_names,
                    successful=True,
                    skipped=ts.skip,
                    output_parameters=init.output_parameters,
                    time_ms=self.time,
                    initiation_id=init.initiation_id,
                )
            )
            return
        claims = self.plan.claims_for(tdef.identifier, key[1])
        if claims:
            self.pending[key] = init
            self.effects.append(
                LockRequest(
                    self.state.instance_id,
                    self.plan.flags.environment_group,
                    tdef.identifier,
                    key[1],
                    claims,
                )
            )
            return
        self.effects.append(init)

    def maybe_retry(self, ident: str, jdef: JobDef, ev: ProcessEvent) -> None:
        command = jdef.command
        if jdef.kind is not JobKind.COMMAND or command is None or command.retry_count <= 0:
            return
        for ctx in self.plan.job_contexts.get(ident, ()):
            js = self.jobs[(ident, ctx)]
            init = js.initiation
            if init is None or js.status is not Status.ERROR or js.killed:
                continue
            if ev.initiation_id and init.initiation_id != ev.initiation_id:
                continue
            if init.attempt <= command.retry_count:
                self.effects.append(
                    ScheduleRetry(
                        ident,
                        ctx,
                        init.attempt + 1,
                        command.retry_delay_seconds,
                        init.initiation_id,
                    )
                )
                self.audit("retry-scheduled", key=(ident, ctx), detail=str(init.attempt + 1))
            return

    # -- lock answers --------------------------------------------------------------------------

    def give_back_lock(self, key: JobKey, cancel_queued: bool) -> None:
        if self.is_holding(key):
            self.holding.discard(key)
        self.effects.append(
            LockRelease(
                self.state.instance_id,
                self.plan.flags.environment_group,
                key[0],
                key[1],
                cancel_queued,
            )
        )

    def lock_granted(self, key: JobKey) -> None:
        if not self.has_pending(key):
            self.give_back_lock(key, True)  # stale grant: hand it on
            return
        init = self.pending.pop(key)
        js = self.jobs[key]
        if js.held:
            # held jobs stay held when a lock frees: park, and let the lock go to others
            self.held[key] = init
            self.give_back_lock(key, True)
            self.audit("parked", key=key, detail=init.initiation_id)
            return
        self.holding.add(key)
        if js.status is Status.LOCK_QUEUED:
            self.set_job(key, js.but(status=Status.WAITING), self.cause)
        self.effects.append(init)

    def lock_queued(self, key: JobKey) -> None:
        if not self.has_pending(key):
            self.give_back_lock(key, True)
            return
        js = self.jobs[key]
        if js.status is not Status.ON_HOLD:
            self.set_job(key, js.but(status=Status.LOCK_QUEUED), self.cause)

    # -- operator verbs (reference §4.2) -----------------------------------------------------

    def occurrences(self, ident: str, ctx: str) -> list[JobKey]:
        """The occurrence named first, then (unless target-residing-only) every other one."""
        plan = self.plan
        if ctx not in plan.contexts:
            raise NotFound(f"child context {ctx!r} not found in plan {plan.name!r}")
        if (ident, ctx) not in self.jobs:
            raise NotFound(f"job {ident!r} not found in child context {ctx!r}")
        keys = [(ident, ctx)]
        if not plan.jobs[ident].target_residing_context_only:
            keys.extend((ident, c) for c in plan.job_contexts[ident] if c != ctx)
        return keys

    def refuse(self, verb: str, key: JobKey, status: Status) -> FailedPrecondition:
        return FailedPrecondition(
            f"cannot {verb} job {key[0]} in child context {key[1]}: it is {status}"
        )

    def hold(self, ev: Hold) -> None:
        keys = self.occurrences(ev.job_identifier, ev.child_context_name)
        first = self.jobs[keys[0]]
        if first.status not in _HOLDABLE:
            raise self.refuse("hold", keys[0], first.status)
        for key in keys:
            if self.jobs[key].status in _HOLDABLE:
                self.hold_one(key, ev.actor)

    def hold_one(self, key: JobKey, actor: str) -> None:
        js = self.jobs[key]
        if self.has_pending(key):
            self.held[key] = self.pending.pop(key)
            self.give_back_lock(key, True)
        elif (
            js.raised
            and js.initiation is not None
            and js.initiation.job.kind is JobKind.COMMAND
            and not self.has_held(key)
        ):
            init = js.initiation
            self.effects.append(
                CancelInitiation(init.initiation_id, init.agent_name, key[0], key[1])
            )
            self.held[key] = init
            if self.is_holding(key):
                self.give_back_lock(key, False)
        self.set_job(key, js.but(status=Status.ON_HOLD, held=True), self.cause)
        self.audit("hold", actor=actor, key=key)

    def release(self, ev: Release) -> None:
        keys = self.occurrences(ev.job_identifier, ev.child_context_name)
        for n, key in enumerate(keys):
            if not self.release_one(key, ev.actor) and n == 0:
                raise self.refuse("release", key, self.jobs[key].status)

    def release_one(self, key: JobKey, actor: str) -> bool:
        js = self.jobs[key]
        if self.has_held(key):
            parked = self.held.pop(key)
            self.set_job(key, js.but(status=Status.WAITING, held=False), self.cause)
            init = _renumbered(parked, self.next_id(), self.time)
            self.send(key, init)
            self.audit("release", actor=actor, key=key, detail=f"re-raised {init.initiation_id}")
            return True
        if js.status is Status.RUNNING or (
            js.status is Status.COMPLETE and self.plan.jobs[key[0]].kind is JobKind.LOCAL
        ):
            return True
        if js.status in (Status.ON_HOLD, Status.WAITING):
            self.set_job(key, js.but(status=Status.WAITING, held=False), self.cause)
            self.audit("release", actor=actor, key=key)
            return True
        return False

    def skip(self, ev: Skip) -> None:
        keys = self.occurrences(ev.job_identifier, ev.child_context_name)
        allowed = _HOLDABLE if ev.skip else _UNSKIPPABLE
        first = self.jobs[keys[0]]
        if first.status not in allowed:
            raise self.refuse("skip" if ev.skip else "unskip", keys[0], first.status)
        for key in keys:
            if self.jobs[key].status in allowed:
                if ev.skip:
                    self.skip_one(key, ev.actor)
                else:
                    self.unskip_one(key, ev.actor)

    def skip_one(self, key: JobKey, actor: str) -> None:
        ident, ctx = key
        cdef = self.plan.contexts[ctx]
        raising = cdef.raised_by.get(ident, ())
        sat = logic.satisfied_in(self.jobs, ctx)
        can_run = not raising or any(
            logic.evaluate(g, sat)
            for g in (cdef.dependencies[i].grouping for i in raising)
            if g is not None
        )
        status = Status.SKIPPED_COMPLETE if can_run else Status.SKIPPED
        self.set_job(key, self.jobs[key].but(status=status, skip=True), self.cause)
        self.audit("skip", actor=actor, key=key)

    def unskip_one(self, key: JobKey, actor: str) -> None:
        self.set_job(key, self.jobs[key].but(status=Status.WAITING, skip=False), self.cause)
        self.audit("unskip", actor=actor, key=key)

    def bulk(self, child: str, verb: str, actor: str) -> None:
        """Every job under a child context; jobs driven from other contexts and jobs in other
        states are silently left alone."""
        plan = self.plan
        if child not in plan.contexts:
            raise NotFound(f"child context {child!r} not found in plan {plan.name!r}")
        for ctx in plan.subtree(child):
            cdef = plan.contexts[ctx]
            for ident in cdef.jobs:
                if ident in cdef.external_jobs:
                    continue
                key = (ident, ctx)
                status = self.jobs[key].status
                if verb == "hold-all":
                    if status in _HOLDABLE:
                        self.hold_one(key, actor)
                elif verb == "release-all":
                    if status is Status.ON_HOLD:
                        self.release_one(key, actor)
                elif plan.jobs[ident].kind in (JobKind.COMMAND, JobKind.GLOBAL):
                    if verb == "skip-all" and status in _HOLDABLE:
                        self.skip_one(key, actor)
                    elif verb == "unskip-all" and status in _UNSKIPPABLE:
                        self.unskip_one(key, actor)

    def reset(self, ev: ResetJob) -> None:
        keys = self.occurrences(ev.job_identifier, ev.child_context_name)
        first = self.jobs[keys[0]]
        if first.status not in _RESETTABLE:
            raise self.refuse("reset", keys[0], first.status)
        for key in keys:
            if self.jobs[key].status not in _RESETTABLE:
                continue
            ident, ctx = key
            cdef = self.plan.contexts[ctx]
            # parked initiations this job raised downstream are dropped; they never went out,
            # so the downstream job may be raised again
            for i in cdef.mentioned_by.get(ident, ()):
                downstream = (cdef.dependencies[i].target, ctx)
                if self.has_held(downstream):
                    del self.held[downstream]
                    djs = self.jobs[downstream]
                    self.jobs[downstream] = djs.but(raised=False, initiation=None)
            if self.has_pending(key):
                del self.pending[key]
                self.give_back_lock(key, True)
            elif self.is_holding(key):
                self.give_back_lock(key, False)
            js = self.jobs[key]
            self.set_job(
                key,
                js.but(
                    status=Status.WAITING,
                    held=False,
                    skip=False,
                    raised=False,
                    error_acknowledged=False,
                    killed=False,
                    pid=0,
                    initiation=None,
                ),
                self.cause,
            )
            self.audit("reset", actor=ev.actor, key=key)

    def acknowledge(self, ev: AcknowledgeError) -> None:
        keys = self.occurrences(ev.job_identifier, ev.child_context_name)
        first = self.jobs[keys[0]]
        if first.status is not Status.ERROR:
            raise self.refuse("acknowledge the error of", keys[0], first.status)
        for key in keys:
            js = self.jobs[key]
            if js.status is Status.ERROR and not js.error_acknowledged:
                self.jobs[key] = js.but(error_acknowledged=True)
                self.dirty.add(key[1])
                self.audit(
                    "acknowledge-error",
                    actor=ev.actor,
                    key=key,
                    detail=f"{ev.ticket_id} {ev.message}".strip(),
                )

    def kill(self, actor: str) -> None:
        sent: set[str] = set()
        for key, js in list(self.jobs.items()):
            if js.status is not Status.RUNNING:
                continue
            init = js.initiation
            init_id = init.initiation_id if init is not None else ""
            if init_id not in sent or not init_id:
                sent.add(init_id)
                self.effects.append(
                    KillJob(init_id, self.plan.jobs[key[0]].agent_name, key[0], key[1], js.pid)
                )
            self.set_job(key, js.but(status=Status.ERROR, killed=True), self.cause)
            self.audit("kill", actor=actor, key=key)

    def mark_killed(self, ev: MarkKilled) -> None:
        key = (ev.job_identifier, ev.child_context_name)
        js = self.jobs.get(key)
        if js is None:
            raise NotFound(f"job {ev.job_identifier!r} in child context {ev.child_context_name!r}")
        if js.status is not Status.RUNNING:
            raise self.refuse("kill", key, js.status)
        self.jobs[key] = js.but(killed=True)
        self.dirty.add(key[1])
        self.audit("kill", actor=ev.actor, key=key)

    def set_quartz(self, *, disabled: bool, actor: str) -> None:
        self.quartz_disabled = disabled
        old, new = (
            (Status.WAITING, Status.DISABLED) if disabled else (Status.DISABLED, Status.WAITING)
        )
        for key, js in list(self.jobs.items()):
            if js.status is old and self.plan.jobs[key[0]].kind in QUARTZ_BASED_KINDS:
                self.set_job(key, js.but(status=new), self.cause)
        self.audit("disable-quartz" if disabled else "enable-quartz", actor=actor)

    def manual_run(self, ev: ManualRun) -> None:
        key = (ev.job_identifier, ev.child_context_name)
        self.occurrences(*key)
        tdef = self.plan.jobs[key[0]]
        js = self.jobs[key]
        if tdef.kind in QUARTZ_BASED_KINDS:
            names = (key[1],) if tdef.target_residing_context_only else ()
            self.audit("manual-fire", actor=ev.actor, key=key)
            self.on_event(
                ProcessEvent(
                    id=self.next_id(),
                    agent_name=tdef.agent_name,
                    job_name=tdef.job_name,
                    job_identifier=tdef.identifier,
                    child_context_names=names,
                    successful=True,
                    job_group=MANUAL_FIRE_GROUP,
                    manual=True,
                    output_parameters=ev.parameters,
                    time_ms=self.time,
                )
            )
            return
        if js.status in _NO_MANUAL_RUN or self.has_pending(key):
            raise self.refuse("manually run", key, js.status)
        if js.status is not Status.WAITING or js.error_acknowledged or js.killed:
            self.set_job(
                key,
                js.but(status=Status.WAITING, error_acknowledged=False, killed=False),
                self.cause,
            )
        self.audit("manual-run", actor=ev.actor, key=key)
        self.raise_target(key, tdef, None, actor=ev.actor or "operator", extra=ev.parameters)

    def release_queued(self, actor: str) -> None:
        """Leave the lock queues: queued jobs go to their agents without the lock, and locks held
        by running jobs are given back (the operator's way out of a stuck lock)."""
        for key in sorted(self.pending):
            init = self.pending.pop(key)
            self.give_back_lock(key, True)
            js = self.jobs[key]
            if js.status is Status.LOCK_QUEUED:
                self.set_job(key, js.but(status=Status.WAITING), self.cause)
            self.effects.append(init)
            self.audit("release-queued", actor=actor, key=key)
        for key in sorted(self.holding):
            self.give_back_lock(key, False)
            self.audit("release-lock", actor=actor, key=key)

    def retry_due(self, ev: RetryDue) -> None:
        key = (ev.job_identifier, ev.child_context_name)
        js = self.jobs.get(key)
        init = js.initiation if js is not None else None
        if (
            js is None
            or init is None
            or js.status is not Status.ERROR
            or js.error_acknowledged
            or js.killed
            or init.attempt + 1 != ev.attempt
            or init.job.command is None
            or ev.attempt > init.job.command.retry_count + 1
        ):
            self.audit("retry-ignored", key=key, detail=str(ev.attempt))
            return
        new = _renumbered(init, self.next_id(), self.time, attempt=ev.attempt)
        for ctx in new.child_context_names:
            other = (key[0], ctx)
            ojs = self.jobs.get(other)
            if other != key and ojs is not None and ojs.status is Status.ERROR:
                self.set_job(other, ojs.but(status=Status.WAITING), self.cause)
        self.set_job(key, js.but(status=Status.WAITING, raised=True), self.cause)
        self.audit("retry", key=key, detail=str(ev.attempt))
        self.send(key, new)

    def end(self, actor: str) -> None:
        for key in sorted(self.pending):
            del self.pending[key]
            self.give_back_lock(key, True)
        for key in sorted(self.holding):
            self.give_back_lock(key, False)
        for name in self.plan.order:
            self.set_context(name, Status.ENDED)
        self.ended = True
        self.audit("end", actor=actor)

    # -- context status (reference §4.3) -------------------------------------------------------

    def set_context(self, name: str, status: Status) -> None:
        old = self.contexts[name]
        if old is not status:
            self.contexts[name] = status
            self.effects.append(ContextStatusChanged(name, old, status, self.cause, self.time))
            if name == self.plan.root and status is Status.COMPLETE:
                self.effects.append(
                    InstanceComplete(
                        self.state.instance_id,
                        self.plan.flags.end_upon_completion and not self.run_until_manually_ended,
                    )
                )

    def recompute_contexts(self, *, all_contexts: bool = False) -> None:
        if self.prepared or self.ended or self.dry:
            return
        plan = self.plan
        if all_contexts:
            affected: Iterable[str] = plan.bottom_up
        else:
            if not self.dirty:
                return
            marks: set[str] = set()
            for name in self.dirty:
                marks.update(plan.ancestry[name])
            affected = [n for n in plan.bottom_up if n in marks]
        contexts = self.contexts
        for name in affected:
            if contexts[name] is Status.ENDED:
                continue
            cdef = plan.contexts[name]
            status = logic.context_status(cdef, self.jobs, [contexts[c] for c in cdef.children])
            self.set_context(name, status)


def _renumbered(
    init: RaiseInitiation, new_id: str, time_ms: int, *, attempt: int | None = None
) -> RaiseInitiation:
    return RaiseInitiation(
        initiation_id=new_id,
        instance_id=init.instance_id,
        plan_name=init.plan_name,
        job=init.job,
        child_context_name=init.child_context_name,
        child_context_names=init.child_context_names,
        parameters=init.parameters,
        skipped=init.skipped,
        dry_run=init.dry_run,
        dry_run_parameters=init.dry_run_parameters,
        catalyst=init.catalyst,
        attempt=init.attempt if attempt is None else attempt,
        output_parameters=init.output_parameters,
        manually_submitted_by=init.manually_submitted_by,
        raised_time=time_ms,
    )
