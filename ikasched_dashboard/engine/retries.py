"""Automatic retries of failed command jobs.

A failure of attempt n <= retry.count emits ScheduleRetry(n + 1); RetryDue re-raises the job
(ERROR -> WAITING) unless it was reset, acknowledged, killed or re-run meanwhile.
"""

from __future__ import annotations

from ikasched_dashboard.engine.effects import ScheduleRetry
from ikasched_dashboard.engine.inputs import ProcessEvent, RetryDue
from ikasched_dashboard.engine.model import JobDef, JobKind, Status
from ikasched_dashboard.engine.raising import renumbered, send
from ikasched_dashboard.engine.step import Step


def maybe_retry(w: Step, ident: str, jdef: JobDef, ev: ProcessEvent) -> None:
    command = jdef.command
    if jdef.kind is not JobKind.COMMAND or command is None or command.retry_count <= 0:
        return
    for ctx in w.plan.job_contexts.get(ident, ()):
        js = w.jobs[(ident, ctx)]
        init = js.initiation
        if init is None or js.status is not Status.ERROR or js.killed:
            continue
        if ev.initiation_id and init.initiation_id != ev.initiation_id:
            continue
        if init.attempt <= command.retry_count:
            w.effects.append(
                ScheduleRetry(
                    ident,
                    ctx,
                    init.attempt + 1,
                    command.retry_delay_seconds,
                    init.initiation_id,
                )
            )
            w.audit("retry-scheduled", key=(ident, ctx), detail=str(init.attempt + 1))
        return


def retry_due(w: Step, ev: RetryDue) -> None:
    key = (ev.job_identifier, ev.child_context_name)
    js = w.jobs.get(key)
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
        w.audit("retry-ignored", key=key, detail=str(ev.attempt))
        return
    new = renumbered(init, w.next_id(), w.time, attempt=ev.attempt)
    for ctx in new.child_context_names:
        other = (key[0], ctx)
        ojs = w.jobs.get(other)
        if other != key and ojs is not None and ojs.status is Status.ERROR:
            w.set_job(other, ojs.but(status=Status.WAITING), w.cause)
    w.set_job(key, js.but(status=Status.WAITING, raised=True), w.cause)
    w.audit("retry", key=key, detail=str(ev.attempt))
    send(w, key, new)
