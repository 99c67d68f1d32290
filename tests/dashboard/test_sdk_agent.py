"""A fake agent written only with the generated SDK (the raw AgentGateway stub and agent_pb2
frames, no link library): it drives a real dashboard, cuts its connection in the middle of
batches in both directions and reconnects; nothing is lost or applied twice, counted from the
audit table and from the initiations the agent journaled."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from pathlib import Path

import grpc
import grpc.aio

from ikasched.v1 import agent_pb2, agent_pb2_grpc, common_pb2, events_pb2
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.store import changes
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.testing import chain_plan, provision, running_dashboard, wait_until
from tests.dashboard.support import orchestrator_idle

PROTOCOL_VERSION = 1


class SdkAgent:
    """A durable agent in miniature: its journal and outbox are dicts that outlive connections."""

    def __init__(self, name: str, target: str, *, max_cuts: int) -> None:
        self.name = name
        self.target = target
        self.instance_id = uuid.uuid4().hex
        self.journaled = 0  # dashboard -> agent: last seq journaled here
        self.inbox: dict[int, agent_pb2.DashboardMessage] = {}
        self.outbox: list[agent_pb2.AgentMessage] = []  # agent -> dashboard: seq = index + 1
        self.sent_up_to = 0
        self.peer_acked = 0
        self.initiations: Counter[tuple[str, str]] = Counter()
        self.fired: set[str] = set()
        self.max_cuts = max_cuts
        self.cuts = 0
        self.batches_seen = 0
        self.connections = 0
        self.overlapping_resends = 0

    # ---- the fake executor ---------------------------------------------------------------
    def _event(
        self, init: events_pb2.SchedulerJobInitiationEvent, *, starting: bool
    ) -> agent_pb2.AgentMessage:
        ev = events_pb2.ContextualisedScheduledProcessEvent(
            id=f"{init.id}:{'starting' if starting else 'completed'}",
            outcome=common_pb2.EXECUTION_INVOKED,
            agent_name=self.name,
            job_name=init.job_name,
            job_identifier=init.job_identifier,
            context_name=init.context_name,
            context_instance_id=init.context_instance_id,
            child_context_names=list(init.child_context_names),
            initiation_id=init.id,
            job_starting=starting,
            successful=True,
            pid=77,
            return_code=0,
            attempt=init.attempt or 1,
        )
        return agent_pb2.AgentMessage(id=ev.id, process_event=ev)

    def _handle(self, message: agent_pb2.DashboardMessage) -> None:
        kind = message.WhichOneof("body")
        if kind == "initiation":
            init = message.initiation
            self.initiations[(init.context_instance_id, init.job_identifier)] += 1
            self.outbox += [self._event(init, starting=True), self._event(init, starting=False)]
        activations: list[agent_pb2.ActivateInstance] = []
        if kind == "activate_instance":
            activations.append(message.activate_instance)
        elif kind == "sync_instances":
            activations.extend(message.sync_instances.instances)
        for act in activations:
            trigger = f"{self.name}-start"
            if trigger in act.job_identifiers and act.context_instance_id not in self.fired:
                self.fired.add(act.context_instance_id)
                ev = events_pb2.ContextualisedScheduledProcessEvent(
                    id=f"fire:{act.context_instance_id}",
                    outcome=common_pb2.EXECUTION_INVOKED,
                    agent_name=self.name,
                    job_name="start",
                    job_identifier=trigger,
                    context_name=act.context_name,
                    context_instance_id=act.context_instance_id,
                    successful=True,
                )
                self.outbox.append(agent_pb2.AgentMessage(id=ev.id, process_event=ev))

    # ---- the link, by hand ----------------------------------------------------------------
    async def _flush(self, call: grpc.aio.StreamStreamCall) -> None:  # type: ignore[type-arg]
        if self.sent_up_to >= len(self.outbox):
            return
        batch = agent_pb2.AgentBatch(
            messages=[
                agent_pb2.SequencedAgentMessage(seq=seq, message=self.outbox[seq - 1])
                for seq in range(self.sent_up_to + 1, len(self.outbox) + 1)
            ]
        )
        self.sent_up_to = len(self.outbox)
        await call.write(agent_pb2.AgentFrame(batch=batch))

    async def _heartbeats(self, call: grpc.aio.StreamStreamCall) -> None:  # type: ignore[type-arg]
        while True:
            await asyncio.sleep(0.2)
            await call.write(agent_pb2.AgentFrame(heartbeat=agent_pb2.Heartbeat()))

    async def _session(self, stub: agent_pb2_grpc.AgentGatewayStub, stop: asyncio.Event) -> None:
        call = stub.Connect()
        self.connections += 1
        hello = agent_pb2.AgentHello(
            agent_name=self.name,
            agent_hostname="sdk-host",
            agent_version="sdk-1",
            protocol_version=PROTOCOL_VERSION,
            last_journaled_seq=self.journaled,
            last_assigned_seq=len(self.outbox),
            agent_instance_id=self.instance_id,
        )
        await call.write(agent_pb2.AgentFrame(hello=hello))
        first = await call.read()
        assert first.WhichOneof("frame") == "welcome", first
        welcome = first.welcome
        assert welcome.last_assigned_seq >= self.journaled  # the dashboard lost nothing
        self.peer_acked = max(self.peer_acked, welcome.last_journaled_seq)
        # resend what the dashboard lacks, plus one message it already has (must be ignored)
        self.sent_up_to = max(0, welcome.last_journaled_seq - 1)
        if welcome.last_journaled_seq > 0:
            self.overlapping_resends += 1
        beat = asyncio.get_running_loop().create_task(self._heartbeats(call))
        try:
            await self._flush(call)
            while not stop.is_set():
                frame = await call.read()
                if frame is grpc.aio.EOF:  # type: ignore[attr-defined]
                    return
                kind = frame.WhichOneof("frame")
                if kind == "ack":
                    self.peer_acked = max(self.peer_acked, frame.ack.journaled_up_to)
                if kind != "batch":
                    continue
                self.batches_seen += 1
                messages = list(frame.batch.messages)
                cut = self.cuts < self.max_cuts and self.batches_seen % 3 == 0
                if cut:
                    messages = messages[: len(messages) // 2]  # journal part, never ack
                for item in messages:
                    if item.seq <= self.journaled:
                        continue  # a resend of something journaled already
                    assert item.seq == self.journaled + 1, (item.seq, self.journaled)
                    self.inbox[item.seq] = item.message
                    self.journaled = item.seq
                    self._handle(item.message)
                if cut:
                    self.cuts += 1
                    await self._flush(call)  # in flight when the connection drops
                    return
                await call.write(
                    agent_pb2.AgentFrame(ack=agent_pb2.LinkAck(journaled_up_to=self.journaled))
                )
                await self._flush(call)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            call.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        async with grpc.aio.insecure_channel(self.target) as channel:
            stub = agent_pb2_grpc.AgentGatewayStub(channel)  # type: ignore[no-untyped-call]
            while not stop.is_set():
                with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
                    await self._session(stub, stop)
                await asyncio.sleep(0.05)


def test_sdk_agent_cut_mid_batch_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    count, length = 3, 8

    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            agent = SdkAgent("s1", f"127.0.0.1:{proc.port}", max_cuts=4)
            stop = asyncio.Event()
            task = asyncio.get_running_loop().create_task(agent.run(stop))
            try:
                await provision(proc, chain_plan("sdk", ["s1"], length))
                ids = [
                    await proc.orchestrator.create_instance(NewInstance("sdk", n + 1))
                    for n in range(count)
                ]

                def done() -> bool:
                    states = [proc.orchestrator.instance_state(i) for i in ids]
                    return all(s is None or s.status.value == "COMPLETE" for s in states)

                await wait_until(done, timeout=60)
                await orchestrator_idle(proc.orchestrator)
            finally:
                stop.set()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            assert agent.cuts == 4 and agent.connections >= 5
            assert agent.overlapping_resends >= 1
            jobs = [f"s1-j{n}" for n in range(1, length + 1)]
            # each job initiated (journaled by the agent) exactly once
            assert agent.initiations == Counter({(i, j): 1 for i in ids for j in jobs})
            # each event processed once: the trigger, then starting + completion per job
            assert proc.orchestrator.events_processed == count * (1 + 2 * length)
            with read_transaction(proc.engine) as conn:
                trail = Counter(
                    (
                        c.entry.instance_id,
                        c.entry.job_identifier,
                        c.entry.from_status,
                        c.entry.to_status,
                    )
                    for c in changes.changes_after(conn, 0, limit=100_000)
                    if c.entry.job_identifier and c.entry.to_status
                )
            for iid in ids:
                for job in jobs:
                    assert trail[(iid, job, "WAITING", "RUNNING")] == 1
                    assert trail[(iid, job, "RUNNING", "COMPLETE")] == 1
                assert trail[(iid, "s1-start", "WAITING", "COMPLETE")] == 1

    asyncio.run(scenario())
