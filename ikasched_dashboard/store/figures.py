"""Counts the dashboard's metrics read at scrape time."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from ikasched_dashboard.store.schema import instances


def instance_counts_by_status(conn: Connection) -> dict[str, int]:
    """Stored instances per status."""
    rows = conn.execute(select(instances.c.status, func.count()).group_by(instances.c.status))
    return {str(status): int(n) for status, n in rows}
