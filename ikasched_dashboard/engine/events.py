"""Process events: a job started, ended or fired.

The event sets the status of the job's occurrences, then every dependency that mentions the job
is evaluated and the targets whose logic now holds are raised.
"""

from __future__ import annotations

from ikasched_common.errors import FailedPrecondition
from ikasched_dashboard.engine import logic
from ikasched_dashboard.engine.inputs import OUTCOME_IGNORED_DAY_OF_WEEK, ProcessEvent
from ikasched_dashboard.engine.locks import give_back_lock
from ikasched_dashboard.engine.model import (
    LOCAL_VIRTUAL_KINDS,
    QUARTZ_BASED_KINDS,
    JobDef,
    JobKind,
    Status,
)
from ikasched_dashboard.engine.raising import raise_target
from ikasched_dashboard.engine.retries import maybe_retry
from ikasched_dashboard.engine.state import JobKey, JobState
from ikasched_dashboard.engine.step import Step


def on_event(w: Step, ev: ProcessEvent, *, dry: bool = False) -> None:
    if w.ended or w.prepared:
        w.audit("event-ignored", detail="instance not live")
        return
    process_event(w, ev, dry=dry)


def process_event(w: Step, ev: ProcessEvent, *, dry: bool) -> None:
    plan = w.plan
    ident = plan.resolve_identifier(ev.job_identifier, ev.agent_name, ev.job_name)
    if ident is None:
        w.audit("event-ignored", detail=f"unknown job {ev.agent_name}-{ev.job_name}")
        return
    jdef = plan.jobs[ident]
    if w.quartz_disabled and jdef.kind in QUARTZ_BASED_KINDS and not ev.is_manual:
        w.audit("event-ignored", key=(ident, ""), detail="quartz jobs disabled")
        return
    contexts = plan.job_contexts.get(ident, ())
    targets = frozenset(ev.child_context_names) if ev.child_context_names else None
    resubmit = ev.raised_due_to_failure_resubmission or dry
    if ev.raised_due_to_failure_resubmission and not dry:
        for ctx in contexts:
            if targets is not None and ctx not in targets:
                continue
            status = w.jobs[(ident, ctx)].status
            if status is not Status.ERROR:
                raise FailedPrecondition(
                    f"job {ident} in child context {ctx} is {status}: a failure "
                    "resubmission needs it in ERROR"
                )
    if not ev.job_starting and not resubmit and jdef.kind is JobKind.COMMAND:
        for ctx in contexts:
            if w.is_holding((ident, ctx)):
                give_back_lock(w, (ident, ctx), False)
    restore: list[tuple[JobKey, JobState]] = []
    updated: list[JobKey] = []
    trco = jdef.target_residing_context_only
    for ctx in contexts:
        if trco and targets is not None and ctx not in targets:
            continue
        key = (ident, ctx)
        if targets is None or ctx in targets:
            js = w.jobs[key]
            if resubmit:
                # COMPLETE for this evaluation only; put back below, no status change seen
                restore.append((key, js))
                w.jobs[key] = js.but(status=Status.COMPLETE)
            else:
                update_status(w, key, js, ev)
                updated.append(key)
        select_candidates(w, ident, jdef, ctx, ev, dry=dry)
    for key, js in restore:
        w.jobs[key] = js
    if not dry and not ev.job_starting and not ev.successful and not resubmit:
        maybe_retry(w, ident, jdef, ev)


def update_status(w: Step, key: JobKey, js: JobState, ev: ProcessEvent) -> None:
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
    w.set_job(key, js.but(status=new_status, pid=pid, last_event_id=ev.id), ev.id)


def select_candidates(
    w: Step, ident: str, jdef: JobDef, ctx: str, ev: ProcessEvent, *, dry: bool
) -> None:
    cdef = w.plan.contexts[ctx]
    dep_indexes = cdef.mentioned_by.get(ident)
    if not dep_indexes:
        return
    jobs = w.jobs
    sat = logic.satisfied_in(jobs, ctx)
    for i in dep_indexes:
        dep = cdef.dependencies[i]
        grouping = dep.grouping
        if grouping is None or not logic.evaluate(grouping, sat):
            continue
        target = dep.target
        tdef = w.plan.jobs[target]
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
            raise_target(w, (target, ctx), tdef, ev, dry=dry)
