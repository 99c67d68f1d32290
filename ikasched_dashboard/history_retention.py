"""The execution history's retention (docs/semantics.md §14.3): with `history_retention_days`
set, the dashboard purges the runs that ended more than that many days ago, at start and then
every `PURGE_INTERVAL_S`. Only rows past retention go; the time is the dashboard's clock."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from ikasched_common.clock import Clock
from ikasched_dashboard.store import history
from ikasched_dashboard.store.db import write_transaction

__all__ = ["PURGE_INTERVAL_S", "purge_past_retention", "run_retention"]

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 3600.0
DAY_MS = 86_400_000


def purge_past_retention(engine: Engine, clock: Clock, days: int) -> int:
    """Delete the runs that ended more than `days` days before now; how many went."""
    if days <= 0:
        return 0
    cutoff = clock.now_ms() - days * DAY_MS
    with write_transaction(engine) as conn:
        return history.purge_ended_before(conn, cutoff)


async def run_retention(
    engine: Engine, clock: Clock, days: int, *, interval_s: float = PURGE_INTERVAL_S
) -> None:
    """Purge now and every `interval_s` until cancelled; a failed purge is logged and retried."""
    while True:
        try:
            gone = await asyncio.to_thread(purge_past_retention, engine, clock, days)
            if gone:
                log.info("history: purged %d run(s) ended over %d day(s) ago", gone, days)
        except Exception:
            log.exception("history: purge failed; retrying in %.0f s", interval_s)
        await asyncio.sleep(interval_s)
