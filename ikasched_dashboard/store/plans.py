"""Plans: every provisioned version is kept; the head row names the current one."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, delete, func, select, update

from ikasched_dashboard.store._sql import strings_from_json, to_json
from ikasched_dashboard.store.schema import plan_versions, plans


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """One version of a plan, with the plan-wide head fields."""

    name: str
    version: int
    # This version is the current one.
    current: bool
    enabled: bool
    # The plan as serialized protobuf, and as protobuf JSON text.
    plan: bytes
    plan_json: str
    plan_hash: str
    agent_names: tuple[str, ...]
    # When the plan was first provisioned / when this version was.
    created_time: int
    updated_time: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    version: int
    # No plan of this name existed (or it had been deleted).
    created: bool
    # The same plan (by hash) was already current; nothing was written.
    unchanged: bool


def save_plan_version(
    conn: Connection,
    *,
    name: str,
    plan: bytes,
    plan_json: str,
    plan_hash: str,
    agent_names: tuple[str, ...] | list[str],
    now: int,
    actor: str,
    enabled: bool = True,
) -> SaveOutcome:
    """Store a new current version unless the current one has the same hash.

    `enabled` applies to a newly created plan; a new version keeps the plan's flag.
    Versions continue after a delete, so an old instance's (name, version) stays unambiguous.
    """
    head = conn.execute(
        select(plans.c.current_version, plan_versions.c.plan_hash)
        .join(
            plan_versions,
            (plan_versions.c.name == plans.c.name)
            & (plan_versions.c.version == plans.c.current_version),
        )
        .where(plans.c.name == name)
        .with_for_update(of=plans)
    ).first()
    if head is not None and head.plan_hash == plan_hash:
        return SaveOutcome(version=head.current_version, created=False, unchanged=True)
    latest = conn.execute(
        select(func.max(plan_versions.c.version)).where(plan_versions.c.name == name)
    ).scalar()
    version = (latest or 0) + 1
    conn.execute(
        plan_versions.insert(),
        {
            "name": name,
            "version": version,
            "plan": plan,
            "plan_json": plan_json,
            "plan_hash": plan_hash,
            "agent_names": to_json(sorted(set(agent_names))),
            "created_time": now,
            "created_by": actor,
        },
    )
    if head is None:
        conn.execute(
            plans.insert(),
            {
                "name": name,
                "current_version": version,
                "enabled": enabled,
                "created_time": now,
                "updated_time": now,
                "updated_by": actor,
            },
        )
    else:
        conn.execute(
            update(plans)
            .where(plans.c.name == name)
            .values(current_version=version, updated_time=now, updated_by=actor)
        )
    return SaveOutcome(version=version, created=head is None, unchanged=False)


def _select_plans() -> Select[Any]:
    return select(
        plans.c.name,
        plan_versions.c.version,
        plans.c.current_version,
        plans.c.enabled,
        plan_versions.c.plan,
        plan_versions.c.plan_json,
        plan_versions.c.plan_hash,
        plan_versions.c.agent_names,
        plans.c.created_time,
        plan_versions.c.created_time.label("version_time"),
        plan_versions.c.created_by,
    ).join(plan_versions, plan_versions.c.name == plans.c.name)


def _record(row: Row[Any]) -> PlanRecord:
    m = row._mapping
    return PlanRecord(
        name=m["name"],
        version=m["version"],
        current=m["version"] == m["current_version"],
        enabled=bool(m["enabled"]),
        plan=bytes(m["plan"]),
        plan_json=m["plan_json"],
        plan_hash=m["plan_hash"],
        agent_names=strings_from_json(m["agent_names"]),
        created_time=m["created_time"],
        updated_time=m["version_time"],
        updated_by=m["created_by"],
    )


def get_plan(conn: Connection, name: str, version: int = 0) -> PlanRecord | None:
    """A stored plan: the current version (version 0) or a given one; None if unknown or
    deleted."""
    stmt = _select_plans().where(plans.c.name == name)
    if version:
        stmt = stmt.where(plan_versions.c.version == version)
    else:
        stmt = stmt.where(plan_versions.c.version == plans.c.current_version)
    row = conn.execute(stmt).first()
    return None if row is None else _record(row)


def list_plans(
    conn: Connection,
    *,
    name_contains: str = "",
    after_name: str = "",
    limit: int = 100,
    names: Collection[str] | None = None,
) -> list[PlanRecord]:
    """Current versions by name (of `names` only when given); page with `after_name` = the
    last name of the previous page."""
    stmt = _select_plans().where(plan_versions.c.version == plans.c.current_version)
    if names is not None:
        stmt = stmt.where(plans.c.name.in_(sorted(names)))
    if name_contains:
        stmt = stmt.where(plans.c.name.contains(name_contains, autoescape=True))
    if after_name:
        stmt = stmt.where(plans.c.name > after_name)
    rows = conn.execute(stmt.order_by(plans.c.name).limit(limit))
    return [_record(row) for row in rows]


def plan_version_numbers(conn: Connection, name: str) -> list[int]:
    """Every stored version of a plan, oldest first (deleted plans included)."""
    rows = conn.execute(
        select(plan_versions.c.version)
        .where(plan_versions.c.name == name)
        .order_by(plan_versions.c.version)
    )
    return [int(v) for v in rows.scalars()]


AGENTS_INDEX = "ix_plan_versions_name_version_agent_names"  # schema.py, migration 0008


def plans_on_agent(conn: Connection, agent_name: str) -> list[str]:
    """Names of plans whose current version has jobs on the agent."""
    # the SQL filter finds the candidates without parsing every version's JSON (an agent's
    # hello with 10,000 plans stored); the exact check below confirms them. `version + 0`
    # keeps SQLite off the primary key (which would read every version's row, blobs and
    # all) and on the covering index of (name, version, agent_names): ~6x faster with
    # 10,000 plans (docs/benchmarks.md §4.4)
    quoted = json.dumps(agent_name)
    rows = conn.execute(
        select(plans.c.name, plan_versions.c.agent_names)
        .join(
            plan_versions,
            (plan_versions.c.name == plans.c.name)
            & ((plan_versions.c.version + 0) == plans.c.current_version),
        )
        .where(plan_versions.c.agent_names.contains(quoted, autoescape=True))
        .order_by(plans.c.name)
    )
    return [row.name for row in rows if agent_name in strings_from_json(row.agent_names)]


def set_plan_enabled(conn: Connection, name: str, enabled: bool, *, now: int, actor: str) -> bool:
    """Enable or disable a plan; False if there is no such plan."""
    result = conn.execute(
        update(plans)
        .where(plans.c.name == name)
        .values(enabled=enabled, updated_time=now, updated_by=actor)
    )
    return result.rowcount > 0


def delete_plan(conn: Connection, name: str) -> bool:
    """Remove the plan (its versions stay for the instances built from them)."""
    return conn.execute(delete(plans).where(plans.c.name == name)).rowcount > 0


def plan_names(conn: Connection) -> list[str]:
    """The names of every plan (not deleted), sorted."""
    return [str(n) for n in conn.execute(select(plans.c.name).order_by(plans.c.name)).scalars()]
