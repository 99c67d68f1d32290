"""GlobalEventService, QueueService, AgentService, health and reflection on a live server."""

from __future__ import annotations

import json

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import Engine

from ikasched.v1 import (
    admin_service_pb2,
    agent_pb2,
    events_pb2,
    instance_service_pb2,
    plan_service_pb2,
)
from ikasched_dashboard.store import agents as agent_store
from ikasched_dashboard.store import messages as message_store
from ikasched_dashboard.store.db import write_transaction

from .conftest import running
from .support import plan, refused

Code = grpc.StatusCode
A = admin_service_pb2


def agent_message(instance_id: str) -> bytes:
    ev = events_pb2.ContextualisedScheduledProcessEvent(
        id="m1", agent_name="a", job_name="one", context_instance_id=instance_id
    )
    return agent_pb2.AgentMessage(id="m1", process_event=ev).SerializeToString()


def initiation(secret: str) -> bytes:
    init = events_pb2.SchedulerJobInitiationEvent(id="o1", agent_name="a", job_name="one")
    init.context_parameters.add(name="PASSWORD", value=secret, secret=True)
    return agent_pb2.DashboardMessage(id="o1", initiation=init).SerializeToString()


async def test_raise_global_event(engine: Engine) -> None:
    async with running(engine) as d:
        await refused(
            d.events.RaiseGlobalEvent(A.RaiseGlobalEventRequest()),
            Code.INVALID_ARGUMENT,
            "job_name: required",
        )
        p = plan(environment_group="blue")
        p.scheduled_jobs.add(job_name="go").global_event_job.SetInParent()
        await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=p))
        created = await d.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(context_name="daily")
        )
        out = await d.events.RaiseGlobalEvent(
            A.RaiseGlobalEventRequest(job_name="go", environment_group="blue")
        )
        assert list(out.context_instance_ids) == [created.id]
        other = await d.events.RaiseGlobalEvent(
            A.RaiseGlobalEventRequest(job_name="go", environment_group="green")
        )
        assert list(other.context_instance_ids) == []
        assert d.orch.global_events[0] == ("go", "blue", False, "alice")


async def test_queues_list_peek_resubmit_delete(engine: Engine) -> None:
    async with running(engine) as d:
        inbox, dlq = d.ctx.inbox, d.ctx.dead_letters
        assert inbox is not None and dlq is not None
        inbox.append([agent_message("i-1")])
        dead_key = dlq.add(agent_message("i-2"), "engine refused it", 5, now=1000.0)
        with write_transaction(engine) as conn:
            message_store.insert_outbox(
                conn,
                [
                    message_store.OutboxMessage(
                        agent_name="a",
                        message=initiation("hunter2"),
                        message_id="o1",
                        type_name="ikasched.v1.DashboardMessage",
                        instance_id="i-3",
                        created_time=d.ctx.now_ms() - 5000,
                    )
                ],
            )
            agent_store.save_agent(conn, agent_store.AgentPresence(name="idle"))
        queues = await d.queues.ListQueues(A.ListQueuesRequest())
        assert [(q.name, q.kind, q.size) for q in queues.queues] == [
            ("inbox", A.QUEUE_INBOX, 1),
            ("dlq", A.QUEUE_DEAD_LETTER, 1),
            ("outbox/a", A.QUEUE_OUTBOX, 1),
        ]
        assert queues.queues[2].oldest_age_millis == 5000
        every = await d.queues.ListQueues(A.ListQueuesRequest(include_empty=True))
        assert "outbox/idle" in [q.name for q in every.queues]

        peek = await d.queues.PeekQueue(A.PeekQueueRequest(queue="inbox"))
        (msg,) = peek.messages
        body = json.loads(msg.json)
        assert body["processEvent"]["contextInstanceId"] == "i-1"
        dead = await d.queues.PeekQueue(A.PeekQueueRequest(queue="dlq"))
        assert [(m.message_id, m.error, m.attempts, m.created_time) for m in dead.messages] == [
            (str(dead_key), "engine refused it", 5, 1_000_000)
        ]
        out = await d.queues.PeekQueue(A.PeekQueueRequest(queue="outbox/a"))
        assert [(m.message_id, m.context_instance_id) for m in out.messages] == [("o1", "i-3")]
        assert "hunter2" not in out.messages[0].json and "***" in out.messages[0].json

        moved = await d.queues.ResubmitMessage(
            A.QueueMessageRequest(queue="dlq", message_id=str(dead_key))
        )
        assert moved.queue == "inbox" and "i-2" in moved.json
        assert len(dlq) == 0 and len(inbox) == 2
        await refused(
            d.queues.ResubmitMessage(A.QueueMessageRequest(queue="dlq", message_id=str(dead_key))),
            Code.NOT_FOUND,
        )
        await refused(
            d.queues.ResubmitMessage(A.QueueMessageRequest(queue="inbox", message_id="1")),
            Code.FAILED_PRECONDITION,
        )

        deleted = await d.queues.DeleteMessage(
            A.QueueMessageRequest(queue="inbox", message_id=moved.message_id)
        )
        assert deleted.deleted == 1 and len(inbox) == 1
        await refused(
            d.queues.DeleteMessage(A.QueueMessageRequest(queue="inbox", message_id="x")),
            Code.INVALID_ARGUMENT,
            "message_id",
        )
        await refused(
            d.queues.DeleteMessage(A.QueueMessageRequest(queue="outbox/a", message_id="o1")),
            Code.FAILED_PRECONDITION,
        )
        await refused(
            d.queues.DeleteAllMessages(A.DeleteAllMessagesRequest(queue="inbox")),
            Code.FAILED_PRECONDITION,
            "force",
        )
        cleared = await d.queues.DeleteAllMessages(
            A.DeleteAllMessagesRequest(queue="inbox", force=True)
        )
        assert cleared.deleted == 1 and len(inbox) == 0
        dlq.add(b"x", "bad", 1)
        dlq.add(b"y", "bad", 1)
        dropped = await d.queues.DeleteAllMessages(A.DeleteAllMessagesRequest(queue="dlq"))
        assert dropped.deleted == 2
        await refused(
            d.queues.PeekQueue(A.PeekQueueRequest(queue="elsewhere")), Code.NOT_FOUND, "elsewhere"
        )
        await refused(
            d.queues.PeekQueue(A.PeekQueueRequest(queue="inbox", limit=1001)),
            Code.RESOURCE_EXHAUSTED,
            "limit",
        )
        await refused(
            d.queues.PeekQueue(A.PeekQueueRequest()), Code.INVALID_ARGUMENT, "queue: required"
        )


async def test_agents(engine: Engine) -> None:
    async with running(engine) as d:
        await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan()))
        with write_transaction(engine) as conn:
            agent_store.save_agent(
                conn,
                agent_store.AgentPresence(
                    name="a",
                    connected=True,
                    last_seen=5,
                    version="1.0",
                    hostname="h1",
                    connected_since=3,
                    labels={"zone": "eu"},
                ),
            )
            agent_store.save_agent(conn, agent_store.AgentPresence(name="z", last_seen=1))
        listed = await d.agents.ListAgents(A.ListAgentsRequest())
        assert [a.agent_name for a in listed.agents] == ["a", "z"]
        a = listed.agents[0]
        assert (a.connected, a.agent_hostname, dict(a.labels), list(a.plan_names)) == (
            True,
            "h1",
            {"zone": "eu"},
            ["daily"],
        )
        connected = await d.agents.ListAgents(A.ListAgentsRequest(connected_only=True))
        assert [x.agent_name for x in connected.agents] == ["a"]
        one = await d.agents.GetAgent(A.GetAgentRequest(agent_name="z"))
        assert not one.connected and one.last_seen == 1
        await refused(d.agents.GetAgent(A.GetAgentRequest(agent_name="q")), Code.NOT_FOUND)
        await refused(
            d.agents.GetAgent(A.GetAgentRequest()), Code.INVALID_ARGUMENT, "agent_name: required"
        )


async def test_health_and_reflection(engine: Engine) -> None:
    async with running(engine) as d:
        health = health_pb2_grpc.HealthStub(d.channel)
        for service in ("", "ikasched.v1.PlanService", "ikasched.v1.JobService"):
            out = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert out.status == health_pb2.HealthCheckResponse.SERVING
        await d.registered.set_serving(False)
        out = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert out.status == health_pb2.HealthCheckResponse.NOT_SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(d.channel)
        call = stub.ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        reply = await call.read()
        await call.done_writing()
        names = {s.name for s in reply.list_services_response.service}
        assert {
            "ikasched.v1.PlanService",
            "ikasched.v1.InstanceService",
            "ikasched.v1.JobService",
            "ikasched.v1.QueueService",
            "ikasched.v1.AgentService",
            "ikasched.v1.GlobalEventService",
            "grpc.health.v1.Health",
        } <= names
