"""Context status roll-up: a context's status from its jobs and children.

Only contexts under a changed job are recomputed, bottom-up; the root turning COMPLETE tells
the orchestrator the instance is complete.
"""

from __future__ import annotations

from collections.abc import Iterable

from ikasched_dashboard.engine import logic
from ikasched_dashboard.engine.effects import ContextStatusChanged, InstanceComplete
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.engine.step import Step


def set_context(w: Step, name: str, status: Status) -> None:
    old = w.contexts[name]
    if old is not status:
        w.contexts[name] = status
        w.effects.append(ContextStatusChanged(name, old, status, w.cause, w.time))
        if name == w.plan.root and status is Status.COMPLETE:
            w.effects.append(
                InstanceComplete(
                    w.state.instance_id,
                    w.plan.flags.end_upon_completion and not w.run_until_manually_ended,
                )
            )


def recompute_contexts(w: Step, *, all_contexts: bool = False) -> None:
    if w.prepared or w.ended or w.dry:
        return
    plan = w.plan
    if all_contexts:
        affected: Iterable[str] = plan.bottom_up
    else:
        if not w.dirty:
            return
        marks: set[str] = set()
        for name in w.dirty:
            marks.update(plan.ancestry[name])
        affected = [n for n in plan.bottom_up if n in marks]
    contexts = w.contexts
    for name in affected:
        if contexts[name] is Status.ENDED:
            continue
        cdef = plan.contexts[name]
        status = logic.context_status(cdef, w.jobs, [contexts[c] for c in cdef.children])
        set_context(w, name, status)
