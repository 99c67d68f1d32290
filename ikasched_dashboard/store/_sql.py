"""Small SQL helpers shared by the repositories (dialect-specific upserts, chunked IN lists)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from ikasched_common.errors import AlreadyExists

T = TypeVar("T")

# Well under SQLite's bound-parameter limit, and keeps PostgreSQL plans small.
IN_CHUNK = 500


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_COMPILED: dict[tuple[str, str], SQLCompiler] = {}


def executemany(
    conn: Connection,
    key: str,
    build: Callable[[], ClauseElement],
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
) -> CursorResult[Any]:
    """Run one statement for many rows straight through the driver's executemany.

    The hot paths write hundreds of rows per batch; SQLAlchemy's per-row parameter processing
    costs more than SQLite itself, so the statement is compiled once per dialect (cached under
    `key`) and the rows go to the driver as they are. Only for plain values that the driver
    takes directly (str, int, bool, bytes, None), and statements whose every bound value comes
    from the rows (write constants as literal_column). `columns`: an INSERT's column list.
    """
    dialect = conn.dialect
    compiled = _COMPILED.get((key, dialect.name))
    if compiled is None:
        compiled = cast(SQLCompiler, build().compile(dialect=dialect, column_keys=columns))
        _COMPILED[(key, dialect.name)] = compiled
    names = compiled.positiontup
    if names is None:
        return conn.exec_driver_sql(compiled.string, list(rows))
    if len(names) == 1:
        name = names[0]
        return conn.exec_driver_sql(compiled.string, [(row[name],) for row in rows])
    pick = itemgetter(*names)
    return conn.exec_driver_sql(compiled.string, [pick(row) for row in rows])


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
    columns = tuple(rows[0])
    result = executemany(
        conn,
        f"insert-ignore:{table.name}:{','.join(columns)}",
        lambda: _insert(conn, table).on_conflict_do_nothing(),
        rows,
        columns=columns,
    )
    # Both drivers sum an executemany's row counts; conflicting rows count 0.
    return max(result.rowcount, 0)


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
