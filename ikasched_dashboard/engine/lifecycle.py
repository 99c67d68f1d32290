"""Instance lifecycle: activating a PREPARED instance, ending it, resetting a job."""

from __future__ import annotations

from ikasched_common.errors import FailedPrecondition
from ikasched_dashboard.engine.inputs import ResetJob
from ikasched_dashboard.engine.locks import give_back_lock
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.engine.rollup import set_context
from ikasched_dashboard.engine.step import Step
from ikasched_dashboard.engine.verbs import occurrences, refuse

RESETTABLE = frozenset({Status.COMPLETE, Status.ERROR, Status.WAITING, Status.LOCK_QUEUED})


def activate(w: Step) -> None:
    if not w.prepared:
        raise FailedPrecondition(f"instance {w.state.instance_id} is not PREPARED")
    w.prepared = False
    for name in w.contexts:
        set_context(w, name, Status.WAITING)


def end(w: Step, actor: str) -> None:
    for key in sorted(w.pending):
        del w.pending[key]
        give_back_lock(w, key, True)
    for key in sorted(w.holding):
        give_back_lock(w, key, False)
    for name in w.plan.order:
        set_context(w, name, Status.ENDED)
    w.ended = True
    w.audit("end", actor=actor)


def reset(w: Step, ev: ResetJob) -> None:
    keys = occurrences(w, ev.job_identifier, ev.child_context_name)
    first = w.jobs[keys[0]]
    if first.status not in RESETTABLE:
        raise refuse(w, "reset", keys[0], first.status)
    for key in keys:
        if w.jobs[key].status not in RESETTABLE:
            continue
        ident, ctx = key
        cdef = w.plan.contexts[ctx]
        # parked initiations this job raised downstream are dropped; they never went out,
        # so the downstream job may be raised again
        for i in cdef.mentioned_by.get(ident, ()):
            downstream = (cdef.dependencies[i].target, ctx)
            if w.has_held(downstream):
                del w.held[downstream]
                djs = w.jobs[downstream]
                w.jobs[downstream] = djs.but(raised=False, initiation=None)
        if w.has_pending(key):
            del w.pending[key]
            give_back_lock(w, key, True)
        elif w.is_holding(key):
            give_back_lock(w, key, False)
        js = w.jobs[key]
        w.set_job(
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
            w.cause,
        )
        w.audit("reset", actor=ev.actor, key=key)
