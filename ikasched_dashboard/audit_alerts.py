"""Notifications from audit rows nobody would otherwise see (docs/semantics.md §15.1):

- OVERDUE: a file job's file not arrived by its SLA cron (the agent's ALERT_OVERDUE alert);
- MISSED_RUN: a time window start missed while no dashboard ran (the lifecycle's note);
- AGENT_LOST: an agent lost with jobs on it (one row per RUNNING job of the agent).

The notifier runs `check_audit_alerts` before each delivery round on the active dashboard. It
reads the audit rows after its cursor (at first: the rows of the last `LOOKBACK_MS`), and each
row is one event whose key carries the row's position, so a row is queued once per rule
however often it is read, restarts included (clock_queue.queue_once)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from ikasched_dashboard.clock_queue import queue_once
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store.schema import audit

__all__ = ["AUDIT_KINDS", "LOOKBACK_MS", "AuditCursor", "check_audit_alerts"]

AUDIT_KINDS = ("OVERDUE", "MISSED_RUN", "AGENT_LOST")
LOOKBACK_MS = 24 * 3600 * 1000
BATCH = 500


@dataclass(slots=True)
class AuditCursor:
    """The last audit position read (-1: not started)."""

    position: int = -1


def _event(row: object) -> store.NotificationEvent | None:
    m = row._mapping  # type: ignore[attr-defined]
    cause, actor, detail = str(m["cause"]), str(m["actor"]), str(m["detail"])
    common = {
        "plan_name": m["plan_name"],
        "instance_id": m["instance_id"],
        "time": int(m["time"]),
        "job_identifier": m["job_identifier"],
        "child_context": m["child_context"],
        "occurrence": f"audit:{int(m['position'])}",
    }
    if cause == "missed-run":
        return store.NotificationEvent(kind="MISSED_RUN", status="MISSED", reason=detail, **common)
    if cause.startswith("agent:") and cause.endswith(":lost"):
        return store.NotificationEvent(
            kind="AGENT_LOST",
            status="RUNNING",
            agent_name=cause.removeprefix("agent:").removesuffix(":lost"),
            reason=detail.removeprefix("alert: "),
            **common,
        )
    if m["kind"] == "alert" and detail.startswith("alert: ALERT_OVERDUE: "):
        return store.NotificationEvent(
            kind="OVERDUE",
            status="OVERDUE",
            agent_name=actor.removeprefix("agent:"),
            reason=detail.removeprefix("alert: ALERT_OVERDUE: "),
            **common,
        )
    return None


def _start(conn: Connection, now: int) -> int:
    """The position before the first row of the look-back window."""
    first = conn.execute(
        select(func.min(audit.c.position)).where(audit.c.time >= now - LOOKBACK_MS)
    ).scalar()
    if first is not None:
        return int(first) - 1
    last = conn.execute(select(func.max(audit.c.position))).scalar()
    return int(last) if last is not None else 0


def check_audit_alerts(conn: Connection, now: int, cursor: AuditCursor) -> int:
    """Queue the audit-derived notifications not queued yet; how many rows were queued."""
    if cursor.position < 0:
        cursor.position = _start(conn, now)
    rules = [r for r in store.list_rules(conn) if set(r.kinds) & set(AUDIT_KINDS)]
    c = audit.c
    queued = 0
    while True:
        rows = conn.execute(
            select(audit)
            .where(
                c.position > cursor.position,
                or_(c.cause == "missed-run", c.cause.like("agent:%:lost"), c.kind == "alert"),
            )
            .order_by(c.position)
            .limit(BATCH)
        ).all()
        if not rows:
            return queued
        events = [e for e in map(_event, rows) if e is not None]
        queued += queue_once(conn, events, now, rules)
        cursor.position = int(rows[-1].position)
