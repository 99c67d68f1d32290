"""Cron jobs on a calendar in a real Dashboard (real orchestrator and store): the agent's
ProvisionJobs carries the documents of the job's calendar and of what it refers to, applying a
changed calendar provisions the plan again with the new version, and the job's next fires
follow the calendar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import grpc

from ikasched.v1 import (
    agent_pb2,
    calendar_service_pb2,
    calendar_service_pb2_grpc,
    plan_pb2,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_common.blackout import epoch_ms, from_epoch_ms
from ikasched_common.config import DashboardConfig
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.store import messages as message_store
from ikasched_dashboard.store.db import read_transaction

from .support import plan, refused

Code = grpc.StatusCode
DOCS = (
    "name: weekdays\ninclude:\n  - weekdays: [MON, TUE, WED, THU, FRI]\n",
    'name: holidays\ninclude:\n  - annual: ["12-25"]\n',
    "name: business\ninclude:\n  - calendar: weekdays\nexclude:\n  - calendar: holidays\n",
)


@asynccontextmanager
async def dashboard(data_dir: Path) -> AsyncIterator[tuple[Dashboard, grpc.aio.Channel]]:
    process = Dashboard(DashboardConfig(data_dir=data_dir, listen="127.0.0.1:0"), security=False)
    await process.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{process.port}")
    try:
        yield process, channel
    finally:
        await channel.close(None)
        await process.stop()


def cron_plan() -> plan_pb2.Context:
    p = plan(name="cal-cron")
    job = p.scheduled_jobs.add(identifier="a-tick", agent_name="a", job_name="tick")
    job.quartz_schedule_driven_job.cron_expression = "0 0 7 * * ?"
    job.quartz_schedule_driven_job.calendar = "business"
    job.quartz_schedule_driven_job.calendar_shift = "next"
    return p


def provisioned_ticks(process: Dashboard) -> list[plan_pb2.QuartzScheduleDrivenJob]:
    with read_transaction(process.engine) as conn:
        rows = message_store.peek_outbox(conn, "a", limit=1000)
    found = []
    for row in rows:
        msg = agent_pb2.DashboardMessage.FromString(row.message)
        if msg.WhichOneof("body") == "provision_jobs":
            found += [
                j.quartz_schedule_driven_job
                for j in msg.provision_jobs.jobs
                if j.identifier == "a-tick"
            ]
    return found


async def test_cron_job_calendar_reaches_the_agent(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (process, channel):
        calendars = calendar_service_pb2_grpc.CalendarServiceStub(channel)  # type: ignore[no-untyped-call]
        plans = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        await refused(
            plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=cron_plan())),
            Code.INVALID_ARGUMENT,
            "plan.scheduled_jobs[",
            ".quartz_schedule_driven_job.calendar",
        )
        for doc in DOCS:
            await calendars.ApplyCalendar(calendar_service_pb2.ApplyCalendarRequest(document=doc))
        await plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=cron_plan()))
        [first] = provisioned_ticks(process)
        assert first.calendar == "business" and first.calendar_shift == "next"
        assert sorted((d.name, d.version) for d in first.calendar_documents) == [
            ("business", 1),
            ("holidays", 1),
            ("weekdays", 1),
        ]
        # the stored plan stays as provisioned: documents are added on the way to the agent
        got = await plans.GetPlan(plan_service_pb2.GetPlanRequest(name="cal-cron"))
        stored = next(j for j in got.plan.scheduled_jobs if j.identifier == "a-tick")
        assert not stored.quartz_schedule_driven_job.calendar_documents

        changed = await calendars.ApplyCalendar(
            calendar_service_pb2.ApplyCalendarRequest(
                document=DOCS[1].replace('"12-25"', '"12-24", "12-25"')
            )
        )
        assert list(changed.rescheduled_plans) == ["cal-cron"]
        latest = provisioned_ticks(process)[-1]
        assert {d.name: d.version for d in latest.calendar_documents}["holidays"] == 2

        fires = await plans.GetNextFireTimes(
            plan_service_pb2.GetNextFireTimesRequest(
                plan_name="cal-cron",
                job_identifier="a-tick",
                count=2,
                after=epoch_ms(datetime(2026, 12, 23, 12, tzinfo=UTC)),
            )
        )
        # Thu 24 and Fri 25 are holidays now: their fires move to Mon 28, which fires once
        assert [from_epoch_ms(f) for f in fires.fire_times] == [
            datetime(2026, 12, 28, 7, tzinfo=UTC),
            datetime(2026, 12, 29, 7, tzinfo=UTC),
        ]
        assert {from_epoch_ms(a.scheduled).day for a in fires.calendar_adjustments} >= {24, 25}
