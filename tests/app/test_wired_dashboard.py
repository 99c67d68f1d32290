"""The fully wired dashboard (security + lifecycle + services + core) with a real agent:
tokens are required, an agent token speaks only for its own agent, and the hello example
runs to COMPLETE through the operator API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    common_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_agent.agent import Agent, AgentOptions
from ikasched_common.auth import Role, bearer_metadata
from ikasched_common.config import AgentConfig, DashboardConfig
from ikasched_common.errors import InvalidArgument
from ikasched_common.link import Backoff
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.plans.loader import load_plan_file
from ikasched_dashboard.services.tokens import TokenSpec, bootstrap_admin_token, create_token

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextlib.asynccontextmanager
async def wired(tmp: Path) -> AsyncIterator[tuple[Dashboard, str]]:
    app = Dashboard(DashboardConfig(data_dir=tmp / "dash", listen="127.0.0.1:0"))
    await app.start()
    admin = bootstrap_admin_token(app.engine, tmp / "admin.token")
    token = (tmp / "admin.token").read_text().strip()
    assert admin.created
    try:
        yield app, token
    finally:
        await app.stop()


def agent_token(app: Dashboard, name: str) -> str:
    _record, secret = create_token(
        app.engine, TokenSpec(subject=f"agent {name}", role=Role.AGENT, agent_name=name)
    )
    return secret


def start_agent(tmp: Path, port: int, name: str, token: str) -> Agent:
    config = AgentConfig(name=name, dashboard=f"127.0.0.1:{port}", data_dir=tmp / name, token=token)
    return Agent(
        config,
        options=AgentOptions(backoff=Backoff(initial=0.05, maximum=0.2), status_interval=0.5),
    )


async def until(check: object, timeout: float = 60.0) -> None:
    async def loop() -> None:
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), timeout)


async def test_every_rpc_needs_a_token(tmp_path: Path) -> None:
    async with wired(tmp_path) as (app, _token):
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        plans = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await plans.ListPlans(plan_service_pb2.ListPlansRequest())
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await channel.close(None)


async def test_hello_example_runs_to_complete_with_a_real_agent(tmp_path: Path) -> None:
    async with wired(tmp_path) as (app, token):
        md = bearer_metadata(token)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        plans = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        instances = instance_service_pb2_grpc.InstanceServiceStub(  # type: ignore[no-untyped-call]
            channel
        )
        jobs = job_service_pb2_grpc.JobServiceStub(channel)  # type: ignore[no-untyped-call]
        agents = admin_service_pb2_grpc.AgentServiceStub(channel)  # type: ignore[no-untyped-call]

        agent = start_agent(tmp_path, app.port, "local", agent_token(app, "local"))
        await agent.start()
        try:
            plan = load_plan_file(EXAMPLES / "hello.yaml")
            out = await plans.ProvisionPlan(
                plan_service_pb2.ProvisionPlanRequest(plan=plan), metadata=md
            )
            assert out.created
            created = await instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="hello"), metadata=md
            )
            assert created.status == common_pb2.WAITING

            async def connected() -> bool:
                listed = await agents.ListAgents(admin_service_pb2.ListAgentsRequest(), metadata=md)
                return any(a.agent_name == "local" and a.connected for a in listed.agents)

            await until(connected)
            # the chain's root is a daily time job: fire it by hand, as an operator would
            await jobs.RunJob(
                job_service_pb2.RunJobRequest(
                    job=common_pb2.JobRef(
                        context_instance_id=created.id, job_identifier="local-morning"
                    )
                ),
                metadata=md,
            )

            async def complete() -> bool:
                got = await instances.GetInstance(
                    instance_service_pb2.GetInstanceRequest(context_instance_id=created.id),
                    metadata=md,
                )
                return bool(got.status == common_pb2.COMPLETE)

            await until(complete)
            got = await instances.GetInstance(
                instance_service_pb2.GetInstanceRequest(context_instance_id=created.id), metadata=md
            )
            statuses = {j.identifier: j.status for j in got.jobs}
            assert statuses == {
                "local-morning": common_pb2.COMPLETE,
                "local-say-hello": common_pb2.COMPLETE,
                "local-say-world": common_pb2.COMPLETE,
                "local-say-done": common_pb2.COMPLETE,
            }
            done = {j.identifier: j for j in got.jobs}["local-say-done"]
            assert done.return_code == 0 and done.pid > 0
        finally:
            await agent.stop()
            await channel.close(None)


async def test_an_agent_token_cannot_speak_for_another_agent(tmp_path: Path) -> None:
    async with wired(tmp_path) as (app, token):
        md = bearer_metadata(token)
        impostor = start_agent(tmp_path, app.port, "a2", agent_token(app, "a1"))
        honest = start_agent(tmp_path, app.port, "a1", agent_token(app, "a1"))
        await impostor.start()
        await honest.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        agents = admin_service_pb2_grpc.AgentServiceStub(channel)  # type: ignore[no-untyped-call]
        try:

            async def honest_connected() -> bool:
                listed = await agents.ListAgents(admin_service_pb2.ListAgentsRequest(), metadata=md)
                return any(a.agent_name == "a1" and a.connected for a in listed.agents)

            await until(honest_connected)
            # the impostor kept trying meanwhile and never got in
            listed = await agents.ListAgents(admin_service_pb2.ListAgentsRequest(), metadata=md)
            assert "a2" not in {a.agent_name for a in listed.agents if a.connected}
        finally:
            await impostor.stop()
            await honest.stop()
            await channel.close(None)


def test_non_loopback_listen_without_tls_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="--insecure"):
        Dashboard(DashboardConfig(data_dir=tmp_path, listen="0.0.0.0:0"))


FAILING_PLAN = """
name: failing
scheduledJobs:
  - agentName: local
    jobName: breaks
    internalEventDrivenJob: {commandLine: "exit 3"}
  - agentName: local
    jobName: after
    internalEventDrivenJob: {commandLine: "true"}
jobDependencies:
  - jobIdentifier: local-breaks
  - jobIdentifier: local-after
    logicalGrouping: {and: [local-breaks]}
"""


async def test_acknowledged_error_shows_who_why_and_when(tmp_path: Path) -> None:
    from ikasched_dashboard.plans.loader import load_plan_text

    async with wired(tmp_path) as (app, token):
        md = bearer_metadata(token)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        plans = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        instances = instance_service_pb2_grpc.InstanceServiceStub(  # type: ignore[no-untyped-call]
            channel
        )
        jobs = job_service_pb2_grpc.JobServiceStub(channel)  # type: ignore[no-untyped-call]
        agent = start_agent(tmp_path, app.port, "local", agent_token(app, "local"))
        await agent.start()
        try:
            await plans.ProvisionPlan(
                plan_service_pb2.ProvisionPlanRequest(plan=load_plan_text(FAILING_PLAN)),
                metadata=md,
            )
            created = await instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="failing"), metadata=md
            )
            ref = common_pb2.JobRef(context_instance_id=created.id, job_identifier="local-breaks")
            await jobs.RunJob(job_service_pb2.RunJobRequest(job=ref), metadata=md)

            async def job(ident: str) -> Any:
                got = await instances.GetInstance(
                    instance_service_pb2.GetInstanceRequest(context_instance_id=created.id),
                    metadata=md,
                )
                return {j.identifier: j for j in got.jobs}[ident]

            async def failed() -> bool:
                return bool((await job("local-breaks")).status == common_pb2.ERROR)

            await until(failed)
            await jobs.AcknowledgeError(
                job_service_pb2.AcknowledgeErrorRequest(
                    job=ref, message="known flaky source", ticket_id="OPS-42"
                ),
                metadata=md,
            )
            acked = await job("local-breaks")
            assert acked.error_acknowledged
            assert acked.error_acknowledged_message == "known flaky source"
            assert acked.error_acknowledgment_ticket_id == "OPS-42"
            assert acked.error_acknowledge_user == "local-admin"
            assert acked.error_acknowledge_timestamp > 0
            # a reset clears the acknowledgement
            await jobs.ResetJob(job_service_pb2.JobVerbRequest(job=ref), metadata=md)
            reset = await job("local-breaks")
            assert not reset.error_acknowledged
            assert reset.error_acknowledged_message == ""
        finally:
            await agent.stop()
            await channel.close(None)


async def test_nightly_batch_stop_quick_stats_keeps_the_warehouse_from_completing(
    tmp_path: Path,
) -> None:
    """examples/README.md: after the operator's global event stop-quick-stats, quick-stats never
    runs, and (Ikasan's rule) the warehouse never completes, even with quick-stats skipped; the
    instance is ended by hand."""
    async with wired(tmp_path) as (app, token):
        md = bearer_metadata(token)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        plans = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        instances = instance_service_pb2_grpc.InstanceServiceStub(  # type: ignore[no-untyped-call]
            channel
        )
        jobs = job_service_pb2_grpc.JobServiceStub(channel)  # type: ignore[no-untyped-call]
        events = admin_service_pb2_grpc.GlobalEventServiceStub(  # type: ignore[no-untyped-call]
            channel
        )
        agent = start_agent(tmp_path, app.port, "local", agent_token(app, "local"))
        await agent.start()
        try:
            plan = load_plan_file(EXAMPLES / "nightly-batch.yaml")
            await plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan), metadata=md)
            created = await instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="nightly-batch"),
                metadata=md,
            )
            reached = await events.RaiseGlobalEvent(
                admin_service_pb2.RaiseGlobalEventRequest(
                    job_name="stop-quick-stats", environment_group="prod-batch"
                ),
                metadata=md,
            )
            assert list(reached.context_instance_ids) == [created.id]
            await jobs.RunJob(
                job_service_pb2.RunJobRequest(
                    job=common_pb2.JobRef(
                        context_instance_id=created.id, job_identifier="local-kickoff"
                    )
                ),
                metadata=md,
            )

            async def get() -> Any:
                return await instances.GetInstance(
                    instance_service_pb2.GetInstanceRequest(context_instance_id=created.id),
                    metadata=md,
                )

            async def indexes_rebuilt() -> bool:
                got = {j.identifier: j.status for j in (await get()).jobs}
                return bool(got["local-rebuild-indexes"] == common_pb2.COMPLETE)

            await until(indexes_rebuilt)
            got = await get()
            assert got.status == common_pb2.RUNNING
            stats = {j.identifier: j for j in got.jobs}["local-quick-stats"]
            assert stats.status == common_pb2.WAITING
            assert stats.status_reason == (
                "blocked: GLOBAL_EVENT-stop-quick-stats happened (a 'not' operand)"
            )
            await jobs.SkipJob(
                job_service_pb2.JobVerbRequest(
                    job=common_pb2.JobRef(
                        context_instance_id=created.id,
                        job_identifier="local-quick-stats",
                        child_context_name="warehouse",
                    )
                ),
                metadata=md,
            )
            got = await get()
            assert {c.context_name: c.status for c in got.contexts}["warehouse"] == (
                common_pb2.RUNNING
            )
            assert got.status == common_pb2.RUNNING
            ended = await instances.EndInstance(
                instance_service_pb2.EndInstanceRequest(context_instance_id=created.id), metadata=md
            )
            assert ended.status == common_pb2.ENDED
        finally:
            await agent.stop()
            await channel.close(None)
