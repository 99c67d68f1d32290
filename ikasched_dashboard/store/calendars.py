"""Named calendars: the canonical document of each, versioned (docs/semantics.md §13)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ikasched.v1 import plan_pb2
from ikasched_common.calendar_jobs import plan_calendars
from ikasched_common.calendars import CalendarBook, CalendarDefinition, parse_calendar
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.schema import calendars

_ALL = 1_000_000


@dataclass(frozen=True, slots=True)
class CalendarRecord:
    name: str
    version: int
    description: str
    document_json: str
    updated_time: int = 0
    updated_by: str = ""

    def definition(self) -> CalendarDefinition:
        return parse_calendar(json.loads(self.document_json))


def _record(row: Any) -> CalendarRecord:
    m = row._mapping
    return CalendarRecord(
        name=m["name"],
        version=m["version"],
        description=m["description"],
        document_json=m["document_json"],
        updated_time=m["updated_time"],
        updated_by=m["updated_by"],
    )


def get_calendar(conn: Connection, name: str) -> CalendarRecord | None:
    row = conn.execute(select(calendars).where(calendars.c.name == name)).first()
    return None if row is None else _record(row)


def list_calendars(conn: Connection) -> list[CalendarRecord]:
    return [_record(r) for r in conn.execute(select(calendars).order_by(calendars.c.name))]


def put_calendar(
    conn: Connection, definition_json: str, *, name: str, description: str, now: int, actor: str
) -> tuple[CalendarRecord, bool]:
    """Store the document; a new version only when it differs. (record, changed)."""
    current = get_calendar(conn, name)
    if current is not None and current.document_json == definition_json:
        return current, False
    values = {
        "description": description,
        "document_json": definition_json,
        "updated_time": now,
        "updated_by": actor,
    }
    if current is None:
        conn.execute(insert(calendars).values(name=name, version=1, **values))
    else:
        conn.execute(
            update(calendars)
            .where(calendars.c.name == name)
            .values(version=current.version + 1, **values)
        )
    stored = get_calendar(conn, name)
    assert stored is not None
    return stored, True


def delete_calendar(conn: Connection, name: str) -> bool:
    return conn.execute(delete(calendars).where(calendars.c.name == name)).rowcount > 0


def calendar_book(conn: Connection) -> CalendarBook:
    """Every stored calendar, with its version, as one book."""
    records = list_calendars(conn)
    return CalendarBook(
        {r.name: r.definition() for r in records}, versions={r.name: r.version for r in records}
    )


def plans_using(conn: Connection, name: str) -> list[str]:
    """Current plans whose time window or cron jobs use calendar `name`."""
    return plans_using_any(conn, {name})


def plans_using_any(conn: Connection, names: Collection[str]) -> list[str]:
    """Current plans whose time window or cron jobs use any of the calendars `names`."""
    return sorted(
        record.name
        for record in plan_store.list_plans(conn, limit=_ALL)
        if plan_calendars(plan_pb2.Context.FromString(record.plan)) & set(names)
    )
