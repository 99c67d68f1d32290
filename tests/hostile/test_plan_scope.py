"""A token limited to plan "pa" acts and sees within "pa" only: its global event reaches pa's
instances and not pb's (the same global job in both), ListAgents/GetAgent show neither pb's
agents nor pb's name, and a job log of pa cannot be read with an initiation of pb."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from ikasched.v1 import (
    admin_service_pb2,
    common_pb2,
    instance_service_pb2,
    job_service_pb2,
)
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.testing import wait_until

from .conftest import Api, make_tokens, sim, sim_agents, two_agent_plan, wired


def status(app: Dashboard, iid: str, job: str) -> Status:
    state = app.orchestrator.instance_state(iid)
    assert state is not None
    return state.job(job, state.plan_name).status


async def _instance(api: Api, plan: str) -> str:
    made = await api.instances.CreateInstance(
        instance_service_pb2.CreateInstanceRequest(context_name=plan), metadata=api.md
    )
    return str(made.id)


async def test_a_plan_limited_operator_reaches_its_own_plans_only(tmp_path: Path) -> None:
    async with wired(tmp_path) as app:
        tokens = make_tokens(app)
        a1 = sim(app, "a1", tokens.agent_a1, auto=False)
        b1 = sim(app, "b1", tokens.agent_b1, auto=False, triggers=["b1-start"])
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
            sim_agents(app, a1, b1),
        ):
            admin, scoped = Api(channel, tokens.admin), Api(channel, tokens.operator_a)
            await admin.provision(two_agent_plan("pa", "a1", "a2"))
            await admin.provision(two_agent_plan("pb", "b1", "b2"))
            ia, ib = await _instance(admin, "pa"), await _instance(admin, "pb")
            reached = await scoped.events.RaiseGlobalEvent(
                admin_service_pb2.RaiseGlobalEventRequest(
                    job_name="go", ignore_environment_group=True
                ),
                metadata=scoped.md,
            )
            assert list(reached.context_instance_ids) == [ia]
            assert status(app, ia, "GLOBAL_EVENT-go") is Status.COMPLETE
            assert status(app, ib, "GLOBAL_EVENT-go") is Status.WAITING
            # an unlimited operator's event still reaches every plan
            everyone = await admin.events.RaiseGlobalEvent(
                admin_service_pb2.RaiseGlobalEventRequest(
                    job_name="go", ignore_environment_group=True
                ),
                metadata=admin.md,
            )
            assert sorted(everyone.context_instance_ids) == sorted([ia, ib])

            # agents: only pa's, naming only pa
            await wait_until(lambda: {"a1", "b1"} <= set(app.gateway.connected_agents()))
            listed = await scoped.agents.ListAgents(
                admin_service_pb2.ListAgentsRequest(), metadata=scoped.md
            )
            assert {a.agent_name: list(a.plan_names) for a in listed.agents} == {"a1": ["pa"]}
            full = await admin.agents.ListAgents(
                admin_service_pb2.ListAgentsRequest(), metadata=admin.md
            )
            assert {a.agent_name for a in full.agents} == {"a1", "b1"}
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await scoped.agents.GetAgent(
                    admin_service_pb2.GetAgentRequest(agent_name="b1"), metadata=scoped.md
                )
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            mine = await scoped.agents.GetAgent(
                admin_service_pb2.GetAgentRequest(agent_name="a1"), metadata=scoped.md
            )
            assert list(mine.plan_names) == ["pa"]

            # logs: pb's initiation through a job of pa is refused before any agent is asked
            await wait_until(lambda: any(i.job_identifier == "b1-j1" for i in b1.queued.values()))
            (init_b,) = [i for i in b1.queued.values() if i.job_identifier == "b1-j1"]
            logs = scoped.jobs.GetJobLogs(
                job_service_pb2.GetJobLogsRequest(
                    job=common_pb2.JobRef(context_instance_id=ia, job_identifier="a1-start"),
                    initiation_id=init_b.id,
                ),
                metadata=scoped.md,
            )
            with pytest.raises(grpc.aio.AioRpcError) as info:
                async for _ in logs:
                    pass
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "initiation_id" in str(info.value.details())
