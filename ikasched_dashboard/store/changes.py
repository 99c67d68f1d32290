"""The audit trail: one row per transition, doubling as the change log that watches resume.

A watcher that has seen position N reads "after N" and must never miss a row, so positions
must follow commit order: appends are serialized until commit. SQLite's single writer does
that by itself (use `db.write_transaction`, which takes the write lock at BEGIN); on
PostgreSQL `append_audit` first takes a transaction-scoped advisory lock, held until the
caller commits. Under that lock the next positions are simply max + 1, max + 2, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, func, select, text

from ikasched_dashboard.store._sql import executemany
from ikasched_dashboard.store.schema import audit

# Arbitrary constant naming the change-log lock among the database's advisory locks.
CHANGE_LOG_LOCK_KEY = 0x1CA5C4ED


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One transition. For a context (or whole-instance) change job_identifier is empty and
    child_context names the context."""

    time: int
    instance_id: str
    plan_name: str
    from_status: str
    to_status: str
    job_identifier: str = ""
    child_context: str = ""
    # Process event id, "verb:<name>", a timer, ...
    cause: str = ""
    # "agent:<name>", an operator's name, or "engine".
    actor: str = ""
    detail: str = ""
    # What the row records (AUDIT_KINDS); "" = told from the other columns when appended.
    kind: str = ""


#: The kinds of audit row: a job's status change, a context's (or the instance's), an operator
#: verb without a status change, an error acknowledgement, an agent's alert, a process event
#: that could not apply, a missed window start, and any other note of a decision.
AUDIT_KINDS = ("job", "context", "verb", "ack", "alert", "event-dropped", "missed-run", "note")


def audit_kind(e: AuditEntry) -> str:
    """The kind of an entry, from its columns (migration 0003 fills old rows the same way)."""
    if e.kind:
        return e.kind
    if e.to_status:
        return "job" if e.job_identifier else "context"
    if e.cause == "missed-run":
        return "missed-run"
    if e.detail.startswith("acknowledge-error"):
        return "ack"
    if e.detail.startswith("event dropped:"):
        return "event-dropped"
    if e.actor.startswith("agent:"):
        return "alert"
    if e.cause.startswith("verb:"):
        return "verb"
    return "note"


@dataclass(frozen=True, slots=True)
class Change:
    """An audit row read back, with its position in the change log."""

    position: int
    entry: AuditEntry


_FIELDS = tuple(f.name for f in fields(AuditEntry))
_COLUMNS = ("position", *_FIELDS)


def append_audit(conn: Connection, entries: Sequence[AuditEntry]) -> list[int]:
    """Append entries in order; returns their positions (strictly increasing)."""
    if not entries:
        return []
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOG_LOCK_KEY})
    # Positions are given here, under that lock (or SQLite's write lock), not by the
    # database: consecutive, and no RETURNING round trip on the hot path.
    first = last_position(conn) + 1
    positions = list(range(first, first + len(entries)))
    rows = [
        {"position": p, **{name: getattr(e, name) for name in _FIELDS}, "kind": audit_kind(e)}
        for p, e in zip(positions, entries, strict=True)
    ]
    executemany(conn, "append_audit", audit.insert, rows, columns=_COLUMNS)
    return positions


def changes_after(
    conn: Connection,
    position: int,
    *,
    plan_name: str = "",
    instance_id: str = "",
    limit: int = 1000,
) -> list[Change]:
    """Changes with a position above `position`, oldest first, optionally for one plan or
    instance."""
    stmt = select(audit).where(audit.c.position > position)
    if plan_name:
        stmt = stmt.where(audit.c.plan_name == plan_name)
    if instance_id:
        stmt = stmt.where(audit.c.instance_id == instance_id)
    stmt = stmt.order_by(audit.c.position).limit(limit)
    return [_change(row._mapping) for row in conn.execute(stmt)]


def last_position(conn: Connection) -> int:
    """The newest position (0 for an empty log): where a watch that wants only news starts."""
    return int(conn.execute(select(func.coalesce(func.max(audit.c.position), 0))).scalar_one())


def _change(m: Any) -> Change:
    return Change(position=int(m["position"]), entry=AuditEntry(**{n: m[n] for n in _FIELDS}))
