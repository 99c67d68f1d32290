"""Small SQL helpers shared by the repositories (dialect-specific upserts, chunked IN lists)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ikasched_common.errors import AlreadyExists

T = TypeVar("T")

# Well under SQLite's bound-parameter limit, and keeps PostgreSQL plans small.
IN_CHUNK = 500


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(conn: Connection, table: Table) -> Any:
    # Both dialects spell ON CONFLICT the same way, but through their own insert().
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database: {conn.dialect.name}")


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert rows, skipping any whose key (or unique index) exists; returns rows inserted."""
    if not rows:
        return 0
    # RETURNING counts the rows really inserted; executemany rowcounts vary by driver.
    stmt = _insert(conn, table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return len(conn.execute(stmt, list(rows)).all())


def upsert(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows, or overwrite the non-key columns they name when the key exists."""
    if not rows:
        return
    stmt = _insert(conn, table)
    changed = [name for name in rows[0] if name not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={name: stmt.excluded[name] for name in changed}
    )
    conn.execute(stmt, list(rows))


def insert_new(conn: Connection, table: Table, row: Mapping[str, Any], what: str) -> None:
    """Insert one row; a duplicate key becomes AlreadyExists naming `what`.

    A savepoint keeps the caller's transaction usable after the failed insert.
    """
    try:
        with conn.begin_nested():
            conn.execute(table.insert(), dict(row))
    except IntegrityError as exc:
        raise AlreadyExists(f"{what} exists already") from exc


def to_json(value: Iterable[str] | Mapping[str, str]) -> str:
    if isinstance(value, Mapping):
        return json.dumps(dict(sorted(value.items())), separators=(",", ":"))
    return json.dumps(list(value), separators=(",", ":"))


def strings_from_json(text: str) -> tuple[str, ...]:
    return tuple(str(item) for item in json.loads(text or "[]"))


def mapping_from_json(text: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(text or "{}").items()}
