"""Execution history (docs/semantics.md §14): one row per ended job run.

`insert_runs` runs inside an orchestrator batch's transaction (store/batches.py write_batch),
so a run's record commits with the process event that ended it or not at all. Rows carry no
foreign key: they outlive their instance. `list_runs` pages by keyset on the row id (newest
first); `purge_ended_before` removes only rows that ended before the cutoff.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields

from sqlalchemy import Connection, delete, func, insert, select

from ikasched_dashboard.store.schema import job_runs

__all__ = [
    "HistoryQuery",
    "JobRun",
    "JobStats",
    "insert_runs",
    "job_stats",
    "list_runs",
    "nearest_rank",
    "purge_ended_before",
]


@dataclass(frozen=True, slots=True)
class JobRun:
    """One ended job run. Times are epoch ms; `id` is 0 until stored."""

    plan_name: str
    instance_id: str
    job_identifier: str
    status: str
    plan_version: int = 0
    owner: str = ""
    child_context: str = ""
    job_name: str = ""
    job_type: str = ""
    agent_name: str = ""
    agent_hostname: str = ""
    attempt: int = 0
    start_time: int = 0
    end_time: int = 0
    return_code: int = 0
    outcome_reason: str = ""
    pid: int = 0
    run_as_user: str = ""
    output_path: str = ""
    error_path: str = ""
    id: int = 0

    @property
    def duration_ms(self) -> int:
        return max(0, self.end_time - self.start_time) if self.start_time else 0


_COLUMNS = tuple(f.name for f in fields(JobRun) if f.name != "id")


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Filters of `list_runs` (empty: any). `plans_visible` None: every plan."""

    plan_names: Collection[str] = ()
    instance_id: str = ""
    job_identifier: str = ""
    agent_name: str = ""
    owner: str = ""
    statuses: Collection[str] = ()
    ended_after: int = 0
    ended_before: int = 0
    plans_visible: Collection[str] | None = None


def insert_runs(conn: Connection, runs: Sequence[JobRun]) -> None:
    if not runs:
        return
    conn.execute(insert(job_runs), [{n: getattr(r, n) for n in _COLUMNS} for r in runs])


def list_runs(
    conn: Connection, query: HistoryQuery, *, before_id: int = 0, limit: int = 100
) -> list[JobRun]:
    """Runs matching `query`, newest record first; page with `before_id` = the last row's id."""
    if query.plans_visible is not None and not query.plans_visible:
        return []
    c = job_runs.c
    stmt = select(job_runs)
    if before_id:
        stmt = stmt.where(c.id < before_id)
    if query.plan_names:
        stmt = stmt.where(c.plan_name.in_(list(query.plan_names)))
    if query.plans_visible is not None:
        stmt = stmt.where(c.plan_name.in_(list(query.plans_visible)))
    if query.instance_id:
        stmt = stmt.where(c.instance_id == query.instance_id)
    if query.job_identifier:
        stmt = stmt.where(c.job_identifier == query.job_identifier)
    if query.agent_name:
        stmt = stmt.where(c.agent_name == query.agent_name)
    if query.owner:
        stmt = stmt.where(c.owner == query.owner)
    if query.statuses:
        stmt = stmt.where(c.status.in_(list(query.statuses)))
    if query.ended_after:
        stmt = stmt.where(c.end_time >= query.ended_after)
    if query.ended_before:
        stmt = stmt.where(c.end_time < query.ended_before)
    stmt = stmt.order_by(c.id.desc()).limit(limit)
    return [JobRun(**dict(row._mapping)) for row in conn.execute(stmt)]


def purge_ended_before(
    conn: Connection, cutoff_ms: int, plans_visible: Collection[str] | None = None
) -> int:
    """Delete the runs that ended before `cutoff_ms` (of these plans only, unless None); how
    many went."""
    if plans_visible is not None and not plans_visible:
        return 0
    stmt = delete(job_runs).where(job_runs.c.end_time < cutoff_ms)
    if plans_visible is not None:
        stmt = stmt.where(job_runs.c.plan_name.in_(list(plans_visible)))
    return int(conn.execute(stmt).rowcount)


@dataclass(frozen=True, slots=True)
class JobStats:
    """One job's figures over its last runs (durations in ms, over the runs seen starting)."""

    plan_name: str
    job_identifier: str
    runs: int
    failures: int
    timed_runs: int
    mean_ms: int
    p50_ms: int
    p95_ms: int
    max_ms: int
    last_end_time: int


def nearest_rank(ordered: Sequence[int], percent: int) -> int:
    """The nearest-rank percentile of an ascending sequence (0 when empty)."""
    if not ordered:
        return 0
    rank = -(-percent * len(ordered) // 100)  # ceil(percent/100 * n)
    return ordered[min(len(ordered), max(1, rank)) - 1]


def job_stats(
    conn: Connection,
    *,
    last_runs: int,
    plan_name: str = "",
    job_identifier: str = "",
    plans_visible: Collection[str] | None = None,
) -> list[JobStats]:
    """Per (plan, job): its `last_runs` newest records (by id), counted; ordered by plan, job."""
    if plans_visible is not None and not plans_visible:
        return []
    c = job_runs.c
    rank = (
        func.row_number()
        .over(partition_by=(c.plan_name, c.job_identifier), order_by=c.id.desc())
        .label("rank")
    )
    inner = select(c.plan_name, c.job_identifier, c.status, c.start_time, c.end_time, rank)
    if plan_name:
        inner = inner.where(c.plan_name == plan_name)
    if job_identifier:
        inner = inner.where(c.job_identifier == job_identifier)
    if plans_visible is not None:
        inner = inner.where(c.plan_name.in_(list(plans_visible)))
    sub = inner.subquery()
    stmt = (
        select(sub)
        .where(sub.c.rank <= last_runs)
        .order_by(sub.c.plan_name, sub.c.job_identifier, sub.c.rank)
    )
    grouped: dict[tuple[str, str], list[JobRun]] = {}
    for row in conn.execute(stmt):
        grouped.setdefault((row.plan_name, row.job_identifier), []).append(
            JobRun(
                plan_name=row.plan_name,
                instance_id="",
                job_identifier=row.job_identifier,
                status=row.status,
                start_time=int(row.start_time),
                end_time=int(row.end_time),
            )
        )
    out = []
    for (plan, job), runs in grouped.items():
        durations = sorted(r.duration_ms for r in runs if r.start_time)
        out.append(
            JobStats(
                plan_name=plan,
                job_identifier=job,
                runs=len(runs),
                failures=sum(1 for r in runs if r.status in ("ERROR", "KILLED")),
                timed_runs=len(durations),
                mean_ms=sum(durations) // len(durations) if durations else 0,
                p50_ms=nearest_rank(durations, 50),
                p95_ms=nearest_rank(durations, 95),
                max_ms=durations[-1] if durations else 0,
                last_end_time=runs[0].end_time,
            )
        )
    return out
