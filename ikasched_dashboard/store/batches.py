"""The orchestrator's hot-path writes, narrower than the store's general ones.

Per batch, each touched instance gets ONE row update carrying both its queryable columns and
its snapshot (the store's update_instances + write_snapshots would rewrite the row, snapshot
blob included, twice), and each changed job row updates only the columns a machine can change
(the key and the plan-given columns never move; fewer indexed columns are touched). Both go
through the driver's executemany with a statement compiled once, their parameters read
straight off the row objects (no per-row dict: this runs for every touched instance and
changed job of every batch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Update, and_, bindparam, literal_column, update

from ikasched_common.errors import NotFound
from ikasched_dashboard.store.instances import InstanceRow, JobInstanceRow
from ikasched_dashboard.store.schema import instances, job_instances

# instance columns the orchestrator may change after the insert
_INSTANCE_MUTABLE = (
    "status",
    "updated_time",
    "start_time",
    "end_time",
    "projected_end_time",
    "run_until_manually_ended",
    "dry_run",
    "quartz_disabled",
)
# job columns a machine (or the facts of its events) may change
_JOB_MUTABLE = (
    "status",
    "held",
    "skip",
    "initiation_raised",
    "killed",
    "pid",
    "return_code",
    "start_time",
    "end_time",
    "attempts",
    "initiation_id",
    "error_acknowledged",
    "error_ack_message",
    "error_ack_ticket",
    "error_ack_user",
    "error_ack_time",
)
_JOB_KEY = ("instance_id", "child_context", "job_identifier")


def _instances_statement() -> Update:
    values: dict[str, object] = {n: bindparam("b_" + n) for n in _INSTANCE_MUTABLE}
    values["snapshot"] = bindparam("b_snapshot")
    values["snapshot_version"] = instances.c.snapshot_version + literal_column("1")
    return update(instances).where(instances.c.id == bindparam("b_id")).values(values)


def _jobs_statement() -> Update:
    key = and_(*(job_instances.c[n] == bindparam("b_" + n) for n in _JOB_KEY))
    return update(job_instances).where(key).values({n: bindparam("b_" + n) for n in _JOB_MUTABLE})


_Values = Callable[[Any], tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    values: _Values  # one row's parameters, in the statement's order
    named: tuple[str, ...] | None  # the driver takes names (not SQLite): these, in that order


_COMPILED: dict[tuple[str, str], _Compiled] = {}


def _run(
    conn: Connection,
    key: str,
    build: Callable[[], Update],
    getter: Callable[[tuple[str, ...]], _Values],
    rows: Sequence[Any],
) -> int:
    """One statement for many rows through the driver's executemany; a positional driver
    (SQLite) gets each row's parameters straight off the row objects, with no per-row dict.
    `getter(attribute names)` makes the function that reads them."""
    dialect = conn.dialect
    c = _COMPILED.get((key, dialect.name))
    if c is None:
        compiled = build().compile(dialect=dialect)
        order = compiled.positiontup
        named = None if order is not None else tuple(compiled.binds)
        names = tuple(n.removeprefix("b_") for n in (order if order is not None else named or ()))
        c = _COMPILED[(key, dialect.name)] = _Compiled(compiled.string, getter(names), named)
    params: list[Any] = [c.values(r) for r in rows]
    if c.named is not None:
        params = [dict(zip(c.named, p, strict=True)) for p in params]
    return int(conn.exec_driver_sql(c.sql, params).rowcount)


def _instance_getter(names: tuple[str, ...]) -> _Values:
    """For (InstanceRow, snapshot) pairs; "snapshot" is the pair's second item."""
    at = names.index("snapshot")
    get = attrgetter(*(n for n in names if n != "snapshot"))

    def values(pair: tuple[InstanceRow, bytes]) -> tuple[Any, ...]:
        v = get(pair[0])
        return (*v[:at], pair[1], *v[at:])

    return values


def _job_getter(names: tuple[str, ...]) -> _Values:
    return attrgetter(*names)


def update_instances_and_snapshots(
    conn: Connection, rows: Sequence[tuple[InstanceRow, bytes]]
) -> None:
    """Each instance's changeable columns and its snapshot in one row write."""
    if not rows:
        return
    done = _run(conn, "orchestrator-instances", _instances_statement, _instance_getter, rows)
    if 0 <= done < len(rows):
        raise NotFound(f"{len(rows) - done} instance row(s) missing")


def update_job_states(conn: Connection, rows: Sequence[JobInstanceRow]) -> None:
    """The changeable columns of each job row, by key."""
    if not rows:
        return
    done = _run(conn, "orchestrator-jobs", _jobs_statement, _job_getter, rows)
    if 0 <= done < len(rows):
        raise NotFound(f"{len(rows) - done} job instance row(s) missing")
