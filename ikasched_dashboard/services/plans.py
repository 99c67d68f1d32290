"""PlanService: provision, validate, read, export, delete, enable/disable plans, next fire times."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from ikasched.v1 import plan_pb2, plan_service_pb2, plan_service_pb2_grpc
from ikasched_common.blackout import Blackout, epoch_ms, from_epoch_ms
from ikasched_common.calendar_jobs import (
    cron_job_calendars,
    cron_job_trigger,
    with_calendar_documents,
)
from ikasched_common.calendar_trigger import CalendarTrigger, check_shift
from ikasched_common.errors import FailedPrecondition, InvalidArgument, NotFound
from ikasched_common.quartz import CronTrigger, zone
from ikasched_dashboard.lifecycle import PlanWindow
from ikasched_dashboard.plans.convert import plan_from_proto
from ikasched_dashboard.plans.loader import dump_plan
from ikasched_dashboard.plans.validation import (
    Severity,
    ValidationProblem,
    problems_to_proto,
    validate_plan,
)
from ikasched_dashboard.sealing import seal_plan
from ikasched_dashboard.services.context import (
    ServiceContext,
    decode_token,
    encode_token,
    not_negative,
    page_size,
    require,
)
from ikasched_dashboard.services.errors import Ctx, unary
from ikasched_dashboard.services.plan_diff import plan_changes
from ikasched_dashboard.services.plan_rules import plan_rules
from ikasched_dashboard.services.plan_size import check_plan_sendable
from ikasched_dashboard.services.views import agent_names, masked_plan, plan_jobs, unmask_secrets
from ikasched_dashboard.store import calendars as calendar_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import notifications as notification_store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import write_transaction

MAX_FIRE_TIMES = 1000
DEFAULT_FIRE_TIMES = 10


# Fields compared one by one in the change summary; the structure is compared separately.
def plan_bytes(plan: plan_pb2.Context) -> tuple[bytes, str]:
    """Canonical bytes of a plan and their hash (same plan, same hash)."""
    data = plan.SerializeToString(deterministic=True)
    return data, hashlib.sha256(data).hexdigest()


def check_plan(plan: plan_pb2.Context) -> list[ValidationProblem]:
    """Every problem; InvalidArgument listing every error (with its path) if there are any."""
    problems = validate_plan(plan)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        lines = "\n  ".join(str(p) for p in errors)
        raise InvalidArgument(
            f"{len(errors)} error(s):\n  {lines}",
            field=f"plan.{errors[0].path}" if errors[0].path else "plan",
        )
    plan_from_proto(plan)  # the engine's compiler agrees with validation; a last guard
    PlanWindow.of(plan)
    return problems


def load_error_text(exc: BaseException) -> str:
    """One line saying why a stored plan cannot be loaded."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


class PlanServicer(plan_service_pb2_grpc.PlanServiceServicer):
    """The PlanService RPCs over the plan store, the orchestrator and the lifecycle."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def summary(
        self,
        record: plan_store.PlanRecord,
        plan: plan_pb2.Context | None = None,
        *,
        counts: dict[str, int] | None = None,
    ) -> plan_service_pb2.PlanSummary:
        if counts is None:
            counts = await self.ctx.read(lambda c: instance_store.count_instances(c))
        try:
            proto = plan if plan is not None else plan_pb2.Context.FromString(record.plan)
            uses = proto.calendar or proto.exclude_calendar
            calendars = await self.ctx.read(calendar_store.calendar_book) if uses else None
            window = PlanWindow.of(
                proto, version=record.version, enabled=record.enabled, calendars=calendars
            )
            following = window.next_start(self.ctx.clock.now()) if window.enabled else None
        except Exception as exc:  # a stored row this version cannot load: say why, list on
            return plan_service_pb2.PlanSummary(
                name=record.name,
                version=record.version,
                enabled=record.enabled,
                live_instances=counts.get(record.name, 0),
                agent_names=list(record.agent_names),
                updated_time=record.updated_time,
                updated_by=record.updated_by,
                load_error=load_error_text(exc),
            )
        return plan_service_pb2.PlanSummary(
            name=record.name,
            version=record.version,
            enabled=window.enabled,
            description=proto.description,
            time_window_start=proto.time_window_start,
            timezone=window.timezone,
            next_fire_time=epoch_ms(following) if following is not None else 0,
            live_instances=counts.get(record.name, 0),
            job_count=len(plan_jobs(proto)),
            agent_names=list(record.agent_names),
            updated_time=record.updated_time,
            updated_by=record.updated_by,
            owner=proto.owner,
        )

    @unary
    async def ProvisionPlan(
        self, request: plan_service_pb2.ProvisionPlanRequest, context: Ctx
    ) -> plan_service_pb2.ProvisionPlanResponse:
        return await self.provision(request)

    async def provision(
        self, request: plan_service_pb2.ProvisionPlanRequest
    ) -> plan_service_pb2.ProvisionPlanResponse:
        """ProvisionPlan without the gRPC wrapper (MigrationService provisions through it)."""
        if not request.HasField("plan"):
            raise InvalidArgument("required", field="plan")
        plan = plan_pb2.Context()
        plan.CopyFrom(request.plan)
        if plan.name:
            self.ctx.plan_access(plan.name)
        previous = (
            await self.ctx.read(lambda c: plan_store.get_plan(c, plan.name)) if plan.name else None
        )
        old = plan_pb2.Context.FromString(previous.plan) if previous is not None else None
        unmask_secrets(plan, old)
        if self.ctx.secret_box is not None:  # at rest, secret defaults are only ever sealed
            seal_plan(plan, old, self.ctx.secret_box)
        problems = await asyncio.to_thread(check_plan, plan)
        await self._check_calendars(plan)
        rules = plan_rules(plan, self.ctx.actor(), self.ctx.now_ms())  # refused naming a path
        warnings = problems_to_proto(p for p in problems if p.severity is Severity.WARNING)
        await asyncio.to_thread(
            check_plan_sendable,
            plan,
            max_message_bytes=self.ctx.max_message_bytes,
            max_frame_bytes=self.ctx.max_frame_bytes,
        )
        data, digest = plan_bytes(plan)
        unchanged = previous is not None and previous.plan_hash == digest
        changes = [] if unchanged else plan_changes(old, plan)
        if request.dry_run:
            summary = plan_service_pb2.PlanSummary(
                name=plan.name,
                version=previous.version if previous else 0,
                enabled=not plan.disabled,
                time_window_start=plan.time_window_start,
                timezone=plan.timezone or "UTC",
                job_count=len(plan_jobs(plan)),
                agent_names=agent_names(plan),
                description=plan.description,
                owner=plan.owner,
            )
            return plan_service_pb2.ProvisionPlanResponse(
                plan=summary,
                created=previous is None,
                warnings=warnings,
                changes=changes,
                unchanged=unchanged,
            )
        actor = self.ctx.actor()
        now = self.ctx.now_ms()

        def save() -> tuple[plan_store.SaveOutcome, plan_store.PlanRecord | None]:
            with write_transaction(self.ctx.engine) as conn:
                notification_store.replace_plan_rules(conn, plan.name, rules)
                outcome = plan_store.save_plan_version(
                    conn,
                    name=plan.name,
                    plan=data,
                    plan_json=json_format.MessageToJson(plan),
                    plan_hash=digest,
                    agent_names=agent_names(plan),
                    now=now,
                    actor=actor,
                    enabled=not plan.disabled,
                )
                return outcome, plan_store.get_plan(conn, plan.name)

        outcome, record = await asyncio.to_thread(save)
        assert record is not None
        if not outcome.unchanged:
            await self.ctx.orchestration.plan_provisioned(plan.name)
            await self.ctx.lifecycle.plan_changed(plan.name)
        return plan_service_pb2.ProvisionPlanResponse(
            plan=await self.summary(record, plan),
            created=outcome.created,
            warnings=warnings,
            changes=changes,
            unchanged=outcome.unchanged,
        )

    @unary
    async def ValidatePlan(
        self, request: plan_service_pb2.ValidatePlanRequest, context: Ctx
    ) -> plan_service_pb2.ValidatePlanResponse:
        if not request.HasField("plan"):
            raise InvalidArgument("required", field="plan")
        problems = await asyncio.to_thread(validate_plan, request.plan)
        valid = not any(p.severity is Severity.ERROR for p in problems)
        return plan_service_pb2.ValidatePlanResponse(
            valid=valid, problems=problems_to_proto(problems)
        )

    @unary
    async def GetPlan(
        self, request: plan_service_pb2.GetPlanRequest, context: Ctx
    ) -> plan_service_pb2.GetPlanResponse:
        not_negative(version=request.version)
        record = await self.ctx.plan_record(request.name, request.version)
        plan = plan_pb2.Context.FromString(record.plan)
        return plan_service_pb2.GetPlanResponse(
            summary=await self.summary(record, plan), plan=masked_plan(plan)
        )

    @unary
    async def ListPlans(
        self, request: plan_service_pb2.ListPlansRequest, context: Ctx
    ) -> plan_service_pb2.ListPlansResponse:
        size = page_size(request.page)
        after = decode_token(request.page.page_token)
        if after is not None and not isinstance(after, str):
            raise InvalidArgument("not a token this server gave out", field="page.page_token")
        visible = self.ctx.visible_plans()
        records = await self.ctx.read(
            lambda c: plan_store.list_plans(
                c,
                name_contains=request.name_contains,
                after_name=after or "",
                limit=size + 1,
                names=visible,
            )
        )
        more = len(records) > size
        records = records[:size]
        counts = await self.ctx.read(lambda c: instance_store.count_instances(c))
        return plan_service_pb2.ListPlansResponse(
            plans=[
                await self.summary(r, counts=counts) for r in records if self.ctx.may_see(r.name)
            ],
            next_page_token=encode_token(records[-1].name) if more else "",
        )

    @unary
    async def ExportPlan(
        self, request: plan_service_pb2.ExportPlanRequest, context: Ctx
    ) -> plan_service_pb2.ExportPlanResponse:
        not_negative(version=request.version)
        fmt = request.format or plan_service_pb2.YAML
        if fmt not in (plan_service_pb2.YAML, plan_service_pb2.JSON):
            raise InvalidArgument(f"unknown format {fmt}", field="format")
        plan = await self.ctx.plan_proto(request.name, request.version)
        text = dump_plan(masked_plan(plan), "json" if fmt == plan_service_pb2.JSON else "yaml")
        return plan_service_pb2.ExportPlanResponse(text=text, format=fmt)

    async def _check_calendars(self, plan: plan_pb2.Context) -> None:
        """Every calendar the plan's window and cron jobs name exists; shifts are known."""
        wanted = [
            ("plan.calendar", plan.calendar),
            ("plan.exclude_calendar", plan.exclude_calendar),
        ]
        for path, job in cron_job_calendars(plan):
            settings = job.quartz_schedule_driven_job
            check_shift(settings.calendar_shift, f"plan.{path}.calendar_shift")
            wanted.append((f"plan.{path}.calendar", settings.calendar))
            wanted.append((f"plan.{path}.exclude_calendar", settings.exclude_calendar))
        wanted = [(path, name) for path, name in wanted if name]
        if not wanted:
            return
        book = await self.ctx.read(calendar_store.calendar_book)
        for path, name in wanted:
            if name not in book.definitions:
                raise InvalidArgument(
                    f"calendar {name!r} does not exist (apply it first: ikasched calendar apply)",
                    field=path,
                )

    @unary
    async def DeletePlan(
        self, request: plan_service_pb2.DeletePlanRequest, context: Ctx
    ) -> plan_service_pb2.DeletePlanResponse:
        record = await self.ctx.plan_record(request.name)
        live = self.ctx.orchestration.live_instance_ids(record.name)
        if live and not request.force:
            raise FailedPrecondition(
                f"plan {record.name} has {len(live)} live instance(s) "
                f"({', '.join(sorted(live))}); end them or delete with force"
            )
        actor = self.ctx.actor()
        for instance_id in live:
            await self.ctx.lifecycle.end_instance(instance_id, actor=actor)
        await self.ctx.lifecycle.plan_removed(record.name)

        def delete() -> bool:
            with write_transaction(self.ctx.engine) as conn:
                notification_store.replace_plan_rules(conn, record.name, [])
                return plan_store.delete_plan(conn, record.name)

        if not await asyncio.to_thread(delete):
            raise NotFound(f"plan {record.name!r} not found")
        await self.ctx.orchestration.plan_removed(record.name)
        return plan_service_pb2.DeletePlanResponse(ended_instances=len(live))

    async def _set_enabled(self, name: str, enabled: bool) -> plan_service_pb2.PlanSummary:
        record = await self.ctx.plan_record(name)
        plan = plan_pb2.Context.FromString(record.plan)
        if enabled and plan.disabled:
            raise FailedPrecondition(
                f"plan {name} sets disabled in its document; provision a version without it"
            )
        actor, now = self.ctx.actor(), self.ctx.now_ms()

        def save() -> plan_store.PlanRecord | None:
            with write_transaction(self.ctx.engine) as conn:
                plan_store.set_plan_enabled(conn, name, enabled, now=now, actor=actor)
                return plan_store.get_plan(conn, name)

        updated = await asyncio.to_thread(save)
        if updated is None:
            raise NotFound(f"plan {name!r} not found")
        await self.ctx.lifecycle.plan_changed(name)
        return await self.summary(updated, plan)

    @unary
    async def EnablePlan(
        self, request: plan_service_pb2.EnablePlanRequest, context: Ctx
    ) -> plan_service_pb2.PlanSummary:
        return await self._set_enabled(request.name, True)

    @unary
    async def DisablePlan(
        self, request: plan_service_pb2.DisablePlanRequest, context: Ctx
    ) -> plan_service_pb2.PlanSummary:
        return await self._set_enabled(request.name, False)

    @unary
    async def GetNextFireTimes(
        self, request: plan_service_pb2.GetNextFireTimesRequest, context: Ctx
    ) -> plan_service_pb2.GetNextFireTimesResponse:
        not_negative(count=request.count)
        if request.count > MAX_FIRE_TIMES:
            raise InvalidArgument(f"at most {MAX_FIRE_TIMES}", field="count")
        not_negative(after=request.after)
        count = request.count or DEFAULT_FIRE_TIMES
        trigger, blackout = await self._trigger(request)
        start: datetime = from_epoch_ms(request.after) if request.after else self.ctx.clock.now()
        at = start
        fires: list[datetime] = []
        while len(fires) < count:
            fire = blackout.next_allowed_fire(trigger, at)
            if fire is None:
                break
            fires.append(fire)
            at = fire
        tz = zone(trigger.timezone)
        return plan_service_pb2.GetNextFireTimesResponse(
            fire_times=[epoch_ms(f) for f in fires],
            fire_times_text=[f.astimezone(tz).isoformat() for f in fires],
            timezone=trigger.timezone,
            calendar_adjustments=calendar_adjustments(trigger, start, fires),
        )

    async def _trigger(
        self, request: plan_service_pb2.GetNextFireTimesRequest
    ) -> tuple[CronTrigger, Blackout]:
        plan = await self.ctx.plan_proto(request.plan_name) if request.plan_name else None
        plan_tz = (plan.timezone if plan is not None else "") or "UTC"
        if request.cron_expression:
            tz = request.timezone or plan_tz
            trigger = _cron(request.cron_expression, tz, "cron_expression", "timezone")
            if plan is None:
                return trigger, Blackout()
            window = PlanWindow.of(plan)
            return trigger, window.blackout
        require(request.plan_name, "plan_name")
        assert plan is not None
        if request.job_identifier:
            job = plan_jobs(plan).get(request.job_identifier)
            if job is None:
                raise NotFound(f"job {request.job_identifier!r} not found in plan {plan.name}")
            kind = job.WhichOneof("job_type")
            timed: Any
            if kind == "quartz_schedule_driven_job":
                timed = job.quartz_schedule_driven_job
            elif kind == "file_event_driven_job":
                timed = job.file_event_driven_job
            else:
                raise InvalidArgument(
                    f"job {request.job_identifier} is not a cron or file job",
                    field="job_identifier",
                )
            tz = timed.time_zone or plan_tz
            trigger = _cron(timed.cron_expression, tz, "job_identifier", "job_identifier")
            if kind == "quartz_schedule_driven_job" and (timed.calendar or timed.exclude_calendar):
                book = await self.ctx.read(calendar_store.calendar_book)
                provisioned = with_calendar_documents(plan, book)
                found = plan_jobs(provisioned)[request.job_identifier]
                trigger = cron_job_trigger(found.quartz_schedule_driven_job, tz)
            ranges = [(r.start, r.end) for r in timed.blackout_window_date_time_ranges]
            return trigger, Blackout(timed.blackout_window_cron_expressions, ranges, tz)
        uses = plan.calendar or plan.exclude_calendar
        calendars = await self.ctx.read(calendar_store.calendar_book) if uses else None
        window = PlanWindow.of(plan, calendars=calendars)
        if window.trigger is None:
            raise FailedPrecondition(f"plan {plan.name} has no time_window_start")
        return window.trigger, window.blackout


def calendar_adjustments(
    trigger: CronTrigger, start: datetime, fires: list[datetime]
) -> list[plan_service_pb2.CalendarAdjustment]:
    """What a calendar trigger did to the cron's fires from `start` to the last fire shown
    (skips and shifts only; empty for a plain cron)."""
    if not isinstance(trigger, CalendarTrigger) or not fires:
        return []
    return [
        plan_service_pb2.CalendarAdjustment(
            scheduled=epoch_ms(a.scheduled),
            action=a.action,
            fires_at=epoch_ms(a.fires_at) if a.fires_at is not None else 0,
            reason=a.reason,
        )
        for a in trigger.adjustments(start, fires[-1])
        if a.action != "run"
    ]


def _cron(expression: str, tz: str, field_name: str, tz_field: str) -> CronTrigger:
    try:
        zone(tz)
    except InvalidArgument as exc:
        raise InvalidArgument(exc.reason, field=tz_field) from exc
    try:
        return CronTrigger(expression, tz)
    except InvalidArgument as exc:
        raise InvalidArgument(exc.reason, field=field_name) from exc
