"""One orchestrator batch's rows and their writes, in the batch's one transaction.

`claim_processed` records the batch's agent message ids first (a duplicate rolls the batch
back: `AlreadyProcessed`); `instance_row` and `job_row` build the rows from what the machines
hold plus the run facts and error acknowledgements the batch learned; `write_batch` writes
them with the audit rows, the coordinator's state and the outbox rows.

The hot path is narrower than the store's general writes. Per batch, each touched instance
gets ONE row update carrying both its queryable columns and its snapshot (the store's
update_instances + write_snapshots would rewrite the row, snapshot blob included, twice), and
each changed job row updates only the columns a machine can change (the key and the
plan-given columns never move; fewer indexed columns are touched). Both go through the
driver's executemany with a statement compiled once, their parameters read straight off the
row objects (no per-row dict: this runs for every touched instance and changed job of every
batch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, Protocol

from sqlalchemy import Connection, Update, and_, bindparam, literal_column, update

from ikasched_common.errors import NotFound
from ikasched_dashboard.store import changes, history, locks, notifications
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import messages as message_store
from ikasched_dashboard.store.changes import AuditEntry
from ikasched_dashboard.store.history import JobRun
from ikasched_dashboard.store.instances import InstanceRow, JobInstanceRow
from ikasched_dashboard.store.messages import OutboxMessage
from ikasched_dashboard.store.notifications import NotificationEvent
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
# job columns a machine (or the facts of its events, or the orchestrator's reasons) may change
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
    "status_reason",
    "outcome_reason",
    "agent_hostname",
    "last_event",
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


# ---- what a batch learned beyond the machines' states -----------------------------------------
@dataclass(frozen=True, slots=True)
class RunFacts:
    """A job's run as the batch's process events told it: start and end (epoch ms, 0: not
    learned), the return code, why it ended so, the agent's host and the last process event
    (serialized) (None: not learned). `cleared`: the previous run's facts no longer hold (the
    job was reset or runs again), so what is not learned here reads as none."""

    start: int = 0
    end: int = 0
    return_code: int | None = None
    reason: str | None = None
    host: str | None = None
    event: bytes | None = None
    cleared: bool = False


NO_FACTS = RunFacts()


@dataclass(frozen=True, slots=True)
class ErrorAck:
    """An operator's acknowledgement of a job's error."""

    message: str
    ticket: str
    user: str
    time: int


@dataclass(frozen=True, slots=True)
class PlanGiven:
    """A job row's columns the plan fixes (read for a job without a row yet)."""

    job_type: str
    job_name: str
    agent_name: str


class _Initiated(Protocol):
    @property
    def initiation_id(self) -> str: ...


class MachineJob(Protocol):
    """What a job row takes from the machine's job state (the engine's JobState)."""

    @property
    def held(self) -> bool: ...
    @property
    def skip(self) -> bool: ...
    @property
    def raised(self) -> bool: ...
    @property
    def killed(self) -> bool: ...
    @property
    def pid(self) -> int: ...
    @property
    def error_acknowledged(self) -> bool: ...
    @property
    def initiation(self) -> _Initiated | None: ...


class AlreadyProcessed(Exception):
    """The batch met an agent message id already processed (its transaction rolls back)."""


# ---- rows ------------------------------------------------------------------------------------
def instance_row(
    row: InstanceRow,
    *,
    status: str,
    finished: bool,
    now: int,
    run_until_manually_ended: bool,
    dry_run: bool,
    quartz_disabled: bool,
) -> InstanceRow:
    """An instance's row as a batch leaves it; a finished instance keeps its first end time."""
    return replace(
        row,
        status=status,
        updated_time=now,
        end_time=row.end_time or (now if finished else 0),
        run_until_manually_ended=run_until_manually_ended,
        dry_run=dry_run,
        quartz_disabled=quartz_disabled,
    )


def job_row(
    instance_id: str,
    job_identifier: str,
    child_context: str,
    status: str,
    job: MachineJob,
    *,
    old: JobInstanceRow | None,
    plan_given: PlanGiven | None,
    facts: RunFacts | None,
    ack: ErrorAck | None,
) -> JobInstanceRow:
    """A job's row as a batch leaves it: the machine's state, the run facts learned (else the
    old row's), the acknowledgement given (else the old one while the error stays
    acknowledged). `plan_given` is read only when there is no old row."""
    f = facts or NO_FACTS
    if old is None:
        assert plan_given is not None, "a new job row needs its plan-given columns"
        job_type, job_name, agent_name = (
            plan_given.job_type,
            plan_given.job_name,
            plan_given.agent_name,
        )
        old_start = old_attempts = 0
        old_init = ack_message = ack_ticket = ack_user = reason = ""
        ack_time = 0
        run = _LastRun()
    else:
        job_type, job_name, agent_name = old.job_type, old.job_name, old.agent_name
        old_start, old_attempts, old_init = old.start_time, old.attempts, old.initiation_id
        ack_message, ack_ticket = old.error_ack_message, old.error_ack_ticket
        ack_user, ack_time, reason = old.error_ack_user, old.error_ack_time, old.status_reason
        run = _LastRun() if f.cleared else _LastRun.of(old)
    if ack is not None:
        ack_message, ack_ticket, ack_user, ack_time = ack.message, ack.ticket, ack.user, ack.time
    elif not job.error_acknowledged:
        ack_message = ack_ticket = ack_user = ""
        ack_time = 0
    init = job.initiation
    # keywords, not dataclasses.replace: this runs for every changed job of every batch
    return JobInstanceRow(
        instance_id=instance_id,
        child_context=child_context,
        job_identifier=job_identifier,
        job_type=job_type,
        status=status,
        job_name=job_name,
        agent_name=agent_name,
        held=job.held,
        skip=job.skip,
        initiation_raised=job.raised,
        killed=job.killed,
        pid=job.pid,
        return_code=run.return_code if f.return_code is None else f.return_code,
        start_time=f.start or run.start,
        end_time=f.end if f.start or f.end else run.end,
        # runs started in this instance: a new start time is one more run
        attempts=old_attempts + 1 if f.start and f.start != old_start else old_attempts,
        initiation_id=init.initiation_id if init is not None else old_init,
        error_acknowledged=job.error_acknowledged,
        error_ack_message=ack_message,
        error_ack_ticket=ack_ticket,
        error_ack_user=ack_user,
        error_ack_time=ack_time,
        status_reason=reason,
        outcome_reason=run.reason if f.reason is None else f.reason,
        agent_hostname=run.host if f.host is None else f.host,
        last_event=run.event if f.event is None else f.event,
    )


@dataclass(frozen=True, slots=True)
class _LastRun:
    """The run facts a job row already holds (none for a new row or a cleared run)."""

    start: int = 0
    end: int = 0
    return_code: int = 0
    reason: str = ""
    host: str = ""
    event: bytes | None = None

    @classmethod
    def of(cls, row: JobInstanceRow) -> _LastRun:
        return cls(
            row.start_time,
            row.end_time,
            row.return_code,
            row.outcome_reason,
            row.agent_hostname,
            row.last_event,
        )


# ---- the batch's writes ----------------------------------------------------------------------
@dataclass(slots=True)
class BatchRows:
    """Everything one batch writes besides its processed ids."""

    new_instances: list[InstanceRow] = field(default_factory=list)
    new_snapshots: list[tuple[str, bytes]] = field(default_factory=list)  # new instances only
    changed_instances: list[tuple[InstanceRow, bytes]] = field(default_factory=list)
    new_jobs: list[JobInstanceRow] = field(default_factory=list)
    changed_jobs: list[JobInstanceRow] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # dropped PREPARED instances
    audits: Sequence[AuditEntry] = ()
    coordinator: bytes | None = None  # its snapshot, when the batch changed it
    outbox: Sequence[OutboxMessage] = ()
    runs: list[JobRun] = field(default_factory=list)  # execution history: the runs that ended
    events: list[NotificationEvent] = field(default_factory=list)  # matched to the rules


def claim_processed(conn: Connection, message_ids: Sequence[str], now: int) -> None:
    """Record the batch's message ids; AlreadyProcessed if one was recorded before."""
    wanted = len(set(message_ids))
    if message_store.record_processed(conn, message_ids, now) != wanted:
        raise AlreadyProcessed()


def write_batch(conn: Connection, rows: BatchRows, now: int) -> None:
    instance_store.insert_instances(conn, rows.new_instances)
    instance_store.insert_job_instances(conn, rows.new_jobs)
    update_instances_and_snapshots(conn, rows.changed_instances)
    update_job_states(conn, rows.changed_jobs)
    instance_store.write_snapshots(conn, rows.new_snapshots)
    if rows.deleted:
        instance_store.delete_instances(conn, rows.deleted)
    changes.append_audit(conn, rows.audits)
    if rows.coordinator is not None:
        locks.save_lock_state(conn, rows.coordinator, now)
    message_store.insert_outbox(conn, rows.outbox)
    history.insert_runs(conn, rows.runs)
    notifications.enqueue(conn, rows.events, now, None)
