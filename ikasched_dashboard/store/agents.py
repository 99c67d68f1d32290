"""Agents known to the dashboard and their last known presence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from ikasched_dashboard.store._sql import mapping_from_json, to_json, upsert
from ikasched_dashboard.store.schema import agents


@dataclass(frozen=True, slots=True)
class AgentPresence:
    name: str
    connected: bool = False
    last_seen: int = 0
    version: str = ""
    hostname: str = ""
    connected_since: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    # The agent process's run id (changes when the agent restarts).
    instance_id: str = ""


def save_agent(conn: Connection, presence: AgentPresence) -> None:
    """Insert or overwrite an agent's row (on connect, disconnect, or a changed hello)."""
    upsert(
        conn,
        agents,
        [
            {
                "name": presence.name,
                "connected": presence.connected,
                "last_seen": presence.last_seen,
                "version": presence.version,
                "hostname": presence.hostname,
                "connected_since": presence.connected_since,
                "labels": to_json(presence.labels),
                "instance_id": presence.instance_id,
            }
        ],
        keys=["name"],
    )


def mark_disconnected(conn: Connection, names: Sequence[str], now: int) -> None:
    """Agents whose links closed; `now` becomes their last seen time."""
    if names:
        conn.execute(
            update(agents)
            .where(agents.c.name == bindparam("b_name"))
            .values(connected=False, last_seen=now),
            [{"b_name": n} for n in names],
        )


def mark_all_disconnected(conn: Connection) -> int:
    """At dashboard start: no link survives a restart."""
    result = conn.execute(update(agents).where(agents.c.connected).values(connected=False))
    return max(result.rowcount, 0)


def touch_agents(conn: Connection, last_seen: Mapping[str, int]) -> None:
    """Bulk last-seen update (batched from heartbeats, not written per frame)."""
    if last_seen:
        conn.execute(
            update(agents)
            .where(agents.c.name == bindparam("b_name"))
            .values(last_seen=bindparam("b_seen")),
            [{"b_name": n, "b_seen": t} for n, t in last_seen.items()],
        )


def get_agent(conn: Connection, name: str) -> AgentPresence | None:
    row = conn.execute(select(agents).where(agents.c.name == name)).first()
    return None if row is None else _presence(row._mapping)


def list_agents(conn: Connection, *, connected_only: bool = False) -> list[AgentPresence]:
    stmt = select(agents).order_by(agents.c.name)
    if connected_only:
        stmt = stmt.where(agents.c.connected)
    return [_presence(r._mapping) for r in conn.execute(stmt)]


def _presence(m: Any) -> AgentPresence:
    return AgentPresence(
        name=m["name"],
        connected=bool(m["connected"]),
        last_seen=int(m["last_seen"]),
        version=m["version"],
        hostname=m["hostname"],
        connected_since=int(m["connected_since"]),
        labels=mapping_from_json(m["labels"]),
        instance_id=m["instance_id"],
    )
