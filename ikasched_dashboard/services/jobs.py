"""JobService: every job verb as an engine input through Orchestration.apply, kills through
kill_job, and job logs through a LogFetcher."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from ikasched.v1 import agent_pb2, common_pb2, job_service_pb2, job_service_pb2_grpc
from ikasched_common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from ikasched_common.suggest import did_you_mean
from ikasched_dashboard.engine import inputs as verbs
from ikasched_dashboard.interfaces import VerbResult
from ikasched_dashboard.sealing import seal_for_plan, secret_given
from ikasched_dashboard.services import queries
from ikasched_dashboard.services.context import (
    LogRequest,
    ServiceContext,
    not_negative,
    parameter_pairs,
    require,
)
from ikasched_dashboard.services.errors import Ctx, stream, unary
from ikasched_dashboard.services.views import (
    AGENT_JOB_TYPES,
    PlanIndex,
    job_proto,
    job_type_value,
)
from ikasched_dashboard.store import instances as instance_store


@dataclass(frozen=True, slots=True)
class JobTarget:
    """A verb's job occurrence(s), checked against the store."""

    instance: instance_store.InstanceRow
    job_identifier: str
    # The occurrence the engine starts from (the residing context when none was named).
    child_context_name: str
    # Every occurrence row of the job in the instance.
    occurrences: tuple[instance_store.JobInstanceRow, ...]
    named_child: bool


async def live_instance(
    ctx: ServiceContext, instance_id: str, field_name: str
) -> instance_store.InstanceRow:
    row = await ctx.instance_row(instance_id, field_name=field_name)
    if row.status == "ENDED":
        raise FailedPrecondition(f"instance {instance_id} has ENDED")
    return row


async def resolve_job(
    ctx: ServiceContext, ref: common_pb2.JobRef, prefix: str = "job", index: PlanIndex | None = None
) -> JobTarget:
    """Check a JobRef: fields present, instance known and not ended, job in it."""
    require(ref.context_instance_id, f"{prefix}.context_instance_id")
    require(ref.job_identifier, f"{prefix}.job_identifier")
    row = await live_instance(ctx, ref.context_instance_id, f"{prefix}.context_instance_id")
    rows = await ctx.read(lambda c: instance_store.jobs_of_instance(c, row.id))
    found = tuple(j for j in rows if j.job_identifier == ref.job_identifier)
    if not found:
        hint = did_you_mean(ref.job_identifier, (j.job_identifier for j in rows))
        raise NotFound(f"job {ref.job_identifier!r} not found in instance {row.id}{hint}")
    child = ref.child_context_name
    if child:
        if not any(j.child_context == child for j in found):
            hint = did_you_mean(child, (j.child_context for j in found))
            raise NotFound(f"job {ref.job_identifier!r} not found in child context {child!r}{hint}")
    else:
        residing = index.residing.get(ref.job_identifier, "") if index is not None else ""
        child = (
            residing
            if any(j.child_context == residing for j in found)
            else (found[0].child_context)
        )
    return JobTarget(row, ref.job_identifier, child, found, bool(ref.child_context_name))


class JobServicer(job_service_pb2_grpc.JobServiceServicer):
    """The JobService RPCs."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._indexes: dict[tuple[str, int], PlanIndex] = {}

    async def index(self, row: instance_store.InstanceRow) -> PlanIndex | None:
        key = (row.plan_name, row.plan_version)
        if key not in self._indexes:
            try:
                plan = await self.ctx.plan_proto(row.plan_name, row.plan_version)
            except NotFound:
                return None
            self._indexes[key] = PlanIndex.of(plan)
        return self._indexes[key]

    async def _target(self, ref: common_pb2.JobRef) -> JobTarget:
        require(ref.context_instance_id, "job.context_instance_id")
        row = await self.ctx.instance_row(
            ref.context_instance_id, field_name="job.context_instance_id"
        )
        return await resolve_job(self.ctx, ref, index=await self.index(row))

    async def _answer(
        self, instance_id: str, result: VerbResult, fallback: Sequence[tuple[str, str]] = ()
    ) -> job_service_pb2.JobVerbResponse:
        rows = await self.ctx.read(lambda c: instance_store.jobs_of_instance(c, instance_id))
        wanted = set(result.changed_jobs) or set(fallback)
        row = await self.ctx.instance_row(instance_id)
        index = await self.index(row)
        statuses = {(j.child_context, j.job_identifier): j for j in rows}
        return job_service_pb2.JobVerbResponse(
            jobs=[
                job_proto(j, index, statuses)
                for j in rows
                if (j.job_identifier, j.child_context) in wanted
            ],
            ignored=list(result.ignored),
        )

    @unary
    async def ListJobs(
        self, request: job_service_pb2.ListJobsRequest, context: Ctx
    ) -> job_service_pb2.ListJobsResponse:
        return await queries.list_jobs(self.ctx, request)

    async def _job_verb(
        self,
        ref: common_pb2.JobRef,
        make: type[verbs.Hold] | type[verbs.Release] | type[verbs.ResetJob],
        name: str,
    ) -> job_service_pb2.JobVerbResponse:
        target = await self._target(ref)
        verb = make(
            target.job_identifier,
            target.child_context_name,
            actor=self.ctx.actor(),
            time_ms=self.ctx.now_ms(),
            id=f"verb:{name}",
        )
        result = await self.ctx.orchestration.apply(target.instance.id, verb)
        return await self._answer(target.instance.id, result, _keys(target))

    @unary
    async def HoldJob(
        self, request: job_service_pb2.JobVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._job_verb(request.job, verbs.Hold, "hold")

    @unary
    async def ReleaseJob(
        self, request: job_service_pb2.JobVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._job_verb(request.job, verbs.Release, "release")

    @unary
    async def ResetJob(
        self, request: job_service_pb2.JobVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._job_verb(request.job, verbs.ResetJob, "reset")

    async def _skip(self, ref: common_pb2.JobRef, skip: bool) -> job_service_pb2.JobVerbResponse:
        target = await self._target(ref)
        verb = verbs.Skip(
            target.job_identifier,
            target.child_context_name,
            skip=skip,
            actor=self.ctx.actor(),
            time_ms=self.ctx.now_ms(),
            id="verb:skip" if skip else "verb:unskip",
        )
        result = await self.ctx.orchestration.apply(target.instance.id, verb)
        return await self._answer(target.instance.id, result, _keys(target))

    @unary
    async def SkipJob(
        self, request: job_service_pb2.JobVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._skip(request.job, True)

    @unary
    async def UnskipJob(
        self, request: job_service_pb2.JobVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._skip(request.job, False)

    @unary
    async def AcknowledgeError(
        self, request: job_service_pb2.AcknowledgeErrorRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        target = await self._target(request.job)
        verb = verbs.AcknowledgeError(
            target.job_identifier,
            target.child_context_name,
            actor=self.ctx.actor(),
            message=request.message,
            ticket_id=request.ticket_id,
            time_ms=self.ctx.now_ms(),
            id="verb:acknowledge",
        )
        result = await self.ctx.orchestration.apply(target.instance.id, verb)
        return await self._answer(target.instance.id, result, _keys(target))

    @unary
    async def ResubmitJob(
        self, request: job_service_pb2.JobVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        target = await self._target(request.job)
        first = target.occurrences[0]
        event = verbs.ProcessEvent(
            id=f"verb:resubmit:{uuid.uuid4()}",
            agent_name=first.agent_name,
            job_name=first.job_name,
            job_identifier=target.job_identifier,
            child_context_names=(target.child_context_name,) if target.named_child else (),
            successful=True,
            raised_due_to_failure_resubmission=True,
            time_ms=self.ctx.now_ms(),
        )
        result = await self.ctx.orchestration.apply(target.instance.id, event)
        return await self._answer(target.instance.id, result, _keys(target))

    @unary
    async def KillJob(
        self, request: job_service_pb2.KillJobRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        target = await self._target(request.job)
        result = await self.ctx.orchestration.kill_job(
            target.instance.id,
            target.job_identifier,
            target.child_context_name,
            destroy=request.destroy,
            actor=self.ctx.actor(),
        )
        return await self._answer(target.instance.id, result, _keys(target))

    @unary
    async def RunJob(
        self, request: job_service_pb2.RunJobRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        target = await self._target(request.job)
        given = parameter_pairs(request.context_parameters)
        if given and self.ctx.secret_box is not None:
            plan = await self.ctx.plan_record(
                target.instance.plan_name, target.instance.plan_version
            )
            given = seal_for_plan(
                self.ctx.secret_box, plan.plan, given, secret_given(request.context_parameters)
            )
        verb = verbs.ManualRun(
            target.job_identifier,
            target.child_context_name,
            actor=self.ctx.actor(),
            parameters=given,
            time_ms=self.ctx.now_ms(),
            id="verb:run",
        )
        result = await self.ctx.orchestration.apply(target.instance.id, verb)
        return await self._answer(target.instance.id, result, _keys(target))

    async def _child_verb(
        self, instance_id: str, child: str, verb: verbs.HoldAll | verbs.ReleaseAll | verbs.SkipAll
    ) -> job_service_pb2.JobVerbResponse:
        row = await live_instance(self.ctx, instance_id, "context_instance_id")
        require(child, "child_context_name")
        index = await self.index(row)
        if index is not None and child not in index.context_names:
            raise NotFound(f"child context {child!r} not found in plan {row.plan_name}")
        result = await self.ctx.orchestration.apply(row.id, verb)
        return await self._answer(row.id, result)

    @unary
    async def HoldAllJobs(
        self, request: job_service_pb2.ChildContextVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._child_verb(
            request.context_instance_id,
            request.child_context_name,
            verbs.HoldAll(
                request.child_context_name,
                actor=self.ctx.actor(),
                time_ms=self.ctx.now_ms(),
                id="verb:hold-all",
            ),
        )

    @unary
    async def ReleaseAllJobs(
        self, request: job_service_pb2.ChildContextVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._child_verb(
            request.context_instance_id,
            request.child_context_name,
            verbs.ReleaseAll(
                request.child_context_name,
                actor=self.ctx.actor(),
                time_ms=self.ctx.now_ms(),
                id="verb:release-all",
            ),
        )

    @unary
    async def SkipAllJobs(
        self, request: job_service_pb2.SkipAllJobsRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._child_verb(
            request.context_instance_id,
            request.child_context_name,
            verbs.SkipAll(
                request.child_context_name,
                skip=request.skip,
                actor=self.ctx.actor(),
                time_ms=self.ctx.now_ms(),
                id="verb:skip-all" if request.skip else "verb:unskip-all",
            ),
        )

    async def _instance_verb(
        self, instance_id: str, verb: verbs.Input
    ) -> job_service_pb2.JobVerbResponse:
        row = await live_instance(self.ctx, instance_id, "context_instance_id")
        result = await self.ctx.orchestration.apply(row.id, verb)
        return await self._answer(row.id, result)

    @unary
    async def DisableCronJobs(
        self, request: job_service_pb2.InstanceVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._instance_verb(
            request.context_instance_id,
            verbs.DisableQuartzJobs(
                actor=self.ctx.actor(), time_ms=self.ctx.now_ms(), id="verb:disable-cron-jobs"
            ),
        )

    @unary
    async def EnableCronJobs(
        self, request: job_service_pb2.InstanceVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._instance_verb(
            request.context_instance_id,
            verbs.EnableQuartzJobs(
                actor=self.ctx.actor(), time_ms=self.ctx.now_ms(), id="verb:enable-cron-jobs"
            ),
        )

    @unary
    async def ReleaseQueuedJobs(
        self, request: job_service_pb2.InstanceVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._instance_verb(
            request.context_instance_id,
            verbs.ReleaseQueuedJobs(
                actor=self.ctx.actor(), time_ms=self.ctx.now_ms(), id="verb:release-queued"
            ),
        )

    @unary
    async def KillRunningJobs(
        self, request: job_service_pb2.InstanceVerbRequest, context: Ctx
    ) -> job_service_pb2.JobVerbResponse:
        return await self._instance_verb(
            request.context_instance_id,
            verbs.KillRunningJobs(
                actor=self.ctx.actor(), time_ms=self.ctx.now_ms(), id="verb:kill-running"
            ),
        )

    @stream
    async def GetJobLogs(
        self, request: job_service_pb2.GetJobLogsRequest, context: Ctx
    ) -> AsyncIterator[agent_pb2.LogChunk]:
        not_negative(offset=request.offset, max_bytes=request.max_bytes)
        require(request.job.context_instance_id, "job.context_instance_id")
        require(request.job.job_identifier, "job.job_identifier")
        row = await self.ctx.instance_row(
            request.job.context_instance_id, field_name="job.context_instance_id"
        )
        rows = await self.ctx.read(lambda c: instance_store.jobs_of_instance(c, row.id))
        found = [
            j
            for j in rows
            if j.job_identifier == request.job.job_identifier
            and (
                not request.job.child_context_name
                or j.child_context == request.job.child_context_name
            )
        ]
        if not found:
            hint = did_you_mean(request.job.job_identifier, (j.job_identifier for j in rows))
            raise NotFound(
                f"job {request.job.job_identifier!r} not found in instance {row.id}{hint}"
            )
        job = found[0]
        if job_type_value(job.job_type) not in AGENT_JOB_TYPES:
            raise FailedPrecondition(f"job {job.job_identifier} is virtual: it has no logs")
        if request.initiation_id and not request.initiation_id.startswith(f"{row.id}:"):
            # an initiation of another instance would reach another plan's logs
            raise InvalidArgument(f"not an initiation of instance {row.id}", field="initiation_id")
        initiation = request.initiation_id or job.initiation_id
        if not initiation:
            raise NotFound(f"job {job.job_identifier} has not run in instance {row.id}")
        if self.ctx.log_fetcher is None:
            raise Unavailable("job logs are not available: no agent gateway")
        fetch = LogRequest(
            agent_name=job.agent_name,
            initiation_id=initiation,
            stream=request.stream,
            offset=request.offset,
            follow=request.follow,
            max_bytes=request.max_bytes,
        )
        async for chunk in self.ctx.log_fetcher.fetch(fetch):
            yield chunk


def _keys(target: JobTarget) -> list[tuple[str, str]]:
    if target.named_child:
        return [(target.job_identifier, target.child_context_name)]
    return [(j.job_identifier, j.child_context) for j in target.occurrences]
