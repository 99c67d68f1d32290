"""Queueing clock-driven notifications once (docs/semantics.md §15.1): a check that runs again,
or again after a restart, finds the same events; `queue_once` drops those whose
(rule, event) idempotency keys are queued already, so each is queued once per rule."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store.schema import notifications

__all__ = ["queue_once"]


def queue_once(
    conn: Connection,
    events: Sequence[store.NotificationEvent],
    now: int,
    rules: Sequence[store.Rule],
) -> int:
    """Queue each event for its matching rules that have not queued it yet; how many rows."""
    if not events or not rules:
        return 0
    keys = {f"{r.name}:{e.key}" for e in events for r in rules}
    have: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):  # bounded IN lists
        have.update(
            conn.execute(
                select(notifications.c.idempotency_key).where(
                    notifications.c.idempotency_key.in_(ordered[start : start + 500])
                )
            ).scalars()
        )
    queued = 0
    for event in events:
        fresh = [r for r in rules if f"{r.name}:{event.key}" not in have]
        queued += store.enqueue(conn, [event], now, fresh)
    return queued
