"""The two cross-instance reads: ListJobs (JobService) and ListAudit (InstanceService).

Both check their filters (a bad one is INVALID_ARGUMENT naming the field), push a
plan-limited token's plans into the query itself (its pages are full pages of what it may
see), and page by keyset with an opaque token.
"""

from __future__ import annotations

from ikasched.v1 import common_pb2, instance_service_pb2, job_service_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.services.context import (
    ServiceContext,
    decode_token,
    encode_token,
    not_negative,
    page_size,
)
from ikasched_dashboard.services.views import job_proto, status_value
from ikasched_dashboard.store import queries
from ikasched_dashboard.store.changes import AUDIT_KINDS

__all__ = ["list_audit", "list_jobs"]


def _statuses(values: list[int], field_name: str) -> list[str]:
    out = []
    for n, value in enumerate(values):
        if value == common_pb2.INSTANCE_STATUS_UNSPECIFIED or value not in (
            common_pb2.InstanceStatus.values()
        ):
            raise InvalidArgument("must be a status", field=f"{field_name}[{n}]")
        out.append(common_pb2.InstanceStatus.Name(value))
    return out


def _job_token(token: str) -> tuple[int, str, str, str] | None:
    value = decode_token(token)
    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 4
        and isinstance(value[0], int)
        and all(isinstance(v, str) for v in value[1:])
    ):
        raise InvalidArgument("not a token this server gave out", field="page.page_token")
    return (value[0], value[1], value[2], value[3])


async def list_jobs(
    ctx: ServiceContext, request: job_service_pb2.ListJobsRequest
) -> job_service_pb2.ListJobsResponse:
    size = page_size(request.page)
    not_negative(since_after=request.since_after, since_before=request.since_before)
    for n, name in enumerate(request.context_names):
        if not name:
            raise InvalidArgument("must not be empty", field=f"context_names[{n}]")
        ctx.plan_access(name)  # naming a plan beyond the token is PERMISSION_DENIED
    query = queries.JobQuery(
        statuses=_statuses(list(request.statuses), "statuses"),
        plan_names=list(request.context_names),
        agent_name=request.agent_name,
        owner=request.owner,
        since_after=request.since_after,
        since_before=request.since_before,
        include_ended=request.include_ended,
        plans_visible=ctx.visible_plans(),
    )
    after = _job_token(request.page.page_token)
    rows = await ctx.read(lambda c: queries.list_jobs(c, query, after=after, limit=size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return job_service_pb2.ListJobsResponse(
        jobs=[
            job_service_pb2.JobListing(
                job=job_proto(r.job, with_event=False),
                context_name=r.plan_name,
                instance_status=status_value(r.instance_status),
                since=r.since,
            )
            for r in rows
        ],
        next_page_token=encode_token(list(rows[-1].key)) if more else "",
    )


async def list_audit(
    ctx: ServiceContext, request: instance_service_pb2.ListAuditRequest
) -> instance_service_pb2.ListAuditResponse:
    size = page_size(request.page)
    not_negative(after_time=request.after_time, before_time=request.before_time)
    for n, kind in enumerate(request.kinds):
        if kind not in AUDIT_KINDS:
            raise InvalidArgument(
                f"{kind!r} is not one of {', '.join(AUDIT_KINDS)}", field=f"kinds[{n}]"
            )
    if request.context_name:
        ctx.plan_access(request.context_name)
    if request.context_instance_id:
        await ctx.instance_row(request.context_instance_id)  # NOT_FOUND, or not its plan
    token = decode_token(request.page.page_token)
    if token is not None and not (isinstance(token, int) and token >= 0):
        raise InvalidArgument("not a token this server gave out", field="page.page_token")
    query = queries.AuditQuery(
        instance_id=request.context_instance_id,
        job_identifier=request.job_identifier,
        actor=request.actor,
        kinds=list(request.kinds),
        plan_name=request.context_name,
        after_time=request.after_time,
        before_time=request.before_time,
        plans_visible=ctx.visible_plans(),
    )
    rows = await ctx.read(lambda c: queries.list_audit(c, query, after=token or 0, limit=size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return instance_service_pb2.ListAuditResponse(
        records=[
            instance_service_pb2.AuditRecord(
                position=r.position,
                time=r.entry.time,
                kind=r.entry.kind,
                context_instance_id=r.entry.instance_id,
                context_name=r.entry.plan_name,
                job_identifier=r.entry.job_identifier,
                child_context_name=r.entry.child_context,
                previous_status=status_value(r.entry.from_status),
                new_status=status_value(r.entry.to_status),
                cause=r.entry.cause,
                actor=r.entry.actor,
                detail=r.entry.detail,
            )
            for r in rows
        ],
        next_page_token=encode_token(rows[-1].position) if more else "",
    )
