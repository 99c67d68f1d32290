"""Plan instances, their job instances, and the engine's per-instance snapshots.

The rows are the queryable projection of each machine; the snapshot is what a restart
rebuilds the machine from. Writes are bulk (`executemany`) so that one batch of events costs
one statement per kind of change, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    tuple_,
    update,
)

from ikasched_common.errors import NotFound
from ikasched_dashboard.store._sql import chunks, executemany
from ikasched_dashboard.store.schema import instances, job_instances


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """The queryable columns of one plan instance (times are epoch ms, 0 = none)."""

    id: str
    plan_name: str
    plan_version: int
    status: str
    created_time: int = 0
    updated_time: int = 0
    start_time: int = 0
    end_time: int = 0
    projected_end_time: int = 0
    timezone: str = "UTC"
    run_until_manually_ended: bool = False
    dry_run: bool = False
    quartz_disabled: bool = False
    created_by: str = ""
    reset_from: str = ""
    environment_group: str = ""
    owner: str = ""


@dataclass(frozen=True, slots=True)
class JobInstanceRow:
    """One job occurrence in one instance; key: (instance_id, child_context, job_identifier)."""

    instance_id: str
    child_context: str
    job_identifier: str
    job_type: str
    status: str
    job_name: str = ""
    agent_name: str = ""
    held: bool = False
    skip: bool = False
    initiation_raised: bool = False
    killed: bool = False
    pid: int = 0
    return_code: int = 0
    start_time: int = 0
    end_time: int = 0
    attempts: int = 0
    initiation_id: str = ""
    error_acknowledged: bool = False
    error_ack_message: str = ""
    error_ack_ticket: str = ""
    error_ack_user: str = ""
    error_ack_time: int = 0
    status_reason: str = ""
    # the last run's facts: why it ended so, the agent's host, its last process event
    outcome_reason: str = ""
    agent_hostname: str = ""
    last_event: bytes | None = None


@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    """What a restart needs to rebuild one machine."""

    id: str
    plan_name: str
    status: str
    snapshot: bytes
    snapshot_version: int


_INSTANCE_FIELDS = tuple(f.name for f in fields(InstanceRow))
_JOB_FIELDS = tuple(f.name for f in fields(JobInstanceRow))
_JOB_KEY = ("instance_id", "child_context", "job_identifier")
# Bind names must differ from column names in an UPDATE ... WHERE col = :param.
_B = "b_"


def _params(row: object, names: Sequence[str], prefix: str = "") -> dict[str, Any]:
    return {prefix + name: getattr(row, name) for name in names}


def _instance(row: Row[Any]) -> InstanceRow:
    m = row._mapping
    return InstanceRow(**{name: m[name] for name in _INSTANCE_FIELDS})


def _job(row: Row[Any]) -> JobInstanceRow:
    m = row._mapping
    return JobInstanceRow(**{name: m[name] for name in _JOB_FIELDS})


def _instance_columns() -> list[Any]:
    return [instances.c[name] for name in _INSTANCE_FIELDS]


def _job_columns() -> list[Any]:
    return [job_instances.c[name] for name in _JOB_FIELDS]


def insert_instances(conn: Connection, rows: Sequence[InstanceRow]) -> None:
    if rows:
        executemany(
            conn,
            "insert_instances",
            instances.insert,
            [_params(r, _INSTANCE_FIELDS) for r in rows],
            columns=_INSTANCE_FIELDS,
        )


def update_instances(conn: Connection, rows: Sequence[InstanceRow]) -> None:
    """Overwrite every column of each instance (by id); NotFound if one is missing."""
    if not rows:
        return
    result = executemany(
        conn,
        "update_instances",
        _update_instances,
        [_params(r, _INSTANCE_FIELDS, _B) for r in rows],
    )
    _expect(result.rowcount, len(rows), "instance")


def _update_instances() -> Any:
    changed = [name for name in _INSTANCE_FIELDS if name != "id"]
    return (
        update(instances)
        .where(instances.c.id == bindparam(_B + "id"))
        .values({name: bindparam(_B + name) for name in changed})
    )


def write_snapshots(conn: Connection, snapshots: Sequence[tuple[str, bytes]]) -> None:
    """Store each instance's latest machine snapshot (id, bytes); bumps its snapshot_version."""
    if not snapshots:
        return
    result = executemany(
        conn,
        "write_snapshots",
        _write_snapshots,
        [{"b_id": i, "b_snapshot": s} for i, s in snapshots],
    )
    _expect(result.rowcount, len(snapshots), "instance")


def _write_snapshots() -> Any:
    return (
        update(instances)
        .where(instances.c.id == bindparam("b_id"))
        .values(
            snapshot=bindparam("b_snapshot"),
            snapshot_version=instances.c.snapshot_version + literal_column("1"),
        )
    )


def get_instance(conn: Connection, instance_id: str) -> InstanceRow | None:
    row = conn.execute(select(*_instance_columns()).where(instances.c.id == instance_id)).first()
    return None if row is None else _instance(row)


def get_snapshot(conn: Connection, instance_id: str) -> InstanceSnapshot | None:
    rows = _snapshots(conn, instances.c.id == instance_id)
    return rows[0] if rows else None


def load_snapshots(
    conn: Connection, *, excluding_statuses: Collection[str] = ("ENDED",)
) -> list[InstanceSnapshot]:
    """Snapshots of every instance whose status is not excluded (restart recovery)."""
    conditions = [instances.c.snapshot.is_not(None)]
    if excluding_statuses:
        conditions.append(instances.c.status.not_in(list(excluding_statuses)))
    return _snapshots(conn, and_(*conditions))


def _snapshots(conn: Connection, condition: Any) -> list[InstanceSnapshot]:
    rows = conn.execute(
        select(
            instances.c.id,
            instances.c.plan_name,
            instances.c.status,
            instances.c.snapshot,
            instances.c.snapshot_version,
        )
        .where(condition)
        .order_by(instances.c.created_time, instances.c.id)
    )
    return [
        InstanceSnapshot(
            id=r.id,
            plan_name=r.plan_name,
            status=r.status,
            snapshot=bytes(r.snapshot) if r.snapshot is not None else b"",
            snapshot_version=r.snapshot_version,
        )
        for r in rows
    ]


def list_instances(
    conn: Connection,
    *,
    plan_name: str = "",
    statuses: Collection[str] = (),
    excluding_statuses: Collection[str] = (),
    started_after: int = 0,
    started_before: int = 0,
    before: tuple[int, str] | None = None,
    limit: int = 100,
    plan_names: Collection[str] | None = None,
) -> list[InstanceRow]:
    """Instances, newest first (by created time, then id); of `plan_names` only when given
    (a plan-limited caller's listing, so no page reaches past its plans).

    Page with `before` = (created_time, id) of the last row of the previous page.
    """
    stmt = select(*_instance_columns())
    if plan_name:
        stmt = stmt.where(instances.c.plan_name == plan_name)
    if plan_names is not None:
        stmt = stmt.where(instances.c.plan_name.in_(sorted(plan_names)))
    if statuses:
        stmt = stmt.where(instances.c.status.in_(list(statuses)))
    if excluding_statuses:
        stmt = stmt.where(instances.c.status.not_in(list(excluding_statuses)))
    if started_after:
        stmt = stmt.where(instances.c.start_time >= started_after)
    if started_before:
        stmt = stmt.where(instances.c.start_time < started_before)
    if before is not None:
        stmt = stmt.where(tuple_(instances.c.created_time, instances.c.id) < tuple_(*before))
    stmt = stmt.order_by(instances.c.created_time.desc(), instances.c.id.desc()).limit(limit)
    return [_instance(r) for r in conn.execute(stmt)]


def count_instances(
    conn: Connection, *, excluding_statuses: Collection[str] = ("ENDED", "PREPARED")
) -> dict[str, int]:
    """Instances per plan, not counting the excluded statuses (the live count by default)."""
    stmt = select(instances.c.plan_name, func.count()).group_by(instances.c.plan_name)
    if excluding_statuses:
        stmt = stmt.where(instances.c.status.not_in(list(excluding_statuses)))
    return {name: int(count) for name, count in conn.execute(stmt)}


def delete_instances(conn: Connection, instance_ids: Sequence[str]) -> int:
    """Purge instances and (by cascade) their job rows; returns instances deleted."""
    deleted = 0
    for part in chunks(list(instance_ids)):
        deleted += conn.execute(delete(instances).where(instances.c.id.in_(part))).rowcount
    return deleted


def insert_job_instances(conn: Connection, rows: Sequence[JobInstanceRow]) -> None:
    if rows:
        executemany(
            conn,
            "insert_job_instances",
            job_instances.insert,
            [_params(r, _JOB_FIELDS) for r in rows],
            columns=_JOB_FIELDS,
        )


def update_job_instances(conn: Connection, rows: Sequence[JobInstanceRow]) -> None:
    """Overwrite every column of each job row (by key); NotFound if one is missing."""
    if not rows:
        return
    result = executemany(
        conn, "update_job_instances", _update_jobs, [_params(r, _JOB_FIELDS, _B) for r in rows]
    )
    _expect(result.rowcount, len(rows), "job instance")


def _update_jobs() -> Any:
    changed = [name for name in _JOB_FIELDS if name not in _JOB_KEY]
    condition = and_(*(job_instances.c[name] == bindparam(_B + name) for name in _JOB_KEY))
    return (
        update(job_instances)
        .where(condition)
        .values({name: bindparam(_B + name) for name in changed})
    )


def jobs_of_instance(conn: Connection, instance_id: str) -> list[JobInstanceRow]:
    stmt = (
        select(*_job_columns())
        .where(job_instances.c.instance_id == instance_id)
        .order_by(job_instances.c.child_context, job_instances.c.job_identifier)
    )
    return [_job(r) for r in conn.execute(stmt)]


def job_by_initiation(conn: Connection, initiation_id: str) -> JobInstanceRow | None:
    """The job whose last initiation has this id (a process event names its initiation)."""
    row = conn.execute(
        select(*_job_columns()).where(job_instances.c.initiation_id == initiation_id).limit(1)
    ).first()
    return None if row is None else _job(row)


def jobs_on_agent(
    conn: Connection, agent_name: str, statuses: Collection[str] = ()
) -> list[JobInstanceRow]:
    stmt = select(*_job_columns()).where(job_instances.c.agent_name == agent_name)
    if statuses:
        stmt = stmt.where(job_instances.c.status.in_(list(statuses)))
    stmt = stmt.order_by(job_instances.c.instance_id, job_instances.c.job_identifier)
    return [_job(r) for r in conn.execute(stmt)]


def _expect(rowcount: int, wanted: int, what: str) -> None:
    # Drivers report -1 when they cannot count; only a known shortfall is an error.
    if 0 <= rowcount < wanted:
        raise NotFound(f"{wanted - rowcount} {what} row(s) to update do not exist")
