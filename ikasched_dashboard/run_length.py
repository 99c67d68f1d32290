"""RUNNING_TIME beyond `maxExecutionTime` (docs/semantics.md §15.1), clock-driven like it:

- shorter than `minExecutionTime`: a run whose history record (§14) shows it ended sooner than
  its command job's `minExecutionTime` (ms), once per run; read from the history records
  after a cursor (at first: the last `LOOKBACK_MS` of them);
- longer than usual: a RUNNING job running longer than a rule's `p95.factor` x the p95
  duration of its job's last `p95.runs` runs (GetJobStats' figures, §14.6), once per run and
  rule; a job with fewer than `MIN_TIMED_RUNS` timed runs has no "usual" yet.

Both queue through clock_queue.queue_once, so repeated checks and restarts queue each once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, func, select

from ikasched.v1 import plan_pb2
from ikasched_dashboard.clock_queue import queue_once
from ikasched_dashboard.running_time import execution_times
from ikasched_dashboard.store import history
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.schema import instances, job_instances, job_runs

__all__ = ["LOOKBACK_MS", "MIN_TIMED_RUNS", "RunLengthState", "check_p95", "check_short_runs"]

LOOKBACK_MS = 24 * 3600 * 1000
MIN_TIMED_RUNS = 3
STATS_TTL_MS = 30_000
BATCH = 500


@dataclass(slots=True)
class RunLengthState:
    """What the checks keep between rounds (in memory only; the outbox keeps them once)."""

    cursor: int = -1  # the last history record id read (-1: not started)
    minimums: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    stats: dict[tuple[str, str, int], tuple[int, history.JobStats | None]] = field(
        default_factory=dict
    )


def _rules(conn: Connection) -> list[store.Rule]:
    return [r for r in store.list_rules(conn) if "RUNNING_TIME" in r.kinds]


def _minimum(conn: Connection, state: RunLengthState, plan: str, version: int, job: str) -> int:
    key = (plan, version)
    if key not in state.minimums:
        record = plan_store.get_plan(conn, plan, version)
        state.minimums[key] = (
            execution_times(plan_pb2.Context.FromString(record.plan), "min_execution_time")
            if record
            else {}
        )
    return state.minimums[key].get(job, 0)


def check_short_runs(conn: Connection, now: int, state: RunLengthState) -> int:
    """Queue RUNNING_TIME for the runs that ended shorter than their minExecutionTime."""
    c = job_runs.c
    if state.cursor < 0:
        first = conn.execute(select(func.min(c.id)).where(c.end_time >= now - LOOKBACK_MS)).scalar()
        last = conn.execute(select(func.max(c.id))).scalar()
        state.cursor = int(first) - 1 if first is not None else int(last or 0)
    rules = _rules(conn)
    queued = 0
    while True:
        rows = conn.execute(
            select(job_runs).where(c.id > state.cursor).order_by(c.id).limit(BATCH)
        ).all()
        if not rows:
            return queued
        state.cursor = int(rows[-1].id)
        if not rules:
            continue
        events = []
        for row in rows:
            run = history.JobRun(**dict(row._mapping))
            least = _minimum(conn, state, run.plan_name, run.plan_version, run.job_identifier)
            if not least or not run.start_time or run.duration_ms >= least:
                continue
            events.append(
                store.NotificationEvent(
                    kind="RUNNING_TIME",
                    plan_name=run.plan_name,
                    instance_id=run.instance_id,
                    time=now,
                    status=run.status,
                    job_identifier=run.job_identifier,
                    child_context=run.child_context,
                    agent_name=run.agent_name,
                    attempt=run.attempt,
                    start_time=run.start_time,
                    end_time=run.end_time,
                    return_code=run.return_code,
                    reason=f"ran {run.duration_ms} ms, shorter than minExecutionTime {least} ms",
                    occurrence="shorter",
                )
            )
        queued += queue_once(conn, events, now, rules)


def _stats(
    conn: Connection, state: RunLengthState, now: int, plan: str, job: str, runs: int
) -> history.JobStats | None:
    key = (plan, job, runs)
    cached = state.stats.get(key)
    if cached is not None and now - cached[0] < STATS_TTL_MS:
        return cached[1]
    found = history.job_stats(conn, last_runs=runs, plan_name=plan, job_identifier=job)
    stats = found[0] if found else None
    state.stats[key] = (now, stats)
    return stats


def check_p95(conn: Connection, now: int, state: RunLengthState) -> int:
    """Queue RUNNING_TIME for RUNNING jobs longer than a rule's factor x their usual p95."""
    rules = [r for r in _rules(conn) if r.p95_factor > 0]
    if not rules:
        return 0
    j, i = job_instances.c, instances.c
    running = conn.execute(
        select(
            j.instance_id,
            j.child_context,
            j.job_identifier,
            j.agent_name,
            j.attempts,
            j.start_time,
            i.plan_name,
        )
        .select_from(job_instances.join(instances, i.id == j.instance_id))
        .where(j.status == "RUNNING", j.start_time > 0)
    ).all()
    queued = 0
    for row in running:
        event = store.NotificationEvent(
            kind="RUNNING_TIME",
            plan_name=row.plan_name,
            instance_id=row.instance_id,
            time=now,
            status="RUNNING",
            job_identifier=row.job_identifier,
            child_context=row.child_context,
            agent_name=row.agent_name,
            attempt=int(row.attempts),
            start_time=int(row.start_time),
            occurrence="p95",
        )
        elapsed = now - int(row.start_time)
        for rule in rules:
            if not rule.matches(event):
                continue
            runs = rule.p95_runs or 20
            stats = _stats(conn, state, now, row.plan_name, row.job_identifier, runs)
            if stats is None or stats.timed_runs < MIN_TIMED_RUNS or not stats.p95_ms:
                continue
            bound = rule.p95_factor * stats.p95_ms
            if elapsed <= bound:
                continue
            reason = (
                f"running for {elapsed // 1000} s, longer than {rule.p95_factor:g} x p95 "
                f"{stats.p95_ms} ms of its last {stats.timed_runs} runs"
            )
            queued += queue_once(conn, [replace(event, reason=reason)], now, [rule])
    return queued
