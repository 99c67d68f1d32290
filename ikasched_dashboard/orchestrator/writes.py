"""The orchestrator's hot-path writes, narrower than the store's general ones.

Per batch, each touched instance gets ONE row update carrying both its queryable columns and
its snapshot (the store's update_instances + write_snapshots would rewrite the row, snapshot
blob included, twice), and each changed job row updates only the columns a machine can change
(the key and the plan-given columns never move; fewer indexed columns are touched). Both go
through the driver's executemany with a statement compiled once (store._sql.executemany).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Update, and_, bindparam, literal_column, update

from ikasched_common.errors import NotFound
from ikasched_dashboard.store._sql import executemany
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


def update_instances_and_snapshots(
    conn: Connection, rows: Sequence[tuple[InstanceRow, bytes]]
) -> None:
    """Each instance's changeable columns and its snapshot in one row write."""
    if not rows:
        return
    params = [
        {
            "b_id": r.id,
            "b_status": r.status,
            "b_updated_time": r.updated_time,
            "b_start_time": r.start_time,
            "b_end_time": r.end_time,
            "b_projected_end_time": r.projected_end_time,
            "b_run_until_manually_ended": r.run_until_manually_ended,
            "b_dry_run": r.dry_run,
            "b_quartz_disabled": r.quartz_disabled,
            "b_snapshot": snap,
        }
        for r, snap in rows
    ]
    result = executemany(conn, "orchestrator-instances", _instances_statement, params)
    if 0 <= result.rowcount < len(rows):
        raise NotFound(f"{len(rows) - result.rowcount} instance row(s) missing")


def update_job_states(conn: Connection, rows: Sequence[JobInstanceRow]) -> None:
    """The changeable columns of each job row, by key."""
    if not rows:
        return
    params = [
        {
            "b_instance_id": r.instance_id,
            "b_child_context": r.child_context,
            "b_job_identifier": r.job_identifier,
            "b_status": r.status,
            "b_held": r.held,
            "b_skip": r.skip,
            "b_initiation_raised": r.initiation_raised,
            "b_killed": r.killed,
            "b_pid": r.pid,
            "b_return_code": r.return_code,
            "b_start_time": r.start_time,
            "b_end_time": r.end_time,
            "b_attempts": r.attempts,
            "b_initiation_id": r.initiation_id,
            "b_error_acknowledged": r.error_acknowledged,
            "b_error_ack_message": r.error_ack_message,
            "b_error_ack_ticket": r.error_ack_ticket,
            "b_error_ack_user": r.error_ack_user,
            "b_error_ack_time": r.error_ack_time,
        }
        for r in rows
    ]
    result = executemany(conn, "orchestrator-jobs", _jobs_statement, params)
    if 0 <= result.rowcount < len(rows):
        raise NotFound(f"{len(rows) - result.rowcount} job instance row(s) missing")
