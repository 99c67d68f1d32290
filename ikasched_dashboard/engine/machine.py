"""ContextMachine: one plan instance's pure step function, docs/semantics.md §4.

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

from typing import assert_never

from ikasched_common.errors import FailedPrecondition
from ikasched_dashboard.engine import events, lifecycle, locks, retries, rollup, verbs
from ikasched_dashboard.engine.effects import Effect, RaiseInitiation
from ikasched_dashboard.engine.inputs import (
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
from ikasched_dashboard.engine.model import Plan, Status
from ikasched_dashboard.engine.state import InstanceState, JobKey, JobState
from ikasched_dashboard.engine.step import Step


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
        w = Step(plan, state, "create", 0)
        for (ident, ctx), js in jobs.items():
            if ctx in plan.jobs[ident].skipped_contexts and js.status in verbs.HOLDABLE:
                verbs.skip_one(w, (ident, ctx), "create")
        return _finish(w, recompute_all=not prepared)[0]

    def apply(self, state: InstanceState, event: Input) -> tuple[InstanceState, tuple[Effect, ...]]:
        w = Step(self.plan, state, event.id, event.time_ms)
        recompute_all = _dispatch(w, event)
        return _finish(w, recompute_all=recompute_all)

    def events_that_can_run(
        self, state: InstanceState, event: ProcessEvent
    ) -> tuple[RaiseInitiation, ...]:
        """Ikasan's getEventsThatCanRun: what this event would raise if its job were satisfied.

        Read-only: nothing is marked raised, held targets are dropped, locks are ignored.
        """
        w = Step(self.plan, state, event.id, event.time_ms, dry=True)
        events.on_event(w, event, dry=True)
        return tuple(w.dry_raised)


def _finish(w: Step, *, recompute_all: bool) -> tuple[InstanceState, tuple[Effect, ...]]:
    rollup.recompute_contexts(w, all_contexts=recompute_all)
    return w.freeze()


def _dispatch(w: Step, event: Input) -> bool:
    """Apply one input; returns True when every context must be recomputed."""
    recompute_all = _handle(w, event)
    _drain(w)
    return recompute_all


def _drain(w: Step) -> None:
    """Process the self-events of virtual jobs raised so far (they may raise more)."""
    while w.virtual:
        events.process_event(w, w.virtual.popleft(), dry=False)


def _handle(w: Step, event: Input) -> bool:
    """One input's own changes; True when it needs every context rolled up again."""
    match event:
        case ProcessEvent():
            events.on_event(w, event)
        case _ if w.ended:
            _after_end(w, event)
        case Hold():
            verbs.hold(w, event)
        case Release():
            verbs.release(w, event)
        case Skip():
            verbs.skip(w, event)
        case HoldAll():
            verbs.bulk(w, event.child_context_name, "hold-all", event.actor)
        case ReleaseAll():
            verbs.bulk(w, event.child_context_name, "release-all", event.actor)
        case SkipAll():
            verb = "skip-all" if event.skip else "unskip-all"
            verbs.bulk(w, event.child_context_name, verb, event.actor)
        case ResetJob():
            lifecycle.reset(w, event)
            return True
        case AcknowledgeError():
            verbs.acknowledge(w, event)
        case KillRunningJobs():
            verbs.kill(w, event.actor)
        case MarkKilled():
            verbs.mark_killed(w, event)
        case DisableQuartzJobs():
            verbs.set_quartz(w, disabled=True, actor=event.actor)
        case EnableQuartzJobs():
            verbs.set_quartz(w, disabled=False, actor=event.actor)
        case RunUntilManuallyEnded():
            verbs.run_until_manually_ended(w, event)
        case UpdateParameters():
            verbs.update_parameters(w, event)
        case SetDryRun():
            verbs.set_dry_run(w, event)
        case ManualRun():
            verbs.manual_run(w, event)
        case ReleaseQueuedJobs():
            locks.release_queued(w, event.actor)
        case RetryDue():
            retries.retry_due(w, event)
        case LockGranted():
            locks.lock_granted(w, (event.job_identifier, event.child_context_name))
        case LockQueued():
            locks.lock_queued(w, (event.job_identifier, event.child_context_name))
        case Activate():
            lifecycle.activate(w)
            return True
        case End():
            lifecycle.end(w, event.actor)
        case _:
            assert_never(event)
    return False


def _after_end(w: Step, event: Input) -> None:
    """An ended instance still hands on late lock answers and drops late timers and ends."""
    match event:
        case LockGranted() | LockQueued():
            locks.give_back_lock(w, (event.job_identifier, event.child_context_name), True)
        case RetryDue() | End():
            w.audit("ignored-after-end")
        case _:
            raise FailedPrecondition(f"instance {w.state.instance_id} has ended")
