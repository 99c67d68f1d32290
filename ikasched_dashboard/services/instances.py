"""InstanceService: list/get/watch instances, create/end/reset them, instance-wide verbs.

WatchInstances follows the store's change log (the audit table): it reads the rows after a
position, sends them in position order, and polls for new commits every
`ServiceContext.watch_poll_seconds`. A client resumes after a reconnect by sending the last
position it saw; nothing committed after it is missed, since positions follow commit order.
"""

from __future__ import annotations

import asyncio
import functools
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import Connection

from ikasched.v1 import (
    common_pb2,
    instance_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
)
from ikasched_common.errors import InvalidArgument, NotFound, OutOfRange
from ikasched_dashboard.engine import inputs as verbs
from ikasched_dashboard.plans.convert import dry_run_from_proto, initiation_to_proto
from ikasched_dashboard.sealing import seal_for_plan, secret_given
from ikasched_dashboard.services import queries
from ikasched_dashboard.services.context import (
    ServiceContext,
    decode_token,
    encode_token,
    not_negative,
    page_size,
    parameter_pairs,
    require,
)
from ikasched_dashboard.services.errors import Ctx, stream, unary
from ikasched_dashboard.services.jobs import live_instance, resolve_job
from ikasched_dashboard.services.views import PlanIndex, change_proto, instance_proto
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import missed_runs as missed_store
from ikasched_dashboard.store import plans as plan_store

# With a commit signal, a watch still looks at the change log this often (commits made by
# another process, or a missed wake-up).
WATCH_FALLBACK_POLL_SECONDS = 1.0
WATCH_BATCH = 500
_ALL = 1_000_000


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_KEYED = uuid.UUID("5d0c6f0e-3b8e-4a43-9a53-6c1f1f9e2a71")  # this project's namespace for keys


def keyed_instance_id(request_id: str, actor: str, plan_name: str) -> str:
    """The id a keyed CreateInstance gives its instance: the same for the same caller, plan
    and key, so a retried call finds what the first made."""
    if not _REQUEST_ID.fullmatch(request_id):
        raise InvalidArgument("must be 1-128 characters of A-Z a-z 0-9 . _ : -", field="request_id")
    return uuid.uuid5(_KEYED, f"{actor}\x00{plan_name}\x00{request_id}").hex


class InstanceServicer(instance_service_pb2_grpc.InstanceServiceServicer):
    """The InstanceService RPCs."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._indexes: dict[tuple[str, int], PlanIndex] = {}
        # keyed creations one at a time: the check for the key's instance and its creation
        # must not interleave with a retry of the same call
        self._keyed = asyncio.Lock()

    async def index(self, plan_name: str, version: int) -> PlanIndex | None:
        key = (plan_name, version)
        if key not in self._indexes:
            try:
                plan = await self.ctx.plan_proto(plan_name, version)
            except NotFound:
                return None
            self._indexes[key] = PlanIndex.of(plan)
        return self._indexes[key]

    def _snapshot(self, data: bytes | None) -> Mapping[str, Any] | None:
        if not data:
            return None
        try:
            return self.ctx.snapshot_decoder(data)
        except ValueError:
            return None

    async def full(
        self, instance_id: str, *, field_name: str = "context_instance_id"
    ) -> instance_pb2.ContextInstance:
        """One instance with contexts, parameters and every job."""
        require(instance_id, field_name)

        def load(
            c: Connection,
        ) -> tuple[
            instance_store.InstanceRow | None, list[instance_store.JobInstanceRow], bytes | None
        ]:
            row = instance_store.get_instance(c, instance_id)
            if row is None:
                return None, [], None
            snap = instance_store.get_snapshot(c, instance_id)
            return (
                row,
                instance_store.jobs_of_instance(c, instance_id),
                (snap.snapshot if snap is not None else None),
            )

        row, jobs, snap = await self.ctx.read(load)
        if row is None:
            raise NotFound(f"instance {instance_id!r} not found")
        self.ctx.plan_access(row.plan_name)
        index = await self.index(row.plan_name, row.plan_version)
        return instance_proto(
            row,
            index=index,
            snapshot=self._snapshot(snap),
            jobs=jobs,
            load_error=self.ctx.quarantined_instances.get(row.id, ""),
        )

    @unary
    async def ListInstances(
        self, request: instance_service_pb2.ListInstancesRequest, context: Ctx
    ) -> instance_service_pb2.ListInstancesResponse:
        size = page_size(request.page)
        statuses: list[str] = []
        for n, value in enumerate(request.statuses):
            if value == common_pb2.INSTANCE_STATUS_UNSPECIFIED:
                raise InvalidArgument("must be a status", field=f"statuses[{n}]")
            statuses.append(common_pb2.InstanceStatus.Name(value))
        excluding: list[str] = []
        if not statuses:
            if not request.include_ended:
                excluding.append("ENDED")
            if not request.include_prepared:
                excluding.append("PREPARED")
        token = decode_token(request.page.page_token)
        before: tuple[int, str] | None = None
        if token is not None:
            if not (isinstance(token, list) and len(token) == 2):
                raise InvalidArgument("not a token this server gave out", field="page.page_token")
            before = (int(token[0]), str(token[1]))
        not_negative(started_after=request.started_after, started_before=request.started_before)
        if request.context_name:
            self.ctx.plan_access(request.context_name)
        visible = self.ctx.visible_plans()
        rows = await self.ctx.read(
            lambda c: instance_store.list_instances(
                c,
                plan_names=visible,
                plan_name=request.context_name,
                statuses=statuses,
                excluding_statuses=excluding,
                started_after=request.started_after,
                started_before=request.started_before,
                before=before,
                limit=size + 1,
            )
        )
        more = len(rows) > size
        rows = rows[:size]
        return instance_service_pb2.ListInstancesResponse(
            instances=[
                instance_proto(r, load_error=self.ctx.quarantined_instances.get(r.id, ""))
                for r in rows
                if self.ctx.may_see(r.plan_name)
            ],
            next_page_token=encode_token([rows[-1].created_time, rows[-1].id]) if more else "",
        )

    @unary
    async def ListAudit(
        self, request: instance_service_pb2.ListAuditRequest, context: Ctx
    ) -> instance_service_pb2.ListAuditResponse:
        return await queries.list_audit(self.ctx, request)

    @unary
    async def GetInstance(
        self, request: instance_service_pb2.GetInstanceRequest, context: Ctx
    ) -> instance_pb2.ContextInstance:
        return await self.full(request.context_instance_id)

    @stream
    async def WatchInstances(
        self, request: instance_service_pb2.WatchInstancesRequest, context: Ctx
    ) -> AsyncIterator[instance_service_pb2.WatchInstancesResponse]:
        plan_name, instance_id = request.context_name, request.context_instance_id
        if plan_name:
            self.ctx.plan_access(plan_name)
        if instance_id:
            await self.ctx.instance_row(instance_id)
        visible = self.ctx.visible_plans()

        def start(c: Connection) -> tuple[int, list[str]]:
            last = change_store.last_position(c)
            ids: list[str] = []
            if request.send_initial:
                if instance_id:
                    ids = [instance_id] if instance_store.get_instance(c, instance_id) else []
                else:
                    ids = [
                        r.id
                        for r in instance_store.list_instances(
                            c,
                            plan_name=plan_name,
                            excluding_statuses=("ENDED", "PREPARED"),
                            limit=_ALL,
                        )
                    ]
            return last, ids

        last, ids = await self.ctx.read(start)
        if request.after_position > last:
            raise OutOfRange(
                f"after_position: {request.after_position} is beyond the change log's end ({last})"
            )
        position = request.after_position or last
        for iid in ids:
            if visible is not None and not instance_id:
                row = await self.ctx.read(
                    functools.partial(instance_store.get_instance, instance_id=iid)
                )
                if row is None or row.plan_name not in visible:
                    continue
            try:
                snapshot = await self.full(iid)
            except NotFound:
                continue
            yield instance_service_pb2.WatchInstancesResponse(snapshot=snapshot)
        signal = self.ctx.commit_signal
        while True:
            mark = signal.mark() if signal is not None else None
            changes = await self.ctx.read(
                functools.partial(
                    change_store.changes_after,
                    position=position,
                    plan_name=plan_name,
                    instance_id=instance_id,
                    limit=WATCH_BATCH,
                )
            )
            for change in changes:
                position = change.position
                if visible is not None and change.entry.plan_name not in visible:
                    continue
                item = change_proto(change)
                if item is not None:
                    yield instance_service_pb2.WatchInstancesResponse(change=item)
            if len(changes) < WATCH_BATCH:
                if signal is None or mark is None:
                    await asyncio.sleep(self.ctx.watch_poll_seconds)
                else:
                    await signal.wait(mark, WATCH_FALLBACK_POLL_SECONDS)

    @unary
    async def CreateInstance(
        self, request: instance_service_pb2.CreateInstanceRequest, context: Ctx
    ) -> instance_pb2.ContextInstance:
        record = await self.ctx.plan_record(request.context_name, field_name="context_name")
        if not request.request_id:
            return await self.full(await self._create(request, record, ""))
        keyed = keyed_instance_id(request.request_id, self.ctx.actor(), record.name)
        async with self._keyed:
            made = await self.ctx.read(lambda c: instance_store.get_instance(c, keyed))
            if made is None:
                await self._create(request, record, keyed)
        return await self.full(keyed)

    async def _create(
        self,
        request: instance_service_pb2.CreateInstanceRequest,
        record: plan_store.PlanRecord,
        instance_id: str,
    ) -> str:
        return await self.ctx.lifecycle.create_manual(
            record.name,
            instance_id=instance_id,
            actor=self.ctx.actor(),
            parameters=seal_for_plan(
                self.ctx.secret_box,
                record.plan,
                parameter_pairs(request.context_parameters),
                secret_given(request.context_parameters),
            ),
            hold_command_jobs=request.hold_command_jobs,
            ignore_blackout=request.ignore_blackout,
        )

    @unary
    async def EndInstance(
        self, request: instance_service_pb2.EndInstanceRequest, context: Ctx
    ) -> instance_pb2.ContextInstance:
        row = await self.ctx.instance_row(request.context_instance_id)
        await self.ctx.lifecycle.end_instance(
            row.id, actor=self.ctx.actor(), kill_running_jobs=not request.keep_running_jobs
        )
        return await self.full(row.id)

    @unary
    async def ResetInstance(
        self, request: instance_service_pb2.ResetInstanceRequest, context: Ctx
    ) -> instance_pb2.ContextInstance:
        row = await live_instance(self.ctx, request.context_instance_id, "context_instance_id")
        given = parameter_pairs(request.context_parameters)
        values: dict[str, str] = {}
        if request.initiate_with_same_parameters:
            snap = await self.ctx.read(lambda c: instance_store.get_snapshot(c, row.id))
            decoded = self._snapshot(snap.snapshot if snap is not None else None) or {}
            old = decoded.get("parameters")
            if isinstance(old, dict):
                values.update({str(k): str(v) for k, v in old.items()})
        values.update(given)
        if given and self.ctx.secret_box is not None:
            plan = await self.ctx.plan_record(row.plan_name, row.plan_version)
            values.update(
                seal_for_plan(
                    self.ctx.secret_box, plan.plan, given, secret_given(request.context_parameters)
                )
            )
        new_id = await self.ctx.lifecycle.reset_instance(
            row.id,
            actor=self.ctx.actor(),
            parameters=tuple(values.items()),
            hold_command_jobs=request.hold_command_jobs,
        )
        return await self.full(new_id)

    async def _verb(self, instance_id: str, verb: verbs.Input) -> instance_pb2.ContextInstance:
        row = await live_instance(self.ctx, instance_id, "context_instance_id")
        await self.ctx.orchestration.apply(row.id, verb)
        return await self.full(row.id)

    @unary
    async def RunUntilManuallyEnded(
        self, request: instance_service_pb2.RunUntilManuallyEndedRequest, context: Ctx
    ) -> instance_pb2.ContextInstance:
        out = await self._verb(
            request.context_instance_id,
            verbs.RunUntilManuallyEnded(
                request.enabled,
                actor=self.ctx.actor(),
                time_ms=self.ctx.now_ms(),
                id="verb:run-until-manually-ended",
            ),
        )
        await self.ctx.lifecycle.run_until_manually_ended_changed(out.id, request.enabled)
        return out

    @unary
    async def UpdateContextParameters(
        self, request: instance_service_pb2.UpdateContextParametersRequest, context: Ctx
    ) -> instance_pb2.ContextInstance:
        row = await live_instance(self.ctx, request.context_instance_id, "context_instance_id")
        pairs = parameter_pairs(request.context_parameters)
        if not pairs:
            raise InvalidArgument("give at least one parameter", field="context_parameters")
        current = await self.full(row.id)
        known = {p.name for p in current.context_parameters}
        for n, (name, _value) in enumerate(pairs):
            if name not in known:
                raise InvalidArgument(
                    f"unknown parameter {name!r} (known: {sorted(known)})",
                    field=f"context_parameters[{n}].name",
                )
        if self.ctx.secret_box is not None:
            plan = await self.ctx.plan_record(row.plan_name, row.plan_version)
            pairs = seal_for_plan(
                self.ctx.secret_box, plan.plan, pairs, secret_given(request.context_parameters)
            )
        return await self._verb(
            row.id,
            verbs.UpdateParameters(
                pairs,
                actor=self.ctx.actor(),
                time_ms=self.ctx.now_ms(),
                id="verb:update-parameters",
            ),
        )

    @unary
    async def SetDryRun(
        self, request: instance_service_pb2.SetDryRunRequest, context: Ctx
    ) -> instance_pb2.ContextInstance:
        params = (
            dry_run_from_proto(request.dry_run_parameters)
            if request.HasField("dry_run_parameters")
            else None
        )
        p = request.dry_run_parameters
        if p.job_error_percentage < 0 or p.job_error_percentage > 100:
            raise InvalidArgument(
                "must be between 0 and 100", field="dry_run_parameters.job_error_percentage"
            )
        if p.min_execution_time_millis > p.max_execution_time_millis > 0:
            raise InvalidArgument(
                "must not be below min_execution_time_millis",
                field="dry_run_parameters.max_execution_time_millis",
            )
        return await self._verb(
            request.context_instance_id,
            verbs.SetDryRun(
                request.dry_run,
                params,
                actor=self.ctx.actor(),
                time_ms=self.ctx.now_ms(),
                id="verb:dry-run",
            ),
        )

    @unary
    async def GetEventsThatCanRun(
        self, request: instance_service_pb2.GetEventsThatCanRunRequest, context: Ctx
    ) -> instance_service_pb2.GetEventsThatCanRunResponse:
        target = await resolve_job(self.ctx, request.job)
        raised = self.ctx.orchestration.events_that_can_run(
            target.instance.id,
            target.job_identifier,
            target.child_context_name if target.named_child else "",
        )
        return instance_service_pb2.GetEventsThatCanRunResponse(
            initiations=[initiation_to_proto(i) for i in raised]
        )

    @unary
    async def ListMissedRuns(
        self, request: instance_service_pb2.ListMissedRunsRequest, context: Ctx
    ) -> instance_service_pb2.ListMissedRunsResponse:
        size = page_size(request.page)
        token = decode_token(request.page.page_token)
        if token is not None and not isinstance(token, int):
            raise InvalidArgument("not a token this server gave out", field="page.page_token")
        if request.context_name:
            self.ctx.plan_access(request.context_name)
        records = await self.ctx.read(
            lambda c: missed_store.list_missed_runs(c, plan_name=request.context_name, limit=_ALL)
        )
        newest = [
            r
            for r in reversed(records)
            if (token is None or r.id < token) and self.ctx.may_see(r.plan_name)
        ]
        page, more = newest[:size], len(newest) > size
        return instance_service_pb2.ListMissedRunsResponse(
            missed_runs=[
                instance_pb2.MissedRun(
                    context_name=r.plan_name,
                    scheduled_time=r.scheduled_time,
                    detected_time=r.detected_time,
                    reason=r.reason,
                )
                for r in page
            ],
            next_page_token=encode_token(page[-1].id) if more else "",
        )
