"""Cross-instance reads for operators: job occurrences over every instance (`list_jobs`) and
the audit trail by instance, job, actor, kind and time (`list_audit`). Both page by keyset
(the last row's key from the previous page), so a page never repeats or skips a row that was
there on both reads, and both take the plans a plan-limited token may see, so its pages are
full pages of what it may see.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, select, tuple_

from ikasched_dashboard.store.changes import AuditEntry, Change
from ikasched_dashboard.store.instances import JobInstanceRow
from ikasched_dashboard.store.schema import audit, instances, job_instances

__all__ = ["AuditQuery", "JobListing", "JobQuery", "list_audit", "list_jobs"]

_LISTING_JOB_FIELDS = tuple(
    c for c in JobInstanceRow.__dataclass_fields__ if c != "last_event"
)  # a listing never carries the event blob


@dataclass(frozen=True, slots=True)
class JobQuery:
    """Filters of `list_jobs` (empty: any). `plans_visible` None: every plan."""

    statuses: Collection[str] = ()
    plan_names: Collection[str] = ()
    agent_name: str = ""
    owner: str = ""
    since_after: int = 0
    since_before: int = 0
    include_ended: bool = False
    plans_visible: Collection[str] | None = None


@dataclass(frozen=True, slots=True)
class JobListing:
    """A job row with its plan, its instance's status and since when it is where it is."""

    job: JobInstanceRow
    plan_name: str
    instance_status: str
    since: int

    @property
    def key(self) -> tuple[int, str, str, str]:
        """The keyset position of this row (the next page starts after it)."""
        return (self.since, self.job.instance_id, self.job.child_context, self.job.job_identifier)


def _since() -> Any:
    """End of the last run, else its start, else the instance's start, else its creation."""
    j, i = job_instances.c, instances.c
    return case(
        (j.end_time > 0, j.end_time),
        (j.start_time > 0, j.start_time),
        (i.start_time > 0, i.start_time),
        else_=i.created_time,
    )


def list_jobs(
    conn: Connection,
    query: JobQuery,
    *,
    after: tuple[int, str, str, str] | None = None,
    limit: int = 100,
) -> list[JobListing]:
    """Job occurrences matching `query`, newest "since" first; page with `after` = the last
    listing's key. PREPARED instances are never listed; ENDED ones only when asked."""
    if query.plans_visible is not None and not query.plans_visible:
        return []
    j, i = job_instances.c, instances.c
    since = _since().label("since")
    stmt = (
        select(*(j[n] for n in _LISTING_JOB_FIELDS), i.plan_name, i.status.label("i_status"), since)
        .select_from(job_instances.join(instances, i.id == j.instance_id))
        .where(i.status != "PREPARED")
    )
    if not query.include_ended:
        stmt = stmt.where(i.status != "ENDED")
    if query.statuses:
        stmt = stmt.where(j.status.in_(list(query.statuses)))
    if query.plan_names:
        stmt = stmt.where(i.plan_name.in_(list(query.plan_names)))
    if query.plans_visible is not None:
        stmt = stmt.where(i.plan_name.in_(list(query.plans_visible)))
    if query.agent_name:
        stmt = stmt.where(j.agent_name == query.agent_name)
    if query.owner:
        stmt = stmt.where(i.owner == query.owner)
    expr = _since()
    if query.since_after:
        stmt = stmt.where(expr >= query.since_after)
    if query.since_before:
        stmt = stmt.where(expr < query.since_before)
    if after is not None:
        stmt = stmt.where(tuple_(expr, j.instance_id, j.child_context, j.job_identifier) < after)
    stmt = stmt.order_by(
        expr.desc(), j.instance_id.desc(), j.child_context.desc(), j.job_identifier.desc()
    ).limit(limit)
    out = []
    for row in conn.execute(stmt):
        m = row._mapping
        job = JobInstanceRow(**{n: m[j[n]] for n in _LISTING_JOB_FIELDS})
        out.append(JobListing(job, m[i.plan_name], m["i_status"], int(m["since"])))
    return out


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of `list_audit` (empty: any). `plans_visible` None: every plan."""

    instance_id: str = ""
    job_identifier: str = ""
    actor: str = ""
    kinds: Collection[str] = ()
    plan_name: str = ""
    after_time: int = 0
    before_time: int = 0
    plans_visible: Collection[str] | None = None


def list_audit(
    conn: Connection, query: AuditQuery, *, after: int = 0, limit: int = 100
) -> list[Change]:
    """Audit rows matching `query`, oldest first; page with `after` = the last position."""
    if query.plans_visible is not None and not query.plans_visible:
        return []
    a = audit.c
    stmt = select(audit).where(a.position > after)
    if query.instance_id:
        stmt = stmt.where(a.instance_id == query.instance_id)
    if query.job_identifier:
        stmt = stmt.where(a.job_identifier == query.job_identifier)
    if query.actor:
        stmt = stmt.where(a.actor == query.actor)
    if query.kinds:
        stmt = stmt.where(a.kind.in_(list(query.kinds)))
    if query.plan_name:
        stmt = stmt.where(a.plan_name == query.plan_name)
    if query.plans_visible is not None:
        stmt = stmt.where(a.plan_name.in_(list(query.plans_visible)))
    if query.after_time:
        stmt = stmt.where(a.time >= query.after_time)
    if query.before_time:
        stmt = stmt.where(a.time < query.before_time)
    stmt = stmt.order_by(a.position).limit(limit)
    names = AuditEntry.__dataclass_fields__
    return [
        Change(int(r._mapping["position"]), AuditEntry(**{n: r._mapping[n] for n in names}))
        for r in conn.execute(stmt)
    ]
