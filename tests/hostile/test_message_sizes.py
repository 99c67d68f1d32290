"""--max-message-bytes over real gRPC (issue 15, item 6): the setting governs both the dashboard
and the CLI's channels, and a plan the dashboard could not later send (its GetPlan answer, its
YAML/JSON export, an agent's ProvisionJobs message) is refused when it is provisioned, with
INVALID_ARGUMENT naming the size and the limit, and nothing is stored."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import grpc
import pytest

from ikasched.v1 import plan_pb2, plan_service_pb2, plan_service_pb2_grpc
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.loader import dump_plan
from ikasched_dashboard.services.plan_size import check_plan_sendable
from tests.hostile.wired import code_of, wired

MIB = 1024 * 1024


def _plan(jobs: int, command_bytes: int, name: str = "big", agents: int = 1) -> plan_pb2.Context:
    plan = plan_pb2.Context(name=name, time_window_start="0 0 0 * * ?")
    for n in range(jobs):
        job = plan.scheduled_jobs.add(agent_name=f"a{n % agents + 1}", job_name=f"j{n}")
        job.internal_event_driven_job.command_line = "echo " + "x" * command_bytes
    return plan


def _channel(port: int, limit: int) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        f"127.0.0.1:{port}",
        options=[
            ("grpc.max_send_message_length", limit),
            ("grpc.max_receive_message_length", limit),
        ],
    )


async def test_a_6_mb_plan_validates_when_both_sides_allow_8_mb(tmp_path: Path) -> None:
    # two agents: each one's ProvisionJobs message fits the link's 4 MiB frames
    plan = _plan(1_000, 6_400, agents=2)
    assert 6 * MIB < plan.ByteSize() < 7 * MIB
    async with wired(tmp_path, max_message_bytes=8 * MIB) as w:
        async with _channel(w.app.port, 8 * MIB) as channel:
            stub = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
            answer = await stub.ValidatePlan(
                plan_service_pb2.ValidatePlanRequest(plan=plan), metadata=w.metadata, timeout=60
            )
            assert answer.valid, answer.problems
        # the CLI's own channel follows its --max-message-bytes: refused at 4 MiB, fine at 8
        plan_file = tmp_path / "big.json"
        plan_file.write_text(dump_plan(plan, "json"))
        token = dict(w.metadata)["authorization"].removeprefix("Bearer ")
        small = await _cli(w.app.port, token, "--max-message-bytes", str(4 * MIB), plan_file)
        assert small[0] != 0 and "Traceback" not in small[2]
        assert len(small[2].strip().splitlines()) == 1, small[2]
        big = await _cli(w.app.port, token, "--max-message-bytes", str(8 * MIB), plan_file)
        assert big[0] == 0, big


async def _cli(port: int, token: str, *args: str | Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ikasched_cli",
        "--dashboard",
        f"127.0.0.1:{port}",
        "--token",
        token,
        *(str(a) for a in args[:2]),
        "plan",
        "apply",
        "--dry-run",
        "-f",
        *(str(a) for a in args[2:]),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_plan_too_large_to_export_is_refused_at_provision_time(tmp_path: Path) -> None:
    # many small jobs: the binary plan fits, its YAML export (keys per job) does not
    plan = _plan(10_000, 1)
    yaml_bytes = len(dump_plan(plan, "yaml").encode())
    limit = (plan.ByteSize() + 64 * 1024 + yaml_bytes) // 2
    assert plan.ByteSize() + 64 * 1024 < limit < yaml_bytes
    async with wired(tmp_path, max_message_bytes=limit) as w:
        for dry_run in (True, False):
            request = plan_service_pb2.ProvisionPlanRequest(plan=plan, dry_run=dry_run)
            code, detail = await code_of(w.plans.ProvisionPlan, request, w.metadata)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, detail
            assert detail.startswith("plan: the plan's YAML export would be ")
            assert f"more than the limit of {limit} bytes (--max-message-bytes)" in detail
        listed = await w.plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=w.metadata)
        assert list(listed.plans) == []  # nothing stored
        # a plan that fits is provisioned and exported in full
        fits = _plan(1_000, 1, name="fits")
        await w.plans.ProvisionPlan(
            plan_service_pb2.ProvisionPlanRequest(plan=fits), metadata=w.metadata
        )
        exported = await w.plans.ExportPlan(
            plan_service_pb2.ExportPlanRequest(name="fits"), metadata=w.metadata
        )
        assert exported.text.count("jobName") == 1_000


def test_a_job_past_the_link_message_limit_is_refused() -> None:
    plan = _plan(100, 1_000)  # ~100 KB: split into parts for small frames, refused for none
    check_plan_sendable(plan, max_message_bytes=16 * MIB, max_frame_bytes=64 * 1024)
    huge = _plan(2, 80_000)
    with pytest.raises(InvalidArgument) as err:
        check_plan_sendable(huge, max_message_bytes=16 * MIB, max_frame_bytes=64 * 1024)
    message = str(err.value)
    assert message.startswith("plan: the plan's ProvisionJobs message of job ")
    assert "to agent a1 would be " in message and "(the link's max_frame_bytes)" in message
