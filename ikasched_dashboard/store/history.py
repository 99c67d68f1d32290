"""Execution history (docs/semantics.md §14): one row per ended job run.

`insert_runs` runs inside an orchestrator batch's transaction (store/batches.py write_batch),
so a run's record commits with the process event that ended it or not at all. Rows carry no
foreign key: they outlive their instance. `list_runs` pages by keyset on the row id (newest
first); `purge_ended_before` removes only rows that ended before the cutoff.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields

from sqlalchemy import Connection, delete, insert, select

from ikasched_dashboard.store.schema import job_runs

__all__ = ["HistoryQuery", "JobRun", "insert_runs", "list_runs", "purge_ended_before"]


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
