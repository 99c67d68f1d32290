"""Inputs that used to brick or wedge the dashboard (issue 15): each is refused at the API
edge with INVALID_ARGUMENT naming the field, and a stored row that cannot load no longer stops
the dashboard from starting."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from ikasched.v1 import (
    admin_service_pb2,
    common_pb2,
    instance_service_pb2,
    plan_pb2,
    plan_service_pb2,
)
from ikasched_dashboard.plans.documents import PlanLoadError
from ikasched_dashboard.plans.loader import load_plan_text
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import read_transaction, write_transaction
from tests.hostile.wired import code_of, wired

YEAR_10000_MS = 253_402_300_800_000
INT64_MAX = 2**63 - 1


def _plan(name: str = "edge") -> plan_pb2.Context:
    return plan_pb2.Context(name=name, time_window_start="0 0 0 * * ?")


def _with_blackout(end: int) -> plan_pb2.Context:
    plan = _plan()
    plan.blackout_window_date_time_ranges.add(start=0, end=end)
    return plan


def _command_job(plan: plan_pb2.Context) -> plan_pb2.SchedulerJob:
    job = plan.scheduled_jobs.add(agent_name="a1", job_name="j1")
    job.internal_event_driven_job.command_line = "true"
    return job


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        (_with_blackout(INT64_MAX), "blackoutWindowDateTimeRanges[0].end"),
        (_with_blackout(YEAR_10000_MS), "blackoutWindowDateTimeRanges[0].end"),
        (plan_pb2.Context(name="edge", context_ttl_milliseconds=INT64_MAX), "contextTtl"),
    ],
    ids=["blackout-int64-max", "blackout-year-10000", "ttl-int64-max"],
)
async def test_out_of_range_plan_is_refused_and_restart_works(
    tmp_path: Path, plan: plan_pb2.Context, field: str
) -> None:
    async with wired(tmp_path) as w:
        request = plan_service_pb2.ProvisionPlanRequest(plan=plan)
        code, detail = await code_of(w.plans.ProvisionPlan, request, w.metadata)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, detail
        assert field in detail and "out of range" in detail
        listed = await w.plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=w.metadata)
        assert [p.name for p in listed.plans] == []
    async with wired(tmp_path) as w:  # the restarted dashboard starts and answers
        listed = await w.plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=w.metadata)
        assert list(listed.plans) == []


async def test_a_stored_plan_that_cannot_load_is_quarantined(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with wired(tmp_path) as w:
        good = _plan("good")
        await w.plans.ProvisionPlan(
            plan_service_pb2.ProvisionPlanRequest(plan=good), metadata=w.metadata
        )
        bad = _with_blackout(INT64_MAX)  # what an older version stored without complaint
        with write_transaction(w.app.engine) as conn:
            plan_store.save_plan_version(
                conn,
                name=bad.name,
                plan=bad.SerializeToString(),
                plan_json=json_format.MessageToJson(bad),
                plan_hash="x",
                agent_names=[],
                now=0,
                actor="older-version",
                enabled=True,
            )
    caplog.set_level(logging.ERROR)
    async with wired(tmp_path) as w:
        listed = await w.plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=w.metadata)
        by_name = {p.name: p for p in listed.plans}
        assert set(by_name) == {"good", "edge"}
        assert by_name["good"].load_error == ""
        assert "Overflow" in by_name["edge"].load_error or "out of range" in (
            by_name["edge"].load_error
        )
        assert by_name["good"].next_fire_time > 0  # the loadable plan still runs
    assert any("edge" in r.getMessage() and "quarantined" in r.getMessage() for r in caplog.records)


async def test_request_values_out_of_range_are_invalid_argument(tmp_path: Path) -> None:
    async with wired(tmp_path) as w:
        cases = [
            (
                w.instances.ListInstances,
                instance_service_pb2.ListInstancesRequest(statuses=[999]),  # type: ignore[list-item]
                "statuses[0]",
            ),
            (
                w.tokens.CreateToken,
                admin_service_pb2.CreateTokenRequest(subject="x", role=1, ttl_seconds=2**62),  # type: ignore[arg-type]
                "ttl_seconds",
            ),
            (
                w.tokens.CreateToken,
                admin_service_pb2.CreateTokenRequest(subject="x", role=1, ttl_seconds=10**12),  # type: ignore[arg-type]
                "ttl_seconds",
            ),
            (
                w.plans.ExportPlan,
                plan_service_pb2.ExportPlanRequest(name="p", format=77),  # type: ignore[arg-type]
                "format",
            ),
            (
                w.plans.GetNextFireTimes,
                plan_service_pb2.GetNextFireTimesRequest(
                    cron_expression="0 0 0 * * ?", after=INT64_MAX
                ),
                "after",
            ),
        ]
        for call, request, field in cases:
            code, detail = await code_of(call, request, w.metadata)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (request, code, detail)
            assert detail.startswith(field), (field, detail)


async def test_corrupt_request_bytes_are_invalid_argument(tmp_path: Path) -> None:
    async with wired(tmp_path) as w:
        raw = w.channel.unary_unary("/ikasched.v1.PlanService/ListPlans")  # type: ignore[call-arg]
        code, detail = await code_of(raw, b"\xff\xff\xff\xff", w.metadata)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert "cannot decode" in detail and "Traceback" not in detail
        ok = await w.plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=w.metadata)
        assert list(ok.plans) == []


def _enum_plans() -> list[tuple[plan_pb2.Context, str]]:
    startup = _plan()
    _command_job(startup).startup_control_type = 77  # type: ignore[assignment]
    days = _plan()
    _command_job(days).internal_event_driven_job.days_of_week_to_run.append(99)  # type: ignore[arg-type]
    return [
        (startup, "scheduledJobs[0].startupControlType"),
        (days, "scheduledJobs[0].internalEventDrivenJob.daysOfWeekToRun[0]"),
    ]


@pytest.mark.parametrize("case", range(2), ids=["startup-control-77", "day-of-week-99"])
async def test_enum_values_out_of_range_are_refused(tmp_path: Path, case: int) -> None:
    plan, path = _enum_plans()[case]
    async with wired(tmp_path) as w:
        checked = await w.plans.ValidatePlan(
            plan_service_pb2.ValidatePlanRequest(plan=plan), metadata=w.metadata
        )
        assert not checked.valid
        assert path in [p.path for p in checked.problems]
        code, detail = await code_of(
            w.plans.ProvisionPlan, plan_service_pb2.ProvisionPlanRequest(plan=plan), w.metadata
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and path in detail


BAD_NAMES = ["bad\x00name", "esc\x1b[31m", "bidi\u202eevil", "   ", "tab\tname"]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=["nul", "escape", "bidi", "blank", "tab"])
async def test_names_with_control_characters_are_refused(tmp_path: Path, bad: str) -> None:
    async with wired(tmp_path) as w:
        for plan, path in (
            (plan_pb2.Context(name=bad), "name"),
            (_agent_named(bad), "scheduledJobs[0].agentName"),
            (_parameter_named(bad), "contextParameters[0].name"),
        ):
            checked = await w.plans.ValidatePlan(
                plan_service_pb2.ValidatePlanRequest(plan=plan), metadata=w.metadata
            )
            assert path in [p.path for p in checked.problems if p.severity == 1], (path, checked)
        code, detail = await code_of(
            w.tokens.CreateToken,
            admin_service_pb2.CreateTokenRequest(subject=bad, role=1),  # type: ignore[arg-type]
            w.metadata,
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and detail.startswith("subject"), detail
        code, detail = await code_of(
            w.plans.GetPlan, plan_service_pb2.GetPlanRequest(name=bad), w.metadata
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and detail.startswith("name"), detail


def _agent_named(name: str) -> plan_pb2.Context:
    plan = _plan()
    job = _command_job(plan)
    job.agent_name = name
    job.identifier = "j"
    return plan


def _parameter_named(name: str) -> plan_pb2.Context:
    plan = _plan()
    plan.context_parameters.append(common_pb2.ContextParameter(name=name))
    return plan


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_5000_digit_integer_in_a_plan_file_is_a_load_problem(fmt: str) -> None:
    digits = "9" * 5000
    text = (
        f"name: big\ncontextTtlMilliseconds: {digits}\n"
        if fmt == "yaml"
        else f'{{"name": "big", "contextTtlMilliseconds": {digits}}}'
    )
    with pytest.raises(PlanLoadError) as info:
        load_plan_text(text, fmt=fmt, source="big")  # type: ignore[arg-type]
    assert "number that cannot be read" in str(info.value)


async def test_a_quarantined_instance_is_visible_to_an_admin(tmp_path: Path) -> None:
    """An instance whose snapshot cannot load is listed with load_error, shown by GetInstance,
    noted in the audit trail and printed by `ikasched instance list` (architecture §4.10)."""
    async with wired(tmp_path) as w:
        await w.plans.ProvisionPlan(
            plan_service_pb2.ProvisionPlanRequest(plan=_plan("good")), metadata=w.metadata
        )
        created = await w.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(context_name="good"), metadata=w.metadata
        )
        iid = created.id
    with write_transaction(w.app.engine) as conn:  # what a damaged or foreign store holds
        instance_store.write_snapshots(conn, [(iid, b"{not json")])
    async with wired(tmp_path) as w:
        listed = await w.instances.ListInstances(
            instance_service_pb2.ListInstancesRequest(context_name="good"), metadata=w.metadata
        )
        [found] = [i for i in listed.instances if i.id == iid]
        assert found.load_error.startswith("JSONDecodeError")
        got = await w.instances.GetInstance(
            instance_service_pb2.GetInstanceRequest(context_instance_id=iid), metadata=w.metadata
        )
        assert got.load_error == found.load_error
        with read_transaction(w.app.engine) as conn:
            notes = change_store.changes_after(conn, 0, instance_id=iid)
        assert [c.entry.detail for c in notes if c.entry.cause == "recovery"] == [
            f"quarantined: its snapshot cannot be loaded ({found.load_error}); it takes no"
            " events until ended"
        ]
        token = dict(w.metadata)["authorization"].removeprefix("Bearer ")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ikasched_cli",
            "--dashboard",
            f"127.0.0.1:{w.app.port}",
            "--token",
            token,
            "instance",
            "list",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err
        assert f"instance {iid} is quarantined: JSONDecodeError" in out.decode()
