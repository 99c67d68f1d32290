"""An agent speaks only for its own jobs: with its own token, agent b1 reports agent a1's
running job as complete (naming itself, naming a1, reusing a1's initiation and message ids);
every such event is refused before the engine, audited with what b1 tried, and counted, and
a1's genuine completion still applies (a forged id does not shadow it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from ikasched.v1 import agent_pb2, events_pb2, instance_service_pb2
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.store import changes
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.testing import wait_until

from .conftest import Api, make_tokens, sim, sim_agents, two_agent_plan, wired


def refusals(app: Dashboard) -> list[tuple[str, str, str]]:
    """(actor, cause, detail) of every refused-event audit row."""
    with read_transaction(app.engine) as conn:
        return [
            (c.entry.actor, c.entry.cause, c.entry.detail)
            for c in changes.changes_after(conn, 0, limit=10**6)
            if c.entry.detail.startswith("event refused")
        ]


def status(app: Dashboard, iid: str, job: str) -> Status:
    state = app.orchestrator.instance_state(iid)
    assert state is not None
    return state.job(job, state.plan_name).status


def forged(
    init: events_pb2.SchedulerJobInitiationEvent,
    *,
    agent: str,
    message_id: str,
    initiation_id: str | None = None,
    attempt: int = 0,
) -> bytes:
    ev = events_pb2.ContextualisedScheduledProcessEvent(
        id=message_id,
        agent_name=agent,
        job_name=init.job_name,
        job_identifier=init.job_identifier,
        context_name=init.context_name,
        context_instance_id=init.context_instance_id,
        initiation_id=init.id if initiation_id is None else initiation_id,
        attempt=attempt or init.attempt or 1,
        successful=True,
        return_code=0,
    )
    return agent_pb2.AgentMessage(id=message_id, process_event=ev).SerializeToString()


async def test_an_agent_cannot_complete_another_agents_job(tmp_path: Path) -> None:
    async with wired(tmp_path) as app:
        tokens = make_tokens(app)
        a1 = sim(app, "a1", tokens.agent_a1, auto=False, triggers=["a1-start"])
        b1 = sim(app, "b1", tokens.agent_b1, auto=False)
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
            sim_agents(app, a1, b1),
        ):
            api = Api(channel, tokens.admin)
            await api.provision(two_agent_plan("pa", "a1", "b1"))
            created = await api.instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="pa"), metadata=api.md
            )
            iid = created.id
            await wait_until(lambda: any(i.job_identifier == "a1-j1" for i in a1.queued.values()))
            (init,) = [i for i in a1.queued.values() if i.job_identifier == "a1-j1"]
            # a1 starts its job: RUNNING
            await a1.outbox.add([a1._event(init, starting=True)])
            await wait_until(lambda: status(app, iid, "a1-j1") is Status.RUNNING)
            genuine_id = f"{init.id}:completed"
            # b1, over its own link: naming itself, naming a1, with a1's ids
            await b1.outbox.add(
                [
                    forged(init, agent="b1", message_id=genuine_id),
                    forged(init, agent="a1", message_id="b1-says-a1"),
                ]
            )
            await wait_until(lambda: len(refusals(app)) == 2)
            # a1 itself, with an initiation of another instance: refused too
            await a1.outbox.add(
                [forged(init, agent="a1", message_id="wrong-init", initiation_id="other:1")]
            )
            await wait_until(lambda: len(refusals(app)) == 3)
            # and with the right initiation but another attempt (another run of it)
            await a1.outbox.add([forged(init, agent="a1", message_id="wrong-run", attempt=7)])
            await wait_until(lambda: len(refusals(app)) == 4)
            found = refusals(app)
            assert [a for a, _c, _d in found] == ["agent:b1", "agent:b1", "agent:a1", "agent:a1"]
            assert "job a1-j1" in found[0][2] and "assigned to agent 'a1'" in found[0][2]
            assert "names agent 'a1'" in found[1][2]
            assert "not raised in instance" in found[2][2]
            assert "attempt" in found[3][2]
            # nothing reached the engine: a1-j1 still RUNNING, b1-j2 never initiated
            assert status(app, iid, "a1-j1") is Status.RUNNING
            assert status(app, iid, "b1-j2") is Status.WAITING
            assert not b1.queued
            # b1 reports its own job, under the id of a1's coming completion report
            own = events_pb2.ContextualisedScheduledProcessEvent(
                id="own",
                agent_name="b1",
                job_name="j2",
                job_identifier="b1-j2",
                context_name="pa",
                context_instance_id=iid,
                job_starting=True,
            )
            await b1.outbox.add(
                [agent_pb2.AgentMessage(id=genuine_id, process_event=own).SerializeToString()]
            )
            await wait_until(lambda: len(refusals(app)) == 5)
            assert "report id of initiation" in refusals(app)[4][2]
            assert status(app, iid, "b1-j2") is Status.WAITING
            assert app.orchestrator.events_refused == {"b1": 3, "a1": 2}
            metrics = app.metrics
            assert metrics is not None
            text = await metrics.registry.render()
            assert 'ikasched_agent_events_refused_total{agent="b1"} 3' in text
            # a1's genuine completion, with the id b1 forged first, still applies
            await a1.outbox.add([a1._event(init, starting=False)])
            await wait_until(lambda: status(app, iid, "a1-j1") is Status.COMPLETE)
            await wait_until(lambda: any(i.job_identifier == "b1-j2" for i in b1.queued.values()))
            await asyncio.sleep(0)
