"""SetAgentDryRunMode reaches the agent through its outbox: the real agent's registry takes the
new mode (agent-wide and per job), and an unknown agent is NOT_FOUND naming the field."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from ikasched.v1 import admin_service_pb2, admin_service_pb2_grpc, agent_pb2
from ikasched_common.auth import bearer_metadata

from .test_wired_dashboard import agent_token, start_agent, wired


async def test_agent_dry_run_mode_reaches_the_agent(tmp_path: Path) -> None:
    async with wired(tmp_path) as (app, token):
        md = bearer_metadata(token)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        agents = admin_service_pb2_grpc.AgentServiceStub(channel)  # type: ignore[no-untyped-call]
        agent = start_agent(tmp_path, app.port, "local", agent_token(app, "local"))
        await agent.start()
        try:
            for _ in range(400):
                listed = await agents.ListAgents(
                    admin_service_pb2.ListAgentsRequest(connected_only=True), metadata=md
                )
                if [a.agent_name for a in listed.agents] == ["local"]:
                    break
                await asyncio.sleep(0.05)
            info = await agents.SetAgentDryRunMode(
                admin_service_pb2.SetAgentDryRunModeRequest(
                    agent_name="local",
                    mode=agent_pb2.SetDryRunMode(dry_run_mode=True, job_dry_run={"slow": False}),
                ),
                metadata=md,
            )
            assert info.agent_name == "local"

            async def applied() -> None:
                while not agent.registry.dry_run.agent_wide:
                    await asyncio.sleep(0.02)

            await asyncio.wait_for(applied(), 30)
            assert agent.registry.dry_run.applies_to("any-job")
            assert not agent.registry.dry_run.applies_to("slow")
            with pytest.raises(grpc.aio.AioRpcError) as info_err:
                await agents.SetAgentDryRunMode(
                    admin_service_pb2.SetAgentDryRunModeRequest(agent_name="nobody"), metadata=md
                )
            assert info_err.value.code() == grpc.StatusCode.NOT_FOUND
            assert "agent_name" in (info_err.value.details() or "")
        finally:
            await agent.stop()
            await channel.close(None)
