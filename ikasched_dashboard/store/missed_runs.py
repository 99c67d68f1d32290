"""Window starts missed while the dashboard was down (docs/architecture.md §6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from ikasched_dashboard.store._sql import insert_ignoring_duplicates
from ikasched_dashboard.store.schema import missed_runs


@dataclass(frozen=True, slots=True)
class MissedRunRecord:
    plan_name: str
    scheduled_time: int
    detected_time: int
    reason: str = ""
    # Assigned by the store; pages continue after it.
    id: int = 0


def record_missed_runs(conn: Connection, runs: Sequence[MissedRunRecord]) -> int:
    """Record missed runs; one already recorded (same plan and scheduled time) is kept as is.
    Returns how many were new."""
    return insert_ignoring_duplicates(
        conn,
        missed_runs,
        [
            {
                "plan_name": r.plan_name,
                "scheduled_time": r.scheduled_time,
                "detected_time": r.detected_time,
                "reason": r.reason,
            }
            for r in runs
        ],
    )


def list_missed_runs(
    conn: Connection, *, plan_name: str = "", after_id: int = 0, limit: int = 100
) -> list[MissedRunRecord]:
    """Missed runs in the order they were recorded; page with `after_id`."""
    stmt = select(missed_runs).where(missed_runs.c.id > after_id)
    if plan_name:
        stmt = stmt.where(missed_runs.c.plan_name == plan_name)
    rows = conn.execute(stmt.order_by(missed_runs.c.id).limit(limit))
    return [
        MissedRunRecord(
            plan_name=r.plan_name,
            scheduled_time=int(r.scheduled_time),
            detected_time=int(r.detected_time),
            reason=r.reason,
            id=int(r.id),
        )
        for r in rows
    ]
