"""HistoryService: the execution history (docs/semantics.md §14). Listing is a viewer's read;
a plan-limited token sees only its plans' runs (pushed into the query, so its pages are full
pages of what it may see) and purges only those. Runs are listed by the record's id, newest
first, with an opaque keyset token."""

from __future__ import annotations

from ikasched.v1 import common_pb2, history_service_pb2, history_service_pb2_grpc
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.services.context import (
    ServiceContext,
    decode_token,
    encode_token,
    not_negative,
    page_size,
)
from ikasched_dashboard.services.errors import Ctx, unary
from ikasched_dashboard.services.views import job_type_value, status_value
from ikasched_dashboard.store import history
from ikasched_dashboard.store import instances as instance_store

_ENDED = frozenset({"COMPLETE", "SKIPPED_COMPLETE", "ERROR", "KILLED"})


def run_proto(run: history.JobRun) -> history_service_pb2.JobRun:
    return history_service_pb2.JobRun(
        id=run.id,
        context_name=run.plan_name,
        plan_version=run.plan_version,
        owner=run.owner,
        context_instance_id=run.instance_id,
        child_context_name=run.child_context,
        job_identifier=run.job_identifier,
        job_name=run.job_name,
        job_type=job_type_value(run.job_type),
        agent_name=run.agent_name,
        agent_hostname=run.agent_hostname,
        attempt=run.attempt,
        status=status_value(run.status),
        start_time=run.start_time,
        end_time=run.end_time,
        duration_ms=run.duration_ms,
        return_code=run.return_code,
        outcome_reason=run.outcome_reason,
        pid=run.pid,
        run_as_user=run.run_as_user,
        output_path=run.output_path,
        error_path=run.error_path,
    )


DEFAULT_LAST_RUNS = 20
MAX_LAST_RUNS = 10_000


def stats_proto(stats: history.JobStats) -> history_service_pb2.JobStats:
    return history_service_pb2.JobStats(
        context_name=stats.plan_name,
        job_identifier=stats.job_identifier,
        runs=stats.runs,
        failures=stats.failures,
        timed_runs=stats.timed_runs,
        mean_ms=stats.mean_ms,
        p50_ms=stats.p50_ms,
        p95_ms=stats.p95_ms,
        max_ms=stats.max_ms,
        last_end_time=stats.last_end_time,
    )


def _statuses(values: list[int]) -> list[str]:
    out = []
    for n, value in enumerate(values):
        name = (
            common_pb2.InstanceStatus.Name(value)
            if value in (common_pb2.InstanceStatus.values())
            else ""
        )
        if name not in _ENDED:
            raise InvalidArgument(
                f"must be one of {', '.join(sorted(_ENDED))}", field=f"statuses[{n}]"
            )
        out.append(name)
    return out


class HistoryServicer(history_service_pb2_grpc.HistoryServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @unary
    async def ListJobRuns(
        self, request: history_service_pb2.ListJobRunsRequest, context: Ctx
    ) -> history_service_pb2.ListJobRunsResponse:
        size = page_size(request.page)
        not_negative(ended_after=request.ended_after, ended_before=request.ended_before)
        if (
            request.ended_after
            and request.ended_before
            and (request.ended_before <= request.ended_after)
        ):
            raise InvalidArgument("must be after ended_after", field="ended_before")
        for n, name in enumerate(request.context_names):
            if not name:
                raise InvalidArgument("must not be empty", field=f"context_names[{n}]")
            self.ctx.plan_access(name)  # naming a plan beyond the token is PERMISSION_DENIED
        if request.context_instance_id:  # a live or ended instance: its plan must be the token's
            iid = request.context_instance_id
            row = await self.ctx.read(lambda c: instance_store.get_instance(c, iid))
            if row is not None:
                self.ctx.plan_access(row.plan_name)
        token = decode_token(request.page.page_token)
        if token is not None and not (isinstance(token, int) and token > 0):
            raise InvalidArgument("not a token this server gave out", field="page.page_token")
        query = history.HistoryQuery(
            plan_names=list(request.context_names),
            instance_id=request.context_instance_id,
            job_identifier=request.job_identifier,
            agent_name=request.agent_name,
            owner=request.owner,
            statuses=_statuses(list(request.statuses)),
            ended_after=request.ended_after,
            ended_before=request.ended_before,
            plans_visible=self.ctx.visible_plans(),
        )
        rows = await self.ctx.read(
            lambda c: history.list_runs(c, query, before_id=token or 0, limit=size + 1)
        )
        more = len(rows) > size
        rows = rows[:size]
        return history_service_pb2.ListJobRunsResponse(
            runs=[run_proto(r) for r in rows],
            next_page_token=encode_token(rows[-1].id) if more else "",
        )

    @unary
    async def PurgeHistory(
        self, request: history_service_pb2.PurgeHistoryRequest, context: Ctx
    ) -> history_service_pb2.PurgeHistoryResponse:
        if request.ended_before <= 0:
            raise InvalidArgument("required: a time in epoch ms", field="ended_before")
        visible = self.ctx.visible_plans()
        deleted = await self.ctx.write(
            lambda c: history.purge_ended_before(c, request.ended_before, visible)
        )
        return history_service_pb2.PurgeHistoryResponse(deleted=deleted)

    @unary
    async def GetJobStats(
        self, request: history_service_pb2.GetJobStatsRequest, context: Ctx
    ) -> history_service_pb2.GetJobStatsResponse:
        not_negative(last_runs=request.last_runs)
        if request.last_runs > MAX_LAST_RUNS:
            raise InvalidArgument(f"at most {MAX_LAST_RUNS}", field="last_runs")
        last = request.last_runs or DEFAULT_LAST_RUNS
        if request.context_name:
            self.ctx.plan_access(request.context_name)
        visible = self.ctx.visible_plans()
        stats = await self.ctx.read(
            lambda c: history.job_stats(
                c,
                last_runs=last,
                plan_name=request.context_name,
                job_identifier=request.job_identifier,
                plans_visible=visible,
            )
        )
        return history_service_pb2.GetJobStatsResponse(stats=[stats_proto(s) for s in stats])
