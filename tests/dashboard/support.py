"""Test helpers that look at the orchestrator from outside its API."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from ikasched_dashboard.orchestrator import Orchestrator
from ikasched_dashboard.store import changes
from ikasched_dashboard.store.db import read_transaction

_DROPPED = "event dropped: "
_REFUSED = "event refused: "


async def orchestrator_idle(orch: Orchestrator) -> None:
    """Wait until the orchestrator's queued work is done: no request queued, no wake-up
    pending, no commit in flight (reads its consumer's internals: a test hook)."""
    pipeline = orch._pipeline
    while pipeline.requests or pipeline._wake.is_set() or pipeline.inflight is not None:
        await asyncio.sleep(0.005)


def dropped_events(engine: Engine) -> list[tuple[str, str]]:
    """(process event id, why) of every dropped process event, from the audit trail."""
    with read_transaction(engine) as conn:
        return [
            (c.entry.cause, c.entry.detail.removeprefix(_DROPPED))
            for c in changes.changes_after(conn, 0, limit=10**6)
            if c.entry.detail.startswith(_DROPPED)
        ]


def refused_events(engine: Engine) -> list[tuple[str, str]]:
    """(process event id, what was tried and why) of every refused process event."""
    with read_transaction(engine) as conn:
        return [
            (c.entry.cause, c.entry.detail.removeprefix(_REFUSED))
            for c in changes.changes_after(conn, 0, limit=10**6)
            if c.entry.detail.startswith(_REFUSED)
        ]
