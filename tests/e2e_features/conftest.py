"""The fully wired dashboard (Dashboard) with a real in-process agent on 127.0.0.1, for the
cross-cutting features: TLS, job logs through the dashboard, agent load, secret parameters.

Async tests run on a fresh loop each (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from ikasched.v1 import (
    admin_service_pb2_grpc,
    common_pb2,
    instance_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    plan_pb2,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_agent.agent import Agent, AgentOptions, real_log_server
from ikasched_common.auth import Role, bearer_metadata
from ikasched_common.config import AgentConfig, DashboardConfig
from ikasched_common.link import Backoff
from ikasched_common.tls import Pki, channel_credentials
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.plans.loader import plan_from_dict
from ikasched_dashboard.services.tokens import TokenSpec, bootstrap_admin_token, create_token

WAIT_SECONDS = 60.0


async def until(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_SECONDS
) -> None:
    async def loop() -> None:
        while not await check():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@dataclass
class Stack:
    """A running dashboard, its admin token and operator stubs on one channel."""

    app: Dashboard
    token: str
    channel: grpc.aio.Channel
    tmp: Path
    pki: Pki | None = None

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return tuple(bearer_metadata(self.token))

    @property
    def plans(self) -> Any:
        return plan_service_pb2_grpc.PlanServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def instances(self) -> Any:
        return instance_service_pb2_grpc.InstanceServiceStub(  # type: ignore[no-untyped-call]
            self.channel
        )

    @property
    def jobs(self) -> Any:
        return job_service_pb2_grpc.JobServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def agents(self) -> Any:
        return admin_service_pb2_grpc.AgentServiceStub(  # type: ignore[no-untyped-call]
            self.channel
        )

    def agent(self, name: str, **options: Any) -> Agent:
        _record, secret = create_token(
            self.app.engine,
            TokenSpec(subject=f"agent {name}", role=Role.AGENT, agent_name=name),
        )
        tls: dict[str, Any] = {}
        if self.pki is not None:
            tls = {
                "tls_ca_file": str(self.pki.ca_cert),
                "tls_cert_file": str(self.pki.client_cert),
                "tls_key_file": str(self.pki.client_key),
            }
        config = AgentConfig(
            name=name,
            dashboard=f"127.0.0.1:{self.app.port}",
            data_dir=self.tmp / "agents" / name,
            token=secret,
            **tls,
        )
        options.setdefault("log_factory", real_log_server)  # as `ikasched agent` runs it
        opts = AgentOptions(
            backoff=Backoff(initial=0.05, maximum=0.2),
            status_interval=options.pop("status_interval", 0.2),
            **options,
        )
        return Agent(config, options=opts)

    async def provision(self, plan: plan_pb2.Context) -> None:
        await self.plans.ProvisionPlan(
            plan_service_pb2.ProvisionPlanRequest(plan=plan), metadata=self.md
        )

    async def create(self, plan_name: str, parameters: Mapping[str, str] | None = None) -> str:
        created = await self.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(
                context_name=plan_name, context_parameters=params(parameters or {})
            ),
            metadata=self.md,
        )
        return str(created.id)

    async def instance(self, instance_id: str) -> instance_pb2.ContextInstance:
        got: instance_pb2.ContextInstance = await self.instances.GetInstance(
            instance_service_pb2.GetInstanceRequest(context_instance_id=instance_id),
            metadata=self.md,
        )
        return got

    async def job_status(self, instance_id: str, job: str) -> int:
        got = await self.instance(instance_id)
        return int({j.identifier: j.status for j in got.jobs}[job])

    async def run_job(
        self, instance_id: str, job: str, parameters: Mapping[str, str] | None = None
    ) -> None:
        await self.jobs.RunJob(
            job_service_pb2.RunJobRequest(
                job=common_pb2.JobRef(context_instance_id=instance_id, job_identifier=job),
                context_parameters=params(parameters or {}),
            ),
            metadata=self.md,
        )

    async def wait_job(
        self, instance_id: str, job: str, statuses: Sequence[int] = (common_pb2.COMPLETE,)
    ) -> None:
        async def reached() -> bool:
            return await self.job_status(instance_id, job) in statuses

        await until(reached, f"{job} in {instance_id} to reach {list(statuses)}")

    async def wait_connected(self, name: str) -> None:
        from ikasched.v1 import admin_service_pb2

        async def connected() -> bool:
            listed = await self.agents.ListAgents(
                admin_service_pb2.ListAgentsRequest(), metadata=self.md
            )
            return any(a.agent_name == name and a.connected for a in listed.agents)

        await until(connected, f"agent {name} to connect")


def params(values: Mapping[str, str]) -> list[common_pb2.ContextParameterInstance]:
    return [common_pb2.ContextParameterInstance(name=k, value=v) for k, v in values.items()]


def command_plan(
    name: str,
    agent: str,
    commands: Mapping[str, str],
    *,
    parameters: Sequence[Mapping[str, Any]] = (),
    job_parameters: Sequence[str] = (),
) -> plan_pb2.Context:
    """A plan of independent command jobs on one agent, each started by RunJob; every job
    consumes `job_parameters` (as environment variables)."""
    jobs: list[dict[str, Any]] = []
    for job_name, command in commands.items():
        job: dict[str, Any] = {"commandLine": command, "timeoutSeconds": 120}
        if job_parameters:
            job["contextParameters"] = [{"name": p} for p in job_parameters]
        jobs.append({"agentName": agent, "jobName": job_name, "internalEventDrivenJob": job})
    doc: dict[str, Any] = {
        "name": name,
        "timezone": "UTC",
        "scheduledJobs": jobs,
        "ableToRunConcurrently": True,
        "jobDependencies": [{"jobIdentifier": f"{agent}-{j}"} for j in commands],
    }
    if parameters:
        doc["contextParameters"] = [dict(p) for p in parameters]
    return plan_from_dict(doc, source=name)


@contextlib.asynccontextmanager
async def wired(
    tmp: Path, *, pki: Pki | None = None, mutual: bool = True, **config: Any
) -> AsyncIterator[Stack]:
    tls: dict[str, Any] = {}
    if pki is not None:
        tls = {"tls_cert_file": str(pki.server_cert), "tls_key_file": str(pki.server_key)}
        if mutual:
            tls["tls_client_ca_file"] = str(pki.ca_cert)
    app = Dashboard(DashboardConfig(data_dir=tmp / "dash", listen="127.0.0.1:0", **tls, **config))
    await app.start()
    bootstrap_admin_token(app.engine, tmp / "admin.token")
    token = (tmp / "admin.token").read_text().strip()
    if pki is not None:
        creds = channel_credentials(pki.ca_cert, pki.client_cert, pki.client_key)
        channel = grpc.aio.secure_channel(f"127.0.0.1:{app.port}", creds)
    else:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        yield Stack(app, token, channel, tmp, pki)
    finally:
        await channel.close(None)
        await app.stop()


@contextlib.asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()
