"""Locks on the machine's side: giving them back, and the coordinator's answers.

A raised occurrence that takes part in a lock waits in `lock_pending` until the coordinator
answers LockGranted (its initiation goes out) or LockQueued (status LOCK_QUEUED). A grant that
reaches a held job is given straight back, so held jobs stay held when a lock frees
(IKASAN-2694).
"""

from __future__ import annotations

from ikasched_dashboard.engine.effects import LockRelease
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.engine.state import JobKey
from ikasched_dashboard.engine.step import Step


def give_back_lock(w: Step, key: JobKey, cancel_queued: bool) -> None:
    if w.is_holding(key):
        w.holding.discard(key)
    w.effects.append(
        LockRelease(
            w.state.instance_id,
            w.plan.flags.environment_group,
            key[0],
            key[1],
            cancel_queued,
        )
    )


def lock_granted(w: Step, key: JobKey) -> None:
    if not w.has_pending(key):
        give_back_lock(w, key, True)  # stale grant: hand it on
        return
    init = w.pending.pop(key)
    js = w.jobs[key]
    if js.held:
        # held jobs stay held when a lock frees: park, and let the lock go to others
        w.held[key] = init
        give_back_lock(w, key, True)
        w.audit("parked", key=key, detail=init.initiation_id)
        return
    w.holding.add(key)
    if js.status is Status.LOCK_QUEUED:
        w.set_job(key, js.but(status=Status.WAITING), w.cause)
    w.effects.append(init)


def lock_queued(w: Step, key: JobKey) -> None:
    if not w.has_pending(key):
        give_back_lock(w, key, True)
        return
    js = w.jobs[key]
    if js.status is not Status.ON_HOLD:
        w.set_job(key, js.but(status=Status.LOCK_QUEUED), w.cause)


def release_queued(w: Step, actor: str) -> None:
    """Leave the lock queues: queued jobs go to their agents without the lock, and locks held
    by running jobs are given back (the operator's way out of a stuck lock)."""
    for key in sorted(w.pending):
        init = w.pending.pop(key)
        give_back_lock(w, key, True)
        js = w.jobs[key]
        if js.status is Status.LOCK_QUEUED:
            w.set_job(key, js.but(status=Status.WAITING), w.cause)
        w.effects.append(init)
        w.audit("release-queued", actor=actor, key=key)
    for key in sorted(w.holding):
        give_back_lock(w, key, False)
        w.audit("release-lock", actor=actor, key=key)
