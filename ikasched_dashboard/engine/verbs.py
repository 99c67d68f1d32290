"""Operator verbs on jobs: hold, release, skip, acknowledge, kill,
manual run, quartz on/off, parameters and dry run.

A verb names one occurrence; unless the job is target-residing-context-only it applies to every
occurrence of the job. When the named occurrence is in the wrong state the verb is refused
(FailedPrecondition) and the step is dropped.
"""

from __future__ import annotations

from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_dashboard.engine import logic
from ikasched_dashboard.engine.effects import CancelInitiation, KillJob
from ikasched_dashboard.engine.events import on_event
from ikasched_dashboard.engine.inputs import (
    AcknowledgeError,
    Hold,
    ManualRun,
    MarkKilled,
    ProcessEvent,
    Release,
    RunUntilManuallyEnded,
    SetDryRun,
    Skip,
    UpdateParameters,
)
from ikasched_dashboard.engine.locks import give_back_lock
from ikasched_dashboard.engine.model import (
    MANUAL_FIRE_GROUP,
    QUARTZ_BASED_KINDS,
    JobKind,
    Status,
)
from ikasched_dashboard.engine.raising import raise_target, renumbered, send
from ikasched_dashboard.engine.state import JobKey
from ikasched_dashboard.engine.step import Step

HOLDABLE = frozenset({Status.WAITING, Status.RELEASED})
UNSKIPPABLE = frozenset({Status.SKIPPED, Status.SKIPPED_COMPLETE})
NO_MANUAL_RUN = frozenset(
    {Status.RUNNING, Status.SKIPPED_RUNNING, Status.ON_HOLD, Status.LOCK_QUEUED, Status.DISABLED}
)


def occurrences(w: Step, ident: str, ctx: str) -> list[JobKey]:
    """The occurrence named first, then (unless target-residing-only) every other one."""
    plan = w.plan
    if ctx not in plan.contexts:
        raise NotFound(f"child context {ctx!r} not found in plan {plan.name!r}")
    if (ident, ctx) not in w.jobs:
        raise NotFound(f"job {ident!r} not found in child context {ctx!r}")
    keys = [(ident, ctx)]
    if not plan.jobs[ident].target_residing_context_only:
        keys.extend((ident, c) for c in plan.job_contexts[ident] if c != ctx)
    return keys


def refuse(w: Step, verb: str, key: JobKey, status: Status) -> FailedPrecondition:
    return FailedPrecondition(
        f"cannot {verb} job {key[0]} in child context {key[1]}: it is {status}"
    )


def hold(w: Step, ev: Hold) -> None:
    keys = occurrences(w, ev.job_identifier, ev.child_context_name)
    first = w.jobs[keys[0]]
    if first.status not in HOLDABLE:
        raise refuse(w, "hold", keys[0], first.status)
    for key in keys:
        if w.jobs[key].status in HOLDABLE:
            hold_one(w, key, ev.actor)


def hold_one(w: Step, key: JobKey, actor: str) -> None:
    js = w.jobs[key]
    if w.has_pending(key):
        w.held[key] = w.pending.pop(key)
        give_back_lock(w, key, True)
    elif (
        js.raised
        and js.initiation is not None
        and js.initiation.job.kind is JobKind.COMMAND
        and not w.has_held(key)
    ):
        init = js.initiation
        w.effects.append(CancelInitiation(init.initiation_id, init.agent_name, key[0], key[1]))
        w.held[key] = init
        if w.is_holding(key):
            give_back_lock(w, key, False)
    w.set_job(key, js.but(status=Status.ON_HOLD, held=True), w.cause)
    w.audit("hold", actor=actor, key=key)


def is_held(w: Step, key: JobKey) -> bool:
    """ON_HOLD, a parked initiation, or a hold that raced the job's start (held flag)."""
    js = w.jobs[key]
    return js.status is Status.ON_HOLD or js.held or w.has_held(key)


def release(w: Step, ev: Release) -> None:
    """The named occurrence must be held; its other occurrences are released if held."""
    keys = occurrences(w, ev.job_identifier, ev.child_context_name)
    first = keys[0]
    if not is_held(w, first):
        raise FailedPrecondition(
            f"job {first[0]} in child context {first[1]} is not held (it is {w.jobs[first].status})"
        )
    for key in keys:
        if is_held(w, key):
            release_one(w, key, ev.actor)


def release_one(w: Step, key: JobKey, actor: str) -> None:
    js = w.jobs[key]
    if w.has_held(key):
        parked = w.held.pop(key)
        w.set_job(key, js.but(status=Status.WAITING, held=False), w.cause)
        init = renumbered(parked, w.next_id(), w.time)
        send(w, key, init)
        w.audit("release", actor=actor, key=key, detail=f"re-raised {init.initiation_id}")
        return
    status = Status.WAITING if js.status is Status.ON_HOLD else js.status
    w.set_job(key, js.but(status=status, held=False), w.cause)
    w.audit("release", actor=actor, key=key)


def skip(w: Step, ev: Skip) -> None:
    keys = occurrences(w, ev.job_identifier, ev.child_context_name)
    allowed = HOLDABLE if ev.skip else UNSKIPPABLE
    first = w.jobs[keys[0]]
    if first.status not in allowed:
        raise refuse(w, "skip" if ev.skip else "unskip", keys[0], first.status)
    for key in keys:
        if w.jobs[key].status in allowed:
            if ev.skip:
                skip_one(w, key, ev.actor)
            else:
                unskip_one(w, key, ev.actor)


def skip_one(w: Step, key: JobKey, actor: str) -> None:
    ident, ctx = key
    cdef = w.plan.contexts[ctx]
    raising = cdef.raised_by.get(ident, ())
    sat = logic.satisfied_in(w.jobs, ctx)
    can_run = not raising or any(
        logic.evaluate(g, sat)
        for g in (cdef.dependencies[i].grouping for i in raising)
        if g is not None
    )
    status = Status.SKIPPED_COMPLETE if can_run else Status.SKIPPED
    w.set_job(key, w.jobs[key].but(status=status, skip=True), w.cause)
    w.audit("skip", actor=actor, key=key)


def unskip_one(w: Step, key: JobKey, actor: str) -> None:
    w.set_job(key, w.jobs[key].but(status=Status.WAITING, skip=False), w.cause)
    w.audit("unskip", actor=actor, key=key)


def bulk(w: Step, child: str, verb: str, actor: str) -> None:
    """Every job under a child context; jobs driven from other contexts and jobs in other
    states are silently left alone."""
    plan = w.plan
    if child not in plan.contexts:
        raise NotFound(f"child context {child!r} not found in plan {plan.name!r}")
    for ctx in plan.subtree(child):
        cdef = plan.contexts[ctx]
        for ident in cdef.jobs:
            if ident in cdef.external_jobs:
                continue
            key = (ident, ctx)
            status = w.jobs[key].status
            if verb == "hold-all":
                if status in HOLDABLE:
                    hold_one(w, key, actor)
            elif verb == "release-all":
                if is_held(w, key):
                    release_one(w, key, actor)
            elif plan.jobs[ident].kind in (JobKind.COMMAND, JobKind.GLOBAL):
                if verb == "skip-all" and status in HOLDABLE:
                    skip_one(w, key, actor)
                elif verb == "unskip-all" and status in UNSKIPPABLE:
                    unskip_one(w, key, actor)


def acknowledge(w: Step, ev: AcknowledgeError) -> None:
    keys = occurrences(w, ev.job_identifier, ev.child_context_name)
    first = w.jobs[keys[0]]
    if first.status is not Status.ERROR:
        raise refuse(w, "acknowledge the error of", keys[0], first.status)
    for key in keys:
        js = w.jobs[key]
        if js.status is Status.ERROR and not js.error_acknowledged:
            w.jobs[key] = js.but(error_acknowledged=True)
            w.dirty.add(key[1])
            w.audit(
                "acknowledge-error",
                actor=ev.actor,
                key=key,
                detail=f"ticket {ev.ticket_id}: {ev.message}" if ev.ticket_id else ev.message,
            )


def kill(w: Step, actor: str) -> None:
    sent: set[str] = set()
    for key, js in list(w.jobs.items()):
        if js.status is not Status.RUNNING:
            continue
        init = js.initiation
        init_id = init.initiation_id if init is not None else ""
        if init_id not in sent or not init_id:
            sent.add(init_id)
            w.effects.append(
                KillJob(init_id, w.plan.jobs[key[0]].agent_name, key[0], key[1], js.pid)
            )
        w.set_job(key, js.but(status=Status.ERROR, killed=True), w.cause)
        w.audit("kill", actor=actor, key=key)


def mark_killed(w: Step, ev: MarkKilled) -> None:
    key = (ev.job_identifier, ev.child_context_name)
    js = w.jobs.get(key)
    if js is None:
        raise NotFound(f"job {ev.job_identifier!r} in child context {ev.child_context_name!r}")
    if js.status is not Status.RUNNING:
        raise refuse(w, "kill", key, js.status)
    w.jobs[key] = js.but(killed=True)
    w.dirty.add(key[1])
    w.audit("kill", actor=ev.actor, key=key)


def set_quartz(w: Step, *, disabled: bool, actor: str) -> None:
    w.quartz_disabled = disabled
    old, new = (Status.WAITING, Status.DISABLED) if disabled else (Status.DISABLED, Status.WAITING)
    for key, js in list(w.jobs.items()):
        if js.status is old and w.plan.jobs[key[0]].kind in QUARTZ_BASED_KINDS:
            w.set_job(key, js.but(status=new), w.cause)
    w.audit("disable-quartz" if disabled else "enable-quartz", actor=actor)


def manual_run(w: Step, ev: ManualRun) -> None:
    key = (ev.job_identifier, ev.child_context_name)
    occurrences(w, *key)
    tdef = w.plan.jobs[key[0]]
    js = w.jobs[key]
    if tdef.kind in QUARTZ_BASED_KINDS:
        names = (key[1],) if tdef.target_residing_context_only else ()
        w.audit("manual-fire", actor=ev.actor, key=key)
        on_event(
            w,
            ProcessEvent(
                id=w.next_id(),
                agent_name=tdef.agent_name,
                job_name=tdef.job_name,
                job_identifier=tdef.identifier,
                child_context_names=names,
                successful=True,
                job_group=MANUAL_FIRE_GROUP,
                manual=True,
                output_parameters=ev.parameters,
                time_ms=w.time,
            ),
        )
        return
    if js.status in NO_MANUAL_RUN or w.has_pending(key):
        raise refuse(w, "manually run", key, js.status)
    if js.status is not Status.WAITING or js.error_acknowledged or js.killed:
        w.set_job(
            key,
            js.but(status=Status.WAITING, error_acknowledged=False, killed=False),
            w.cause,
        )
    w.audit("manual-run", actor=ev.actor, key=key)
    raise_target(w, key, tdef, None, actor=ev.actor or "operator", extra=ev.parameters)


def run_until_manually_ended(w: Step, ev: RunUntilManuallyEnded) -> None:
    w.run_until_manually_ended = ev.enabled
    w.audit("run-until-manually-ended", actor=ev.actor, detail=str(ev.enabled))


def update_parameters(w: Step, ev: UpdateParameters) -> None:
    merged = dict(w.parameters)
    merged.update(ev.values)
    w.parameters = merged
    w.audit(
        "update-parameters",
        actor=ev.actor,
        detail=",".join(sorted(k for k, _ in ev.values)),
    )


def set_dry_run(w: Step, ev: SetDryRun) -> None:
    w.dry_run = ev.enabled
    w.dry_run_parameters = ev.parameters if ev.enabled else None
    w.audit("dry-run", actor=ev.actor, detail=str(ev.enabled))
