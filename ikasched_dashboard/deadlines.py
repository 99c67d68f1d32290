"""OVERDUE by a time of day (docs/semantics.md §15.1): an OVERDUE rule with `by: HH:MM:SS`
and a job queues one notification per live instance and day when that job has not started by
that time of the day in the instance's zone; with no job, when the instance is not complete
by then. Only instances created before the day's deadline count. The notifier runs
`check_deadlines` before each delivery round on the active dashboard; the event's key carries
the day, so a check repeated, or after a restart, queues it once per rule, instance and day."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from ikasched_dashboard.clock_queue import queue_once
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store.schema import instances, job_instances

__all__ = ["check_deadlines", "deadline_ms"]

_NOT_LIVE = ("COMPLETE", "ENDED", "PREPARED")


def deadline_ms(now: int, zone: str, by: str) -> tuple[str, int]:
    """(the local date, the epoch ms of `by` on it) for `now` in `zone`."""
    tz = ZoneInfo(zone or "UTC")
    local = datetime.fromtimestamp(now / 1000, UTC).astimezone(tz)
    hh, mm, ss = (int(p) for p in by.split(":"))
    at = datetime.combine(local.date(), time(hh, mm, ss), tzinfo=tz)
    return local.date().isoformat(), int(at.timestamp() * 1000)


def check_deadlines(conn: Connection, now: int) -> int:
    """Queue the OVERDUE-by-a-time notifications now due; how many rows were queued."""
    rules = [r for r in store.list_rules(conn) if "OVERDUE" in r.kinds and r.deadline]
    if not rules:
        return 0
    i = instances.c
    live = conn.execute(
        select(i.id, i.plan_name, i.status, i.timezone, i.created_time).where(
            i.status.not_in(_NOT_LIVE)
        )
    ).all()
    queued = 0
    for rule in rules:
        for row in live:
            if rule.plan_name and rule.plan_name != row.plan_name:
                continue
            try:
                day, due = deadline_ms(now, row.timezone, rule.deadline)
            except (KeyError, ValueError):  # an unknown zone: no local day to tell
                continue
            if now < due or int(row.created_time) >= due:
                continue
            event = _event(conn, rule, row, day, due, now)
            if event is not None:
                queued += queue_once(conn, [event], now, [rule])
    return queued


def _event(
    conn: Connection, rule: store.Rule, row: object, day: str, due: int, now: int
) -> store.NotificationEvent | None:
    m = row._mapping  # type: ignore[attr-defined]
    zone = m["timezone"] or "UTC"
    base = {
        "kind": "OVERDUE",
        "plan_name": m["plan_name"],
        "instance_id": m["id"],
        "time": now,
        "occurrence": f"by:{day}",
    }
    if not rule.job_identifier:
        return store.NotificationEvent(
            status=m["status"],
            reason=f"instance not complete by {rule.deadline} ({zone}) on {day}",
            **base,
        )
    j = job_instances.c
    stmt = select(j.child_context, j.status, j.start_time, j.agent_name, j.attempts).where(
        j.instance_id == m["id"], j.job_identifier == rule.job_identifier
    )
    if rule.child_context:
        stmt = stmt.where(j.child_context == rule.child_context)
    job = conn.execute(stmt).first()
    if job is None or (0 < int(job.start_time) <= due):
        return None
    return store.NotificationEvent(
        status=job.status,
        job_identifier=rule.job_identifier,
        child_context=job.child_context,
        agent_name=job.agent_name,
        attempt=int(job.attempts),
        reason=f"not started by {rule.deadline} ({zone}) on {day}",
        **base,
    )
