"""PlanService through the generated SDK on a live server."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import grpc
from sqlalchemy import Engine

from ikasched.v1 import (
    common_pb2,
    instance_service_pb2,
    plan_pb2,
    plan_service_pb2,
)
from ikasched_common.blackout import epoch_ms
from ikasched_dashboard.plans.loader import load_plan_text

from .conftest import Dashboard, running
from .support import plan, refused

Code = grpc.StatusCode


async def provision(d: Dashboard, p: plan_pb2.Context) -> plan_service_pb2.ProvisionPlanResponse:
    response: plan_service_pb2.ProvisionPlanResponse = await d.plans.ProvisionPlan(
        plan_service_pb2.ProvisionPlanRequest(plan=p)
    )
    return response


async def test_provision_creates_then_detects_unchanged_then_versions(engine: Engine) -> None:
    async with running(engine) as d:
        first = await provision(d, plan())
        assert first.created and not first.unchanged and first.plan.version == 1
        assert first.changes == ["new plan"]
        s = first.plan
        assert (s.name, s.enabled, s.owner, s.job_count, s.updated_by) == (
            "daily",
            True,
            "ops-team",
            3,
            "alice",
        )
        assert list(s.agent_names) == ["a", "b"]
        assert s.next_fire_time == epoch_ms(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
        assert d.orch.provisioned == ["daily"]
        # the lifecycle prepared the next instance
        listed = await d.instances.ListInstances(
            instance_service_pb2.ListInstancesRequest(include_prepared=True)
        )
        assert [i.status for i in listed.instances] == [common_pb2.PREPARED]

        again = await provision(d, plan())
        assert again.unchanged and not again.created and again.plan.version == 1
        assert d.orch.provisioned == ["daily"]

        changed = plan(time_window_start="0 0 7 ? * * *")
        changed.scheduled_jobs.add(
            agent_name="a", job_name="three"
        ).internal_event_driven_job.command_line = "true"
        third = await provision(d, changed)
        assert third.plan.version == 2 and not third.created and not third.unchanged
        assert "job a-three added" in third.changes
        assert any(c.startswith("timeWindowStart:") for c in third.changes)
        assert d.orch.provisioned == ["daily", "daily"]
        # rescheduled: the PREPARED instance now starts at 07:00 London
        listed = await d.instances.ListInstances(
            instance_service_pb2.ListInstancesRequest(include_prepared=True)
        )
        assert [i.start_time for i in listed.instances] == [
            epoch_ms(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
        ]


async def test_provision_refuses_an_invalid_plan_listing_every_error(engine: Engine) -> None:
    async with running(engine) as d:
        bad = plan(time_window_start="0 0 25 ? * *")
        bad.job_dependencies.add(job_identifier="a-two").logical_grouping.all_of.add(
            identifier="nope"
        )
        details = await refused(provision(d, bad), Code.INVALID_ARGUMENT, "timeWindowStart", "nope")
        assert details.startswith("plan.")
        await refused(
            d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest()),
            Code.INVALID_ARGUMENT,
            "plan: required",
        )
        await refused(
            d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="daily")), Code.NOT_FOUND
        )


async def test_provision_dry_run_stores_nothing(engine: Engine) -> None:
    async with running(engine) as d:
        out = await d.plans.ProvisionPlan(
            plan_service_pb2.ProvisionPlanRequest(plan=plan(), dry_run=True)
        )
        assert out.created and out.changes == ["new plan"]
        await refused(
            d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="daily")), Code.NOT_FOUND, "daily"
        )
        assert d.orch.provisioned == []


async def test_validate(engine: Engine) -> None:
    async with running(engine) as d:
        ok = await d.plans.ValidatePlan(plan_service_pb2.ValidatePlanRequest(plan=plan()))
        assert ok.valid
        bad = plan()
        bad.job_dependencies.add(job_identifier="ghost")
        out = await d.plans.ValidatePlan(plan_service_pb2.ValidatePlanRequest(plan=bad))
        assert not out.valid
        assert any(
            p.severity == common_pb2.ValidationProblem.ERROR and "jobDependencies" in p.path
            for p in out.problems
        )
        await refused(
            d.plans.ValidatePlan(plan_service_pb2.ValidatePlanRequest()),
            Code.INVALID_ARGUMENT,
            "plan: required",
        )


async def test_get_masks_secrets_and_versions(engine: Engine) -> None:
    async with running(engine) as d:
        await provision(d, plan())
        await provision(d, plan(description="v2"))
        got = await d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="daily"))
        assert got.summary.version == 2 and got.plan.description == "v2"
        secret = next(p for p in got.plan.context_parameters if p.name == "PASSWORD")
        assert secret.default_value == "***"
        old = await d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="daily", version=1))
        assert old.plan.description == "two jobs in a chain"
        await refused(
            d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="daily", version=9)),
            Code.NOT_FOUND,
            "version 9",
        )
        await refused(
            d.plans.GetPlan(plan_service_pb2.GetPlanRequest()),
            Code.INVALID_ARGUMENT,
            "name: required",
        )


async def test_list_pages(engine: Engine) -> None:
    async with running(engine) as d:
        for name in ("p1", "p2", "p3"):
            await provision(d, plan(name=name))
        first = await d.plans.ListPlans(
            plan_service_pb2.ListPlansRequest(page=common_pb2.PageRequest(page_size=2))
        )
        assert [p.name for p in first.plans] == ["p1", "p2"] and first.next_page_token
        rest = await d.plans.ListPlans(
            plan_service_pb2.ListPlansRequest(
                page=common_pb2.PageRequest(page_size=2, page_token=first.next_page_token)
            )
        )
        assert [p.name for p in rest.plans] == ["p3"] and not rest.next_page_token
        some = await d.plans.ListPlans(plan_service_pb2.ListPlansRequest(name_contains="2"))
        assert [p.name for p in some.plans] == ["p2"]
        await refused(
            d.plans.ListPlans(
                plan_service_pb2.ListPlansRequest(page=common_pb2.PageRequest(page_size=1001))
            ),
            Code.RESOURCE_EXHAUSTED,
            "page.page_size",
        )
        await refused(
            d.plans.ListPlans(
                plan_service_pb2.ListPlansRequest(page=common_pb2.PageRequest(page_token="%%%"))
            ),
            Code.INVALID_ARGUMENT,
            "page.page_token",
        )


async def test_export_provision_round_trip_is_unchanged(engine: Engine) -> None:
    async with running(engine) as d:
        await provision(d, plan())
        for fmt in (plan_service_pb2.YAML, plan_service_pb2.JSON):
            exported = await d.plans.ExportPlan(
                plan_service_pb2.ExportPlanRequest(name="daily", format=fmt)
            )
            assert exported.format == fmt
            assert "hunter2" not in exported.text and "***" in exported.text
            back = await provision(d, load_plan_text(exported.text))
            assert back.unchanged and back.plan.version == 1, back.changes
        await refused(
            d.plans.ExportPlan(plan_service_pb2.ExportPlanRequest(name="x")), Code.NOT_FOUND
        )


async def test_delete_refuses_live_instances_unless_forced(engine: Engine) -> None:
    async with running(engine) as d:
        await provision(d, plan())
        created = await d.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(context_name="daily")
        )
        await refused(
            d.plans.DeletePlan(plan_service_pb2.DeletePlanRequest(name="daily")),
            Code.FAILED_PRECONDITION,
            "live instance",
            created.id,
        )
        out = await d.plans.DeletePlan(plan_service_pb2.DeletePlanRequest(name="daily", force=True))
        assert out.ended_instances == 1
        assert [e.instance_id for e in d.orch.ended] == [created.id]
        assert d.orch.removed == ["daily"]
        assert not d.lifecycle.has_start_trigger("daily")
        await refused(
            d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="daily")), Code.NOT_FOUND
        )
        await refused(
            d.plans.DeletePlan(plan_service_pb2.DeletePlanRequest(name="daily")), Code.NOT_FOUND
        )


async def test_disable_and_enable(engine: Engine) -> None:
    async with running(engine) as d:
        await provision(d, plan())
        off = await d.plans.DisablePlan(plan_service_pb2.DisablePlanRequest(name="daily"))
        assert not off.enabled and off.next_fire_time == 0
        listed = await d.instances.ListInstances(
            instance_service_pb2.ListInstancesRequest(include_prepared=True)
        )
        assert list(listed.instances) == []
        await refused(
            d.instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="daily")
            ),
            Code.FAILED_PRECONDITION,
            "disabled",
        )
        on = await d.plans.EnablePlan(plan_service_pb2.EnablePlanRequest(name="daily"))
        assert on.enabled and on.next_fire_time
        listed = await d.instances.ListInstances(
            instance_service_pb2.ListInstancesRequest(include_prepared=True)
        )
        assert len(listed.instances) == 1
        await refused(
            d.plans.EnablePlan(plan_service_pb2.EnablePlanRequest(name="zz")), Code.NOT_FOUND
        )


async def test_next_fire_times(engine: Engine) -> None:
    async with running(engine) as d:
        day = epoch_ms(datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
        p = plan()
        p.blackout_window_date_time_ranges.add(start=day, end=day + 86_400_000 - 1)
        await provision(d, p)
        out = await d.plans.GetNextFireTimes(
            plan_service_pb2.GetNextFireTimesRequest(plan_name="daily", count=3)
        )
        london = ZoneInfo("Europe/London")
        assert list(out.fire_times) == [
            epoch_ms(datetime(2026, 3, dd, 6, 0, tzinfo=london)) for dd in (2, 4, 5)
        ]
        assert out.timezone == "Europe/London"
        assert out.fire_times_text[0] == "2026-03-02T06:00:00+00:00"
        job = await d.plans.GetNextFireTimes(
            plan_service_pb2.GetNextFireTimesRequest(
                plan_name="daily", job_identifier="b-tick", count=2
            )
        )
        ny = ZoneInfo("America/New_York")
        assert list(job.fire_times) == [
            epoch_ms(datetime(2026, 3, dd, 7, 30, tzinfo=ny)) for dd in (2, 3)
        ]
        ad_hoc = await d.plans.GetNextFireTimes(
            plan_service_pb2.GetNextFireTimesRequest(
                cron_expression="0 0 12 ? * SUN",
                timezone="Asia/Tokyo",
                count=1,
                after=epoch_ms(datetime(2026, 3, 2, tzinfo=UTC)),
            )
        )
        assert list(ad_hoc.fire_times) == [
            epoch_ms(datetime(2026, 3, 8, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
        ]
        assert ad_hoc.fire_times_text == ["2026-03-08T12:00:00+09:00"]
        req = plan_service_pb2.GetNextFireTimesRequest
        await refused(
            d.plans.GetNextFireTimes(req(plan_name="daily", count=1001)),
            Code.INVALID_ARGUMENT,
            "count",
        )
        await refused(
            d.plans.GetNextFireTimes(req(cron_expression="bad")),
            Code.INVALID_ARGUMENT,
            "cron_expression",
        )
        await refused(
            d.plans.GetNextFireTimes(req(cron_expression="0 0 1 * * ?", timezone="Mars/Base")),
            Code.INVALID_ARGUMENT,
            "timezone",
        )
        await refused(
            d.plans.GetNextFireTimes(req(plan_name="daily", job_identifier="a-x")),
            Code.NOT_FOUND,
            "a-x",
        )
        await refused(
            d.plans.GetNextFireTimes(req(plan_name="daily", job_identifier="a-one")),
            Code.INVALID_ARGUMENT,
            "job_identifier",
        )
        await refused(d.plans.GetNextFireTimes(req()), Code.INVALID_ARGUMENT, "plan_name")
        await provision(d, plan(name="manual", time_window_start=""))
        await refused(
            d.plans.GetNextFireTimes(req(plan_name="manual")),
            Code.FAILED_PRECONDITION,
            "time_window_start",
        )
