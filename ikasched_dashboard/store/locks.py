"""The lock coordinator's state: one row, an opaque snapshot written by its single owner."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from ikasched_dashboard.store._sql import upsert
from ikasched_dashboard.store.schema import lock_state

_ROW_ID = 1


@dataclass(frozen=True, slots=True)
class LockState:
    snapshot: bytes
    # Counts saves; lets a reader tell two snapshots apart.
    version: int
    updated_time: int


def save_lock_state(conn: Connection, snapshot: bytes, now: int) -> int:
    """Replace the coordinator's snapshot; returns its new version."""
    current = load_lock_state(conn)
    version = (current.version if current else 0) + 1
    upsert(
        conn,
        lock_state,
        [{"id": _ROW_ID, "snapshot": snapshot, "version": version, "updated_time": now}],
        keys=["id"],
    )
    return version


def load_lock_state(conn: Connection) -> LockState | None:
    row = conn.execute(select(lock_state).where(lock_state.c.id == _ROW_ID)).first()
    if row is None:
        return None
    return LockState(bytes(row.snapshot), int(row.version), int(row.updated_time))
