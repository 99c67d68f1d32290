"""RUNNING_TIME notifications (docs/semantics.md §15.1): a job RUNNING longer than its plan's
`maxExecutionTime` (the command job's alert-only bound, milliseconds) queues one notification
per run for each rule on RUNNING_TIME. The notifier runs `check_running_time` before each
delivery round, by the dashboard's clock (a test drives it). The idempotency key is the run's
(instance, job, attempt), so a check repeated, or repeated after a restart, queues nothing
twice."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, select

from ikasched.v1 import plan_pb2
from ikasched_dashboard.clock_queue import queue_once
from ikasched_dashboard.plans.plan_index import job_identifier
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.schema import instances, job_instances

__all__ = ["check_running_time", "execution_times", "max_execution_times"]

_Limits = dict[tuple[str, int], dict[str, int]]


def _jobs(context: plan_pb2.Context) -> Iterator[plan_pb2.SchedulerJob]:
    yield from context.scheduled_jobs
    for child in context.contexts:
        yield from _jobs(child)


def max_execution_times(context: plan_pb2.Context) -> dict[str, int]:
    """Job identifier -> its maxExecutionTime in ms, for the jobs that set one."""
    return execution_times(context, "max_execution_time")


def execution_times(context: plan_pb2.Context, field: str) -> dict[str, int]:
    """Job identifier -> its `field` (min_/max_execution_time) in ms, for the jobs that set
    one."""
    out: dict[str, int] = {}
    for job in _jobs(context):
        if job.WhichOneof("job_type") != "internal_event_driven_job":
            continue
        limit = int(getattr(job.internal_event_driven_job, field))
        ident = job_identifier(job)
        if limit > 0 and ident:
            out[ident] = limit
    return out


def check_running_time(conn: Connection, now: int, cache: _Limits | None = None) -> int:
    """Queue the RUNNING_TIME notifications now due; how many were queued."""
    rules = [r for r in store.list_rules(conn) if "RUNNING_TIME" in r.kinds]
    if not rules:
        return 0
    cache = {} if cache is None else cache
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
            i.plan_version,
        )
        .select_from(job_instances.join(instances, i.id == j.instance_id))
        .where(j.status == "RUNNING", j.start_time > 0)
    ).all()
    events = []
    for row in running:
        key = (row.plan_name, int(row.plan_version))
        if key not in cache:
            record = plan_store.get_plan(conn, row.plan_name, int(row.plan_version))
            cache[key] = (
                max_execution_times(plan_pb2.Context.FromString(record.plan)) if record else {}
            )
        limit = cache[key].get(row.job_identifier, 0)
        if not limit or now - int(row.start_time) <= limit:
            continue
        events.append(
            store.NotificationEvent(
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
                reason=f"running for {(now - int(row.start_time)) // 1000} s, longer than "
                f"maxExecutionTime {limit // 1000} s",
            )
        )
    # the same run's RUNNING_TIME is queued once (the reason's seconds change with every
    # check, so the key leaves them out)
    return queue_once(conn, events, now, rules)
