"""The link end to end over the in-memory transport: faults, resume, lanes, liveness, state loss."""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Mapping

import pytest

from ikasched.v1 import agent_pb2
from ikasched_common.journal import MemoryJournal
from ikasched_common.link import (
    AgentIdentity,
    AgentLinkClient,
    Backoff,
    JournalOutbox,
    LinkClosed,
    LinkSettings,
    LinkTimeout,
    MemoryDialer,
    MemoryOutbox,
    Receiver,
    memory_pair,
)
from ikasched_common.link.transport import (
    AGENT_TO_DASHBOARD,
    DashboardConnection,
    FaultPolicy,
    MemoryConnection,
)
from tests.link_support import (
    FAST,
    CountingReceiver,
    RecordingJournal,
    TestDashboard,
    agent_ids,
    agent_messages,
    dashboard_ids,
    dashboard_messages,
    exactly_once_in_order,
    wait_until,
)

AgentEnd = MemoryConnection[agent_pb2.AgentFrame, agent_pb2.DashboardFrame]

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
QUICK_BACKOFF = Backoff(initial=0.001, maximum=0.01)


class Agent:
    """An agent-side link with its own journals."""

    def __init__(
        self,
        dialer: MemoryDialer,
        name: str = "a1",
        instance: str = "i1",
        settings: LinkSettings = FAST,
    ) -> None:
        self.inbox = MemoryJournal()
        self.receiver = Receiver(self.inbox)
        self.outbox = JournalOutbox(MemoryJournal())
        self.lanes: list[agent_pb2.DashboardLaneMessage] = []

        async def on_lane(message: agent_pb2.DashboardLaneMessage) -> None:
            self.lanes.append(message)

        self.client = AgentLinkClient(
            dialer,
            AgentIdentity(name, instance),
            self.receiver,
            self.outbox,
            settings=settings,
            backoff=QUICK_BACKOFF,
            on_lane=on_lane,
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.client.run())

    async def stop(self) -> None:
        self.client.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        self.outbox.close()
        self.receiver.close()


def random_drops(seed: int, probability: float) -> FaultPolicy:
    rng = random.Random(seed)

    def policy(_direction: str, _frame: object) -> bool:
        return rng.random() < probability

    return policy


class ExactTail:
    """Fault-policy wrapper that checks the resume rule on the wire: after a hello/welcome
    the first batch each way starts exactly at the receiver's last journaled seq + 1."""

    def __init__(self, inner: FaultPolicy) -> None:
        self.inner = inner
        self.expect: dict[str, int | None] = {"a": None, "d": None}
        self.checked = 0
        self.violations: list[str] = []

    def __call__(self, direction: str, frame: object) -> bool:
        if isinstance(frame, agent_pb2.AgentFrame):
            kind = frame.WhichOneof("frame")
            if kind == "hello":  # what the agent journaled: the dashboard's batches start after
                self.expect["d"] = frame.hello.last_journaled_seq + 1
            elif kind == "batch":
                self._check("a", frame.batch.messages[0].seq)
        elif isinstance(frame, agent_pb2.DashboardFrame):
            kind = frame.WhichOneof("frame")
            if kind == "welcome":
                self.expect["a"] = frame.welcome.last_journaled_seq + 1
            elif kind == "batch":
                self._check("d", frame.batch.messages[0].seq)
        return self.inner(direction, frame)

    def _check(self, side: str, first: int) -> None:
        expected = self.expect[side]
        if expected is not None:
            self.checked += 1
            if first != expected:
                self.violations.append(f"{side}: first batch seq {first}, expected {expected}")
            self.expect[side] = None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_thousands_each_way_exactly_once_in_order_despite_random_drops(seed: int) -> None:
    count = 30_000 if LONG else 3_000

    async def scenario() -> None:
        dash = TestDashboard()
        tail = ExactTail(random_drops(seed, 0.1))
        dialer = MemoryDialer(dash.gateway.serve, fault=tail)
        agent = Agent(dialer)
        agent.start()
        slot = dash.slot("a1")
        rng = random.Random(seed)
        sent = 0
        while sent < count:  # producers keep adding while connections come and go
            step = min(rng.randint(1, 300), count - sent)
            await agent.outbox.add(agent_messages(step, sent))
            await slot.outbox.add(dashboard_messages(step, sent))
            sent += step
            await asyncio.sleep(0)
        await wait_until(lambda: len(slot.journal) == count and len(agent.inbox) == count, 60)
        await wait_until(lambda: len(agent.outbox._assigned_keys) == 0, 10)
        assert (await agent.outbox.position()).last_acked_seq == count
        assert agent.client.sessions_started > 5  # the faults really broke connections
        assert tail.violations == [] and tail.checked > 5
        exactly_once_in_order(agent_ids(slot.journal), [f"a{i}" for i in range(count)])
        exactly_once_in_order(dashboard_ids(agent.inbox), [f"d{i}" for i in range(count)])
        await wait_until(lambda: len(slot.outbox) == 0)  # type: ignore[arg-type]
        await agent.stop()
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())


def test_a_resend_overlapping_what_is_journaled_is_not_journaled_twice() -> None:
    async def scenario() -> None:
        dash = TestDashboard()
        slot = dash.slot("a1")
        msgs = agent_messages(15)

        async def connect(
            last_assigned: int,
        ) -> tuple[tuple[AgentEnd, agent_pb2.DashboardWelcome], asyncio.Task[None]]:
            agent_end, dash_end = memory_pair()
            task = asyncio.get_running_loop().create_task(dash.gateway.serve(dash_end, {}))
            hello = agent_pb2.AgentHello(
                agent_name="a1", protocol_version=1, last_assigned_seq=last_assigned
            )
            await agent_end.send(agent_pb2.AgentFrame(hello=hello))
            welcome = await agent_end.recv()
            assert welcome is not None
            return (agent_end, welcome.welcome), task

        def batch(first: int, last: int) -> agent_pb2.AgentFrame:
            frame = agent_pb2.AgentFrame()
            for seq in range(first, last + 1):
                item = frame.batch.messages.add()
                item.seq = seq
                item.message.MergeFromString(msgs[seq - 1])
            return frame

        (conn, welcome), task = await connect(0)
        assert welcome.last_journaled_seq == 0
        await conn.send(batch(1, 10))
        await wait_until(lambda: slot.receiver.journaled_seq == 10)
        await conn.close()
        await task
        (conn, welcome), task = await connect(10)
        assert welcome.last_journaled_seq == 10
        # a sloppy sender resends 5..15: only 11..15 are new
        await conn.send(batch(5, 15))
        acks: list[int] = []
        while not acks or acks[-1] < 15:
            frame = await conn.recv()
            assert frame is not None
            if frame.WhichOneof("frame") == "ack":
                acks.append(frame.ack.journaled_up_to)
        exactly_once_in_order(agent_ids(slot.journal), [f"a{i}" for i in range(15)])
        assert isinstance(slot.receiver, CountingReceiver) and slot.receiver.offered == 21
        await conn.close()
        await task
        dash.close()

    asyncio.run(scenario())


def test_lane_messages_are_not_held_behind_a_large_journaled_backlog() -> None:
    count = 20_000

    async def scenario() -> None:
        # a slow dashboard journal keeps the backlog flowing for a while
        dash = TestDashboard(journal_factory=lambda _n: RecordingJournal(delay=0.002))
        dialer = MemoryDialer(dash.gateway.serve)
        agent = Agent(dialer)
        await agent.outbox.add(agent_messages(count))
        agent.start()
        slot = dash.slot("a1")
        await wait_until(lambda: len(slot.journal) > 0)
        for i in range(20):
            status = agent_pb2.AgentLaneMessage(status=agent_pb2.AgentStatus(queued_jobs=i))
            assert await agent.client.send_lane(status)
        await wait_until(lambda: len(slot.lanes) == 20)
        # order evidence: every lane message arrived while most of the backlog was still queued
        assert all(journaled < count // 2 for _, journaled, _ in dash.lane_events)
        assert [m.status.queued_jobs for m in slot.lanes] == list(range(20))
        await wait_until(lambda: len(slot.journal) == count, 60)
        exactly_once_in_order(agent_ids(slot.journal), [f"a{i}" for i in range(count)])
        await agent.stop()
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())


def test_journaled_work_is_not_held_behind_lane_bulk() -> None:
    chunk = 64 * 1024
    chunks = 300  # about 19 MB of log on the lane

    async def scenario() -> None:
        dash = TestDashboard(lane_delay=0.001)
        dialer = MemoryDialer(dash.gateway.serve, queue_size=8)
        agent = Agent(dialer)
        agent.start()
        await agent.client.wait_connected()
        slot = dash.slot("a1")
        data = b"x" * chunk

        async def stream_log() -> None:
            for i in range(chunks):
                piece = agent_pb2.LogChunk(
                    request_id="r", offset=i * chunk, data=data, eof=i == chunks - 1
                )
                assert await agent.client.send_lane(agent_pb2.AgentLaneMessage(log_chunk=piece))

        streamer = asyncio.get_running_loop().create_task(stream_log())
        await wait_until(lambda: len(slot.lanes) >= 10)
        await agent.outbox.add(agent_messages(50))
        await streamer
        await wait_until(lambda: len(slot.lanes) == chunks)
        # the work went out interleaved: all 50 had arrived before the log transfer ended
        last_lane = dash.lane_events[-1]
        assert last_lane[2] == 50
        first_with_work = next(i for i, event in enumerate(dash.lane_events) if event[2] > 0)
        assert first_with_work < chunks - 10
        await wait_until(lambda: len(slot.journal) == 50)
        assert [m.log_chunk.offset for m in slot.lanes] == [i * chunk for i in range(chunks)]
        await agent.stop()
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())


def test_silent_dashboard_is_detected_by_the_liveness_timeout() -> None:
    async def scenario() -> None:
        heard: list[str] = []

        async def silent_dashboard(conn: DashboardConnection, _md: Mapping[str, str]) -> None:
            hello = await conn.recv()
            assert hello is not None
            welcome = agent_pb2.DashboardWelcome(
                protocol_version=1,
                heartbeat_interval_millis=30,
                liveness_timeout_millis=300,
                dashboard_id="d",
            )
            await conn.send(agent_pb2.DashboardFrame(welcome=welcome))
            while (frame := await conn.recv()) is not None:
                heard.append(frame.WhichOneof("frame"))

        dialer = MemoryDialer(silent_dashboard)
        agent = Agent(dialer)
        assert await asyncio.wait_for(agent.client.connect_once(), 10) is True
        assert isinstance(agent.client.last_error, LinkTimeout)
        # the agent kept sending heartbeats while the dashboard stayed silent
        assert heard.count("heartbeat") >= 2
        await dialer.aclose()

    asyncio.run(scenario())


def test_silent_agent_is_detected_and_reported_disconnected() -> None:
    async def scenario() -> None:
        settings = LinkSettings(heartbeat_interval=0.03, liveness_timeout=0.3)
        dash = TestDashboard(settings)
        agent_end, dash_end = memory_pair()
        task = asyncio.get_running_loop().create_task(dash.gateway.serve(dash_end, {}))
        hello = agent_pb2.AgentHello(agent_name="mute", protocol_version=1, agent_instance_id="x")
        await agent_end.send(agent_pb2.AgentFrame(hello=hello))
        frames: list[str] = []
        while (frame := await agent_end.recv()) is not None:  # drain, never answer
            frames.append(frame.WhichOneof("frame"))
        await asyncio.wait_for(task, 10)
        assert frames[0] == "welcome" and "heartbeat" in frames
        assert [(p.agent_name, p.connected) for p in dash.presence_log] == [
            ("mute", True),
            ("mute", False),
        ]
        assert "nothing heard" in dash.presence_log[-1].reason
        assert dash.gateway.connected_agents() == []
        dash.close()

    asyncio.run(scenario())


def test_dashboard_state_loss_is_logged_and_renumbered_without_hanging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        dash = TestDashboard()
        dialer = MemoryDialer(dash.gateway.serve)
        agent = Agent(dialer)
        agent.start()
        slot = dash.slot("a1")
        await agent.outbox.add(agent_messages(100))
        await slot.outbox.add(dashboard_messages(100))
        await wait_until(lambda: len(slot.journal) == 100 and len(agent.inbox) == 100)
        await wait_until(lambda: not agent.outbox._assigned_keys)
        # the dashboard loses its inbox journal (and the agent's inbox is fine)
        fresh = MemoryJournal()
        slot.journal, slot.receiver = fresh, CountingReceiver(fresh)
        dialer.drop_all()
        await agent.outbox.add(agent_messages(50, 100))
        await wait_until(lambda: len(fresh) == 50)
        exactly_once_in_order(agent_ids(fresh), [f"a{i}" for i in range(100, 150)])
        # numbering restarted after what the new journal had (nothing)
        assert slot.receiver.journaled_seq == 50
        assert any(
            "state loss" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
        )
        await agent.stop()
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())


def test_agent_state_loss_both_directions_renumbers_and_delivers_new_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        dash = TestDashboard()
        dialer = MemoryDialer(dash.gateway.serve)
        first = Agent(dialer, instance="i1")
        first.start()
        slot = dash.slot("a1")
        await first.outbox.add(agent_messages(100))
        await slot.outbox.add(dashboard_messages(100))
        await wait_until(lambda: len(slot.journal) == 100 and len(first.inbox) == 100)
        await wait_until(lambda: len(slot.outbox) == 0)  # type: ignore[arg-type]
        await first.stop()
        # the agent comes back with an empty data directory: new instance id, seqs from 0
        second = Agent(dialer, instance="i2")
        await second.outbox.add(agent_messages(50, 0, prefix="b"))
        await slot.outbox.add(dashboard_messages(50, 100))
        second.start()
        await wait_until(lambda: len(slot.journal) == 150 and len(second.inbox) == 50)
        exactly_once_in_order(
            agent_ids(slot.journal), [f"a{i}" for i in range(100)] + [f"b{i}" for i in range(50)]
        )
        exactly_once_in_order(dashboard_ids(second.inbox), [f"d{i}" for i in range(100, 150)])
        pos = await second.outbox.position()
        assert pos.last_assigned_seq == 150  # renumbered after the dashboard's 100
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("state loss" in m for m in errors)
        assert any("new instance id" in m for m in errors)
        await second.stop()
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())


def test_newer_connection_of_the_same_agent_replaces_the_older() -> None:
    async def scenario() -> None:
        dash = TestDashboard()
        dialer = MemoryDialer(dash.gateway.serve)
        old = Agent(dialer)
        old_run = asyncio.get_running_loop().create_task(old.client.connect_once())
        await old.client.wait_connected()
        old_session = dash.gateway.session("a1")
        new = Agent(dialer)
        new.start()
        assert await asyncio.wait_for(old_run, 10) is True
        # the older stream ended from the dashboard's side (the agent only sees the close)
        assert isinstance(old.client.last_error, LinkClosed)
        assert old_session is not None and old_session.closed
        await new.client.wait_connected()
        await wait_until(lambda: dash.gateway.session("a1") is not None)
        assert dash.gateway.session("a1") is not old_session
        assert dash.gateway.connected_agents() == ["a1"]
        presence = dash.gateway.presence("a1")
        assert presence is not None and presence.connected
        await new.stop()
        await wait_until(lambda: dash.gateway.connected_agents() == [])
        assert dash.presence_log[-1].connected is False
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())


def test_a_refused_hello_never_links() -> None:
    async def scenario() -> None:
        dash = TestDashboard(token="s3cret")
        bad = MemoryDialer(dash.gateway.serve, metadata={"authorization": "Bearer nope"})
        agent = Agent(bad)
        assert await agent.client.connect_once() is False
        assert dash.gateway.connected_agents() == []
        good = MemoryDialer(dash.gateway.serve, metadata={"authorization": "Bearer s3cret"})
        agent2 = Agent(good)
        agent2.start()
        await agent2.client.wait_connected()
        assert dash.gateway.connected_agents() == ["a1"]
        await agent2.stop()
        await bad.aclose()
        await good.aclose()
        dash.close()

    asyncio.run(scenario())


def test_a_stuck_agent_does_not_stall_the_others() -> None:
    async def scenario() -> None:
        dash = TestDashboard()
        # "stuck" says hello and then never reads: its outbox fills the window and the pipe
        await dash.slot("stuck").outbox.add(dashboard_messages(5000))
        stuck_end, dash_end = memory_pair(queue_size=4)
        stuck_task = asyncio.get_running_loop().create_task(dash.gateway.serve(dash_end, {}))
        hello = agent_pb2.AgentHello(agent_name="stuck", protocol_version=1)
        await stuck_end.send(agent_pb2.AgentFrame(hello=hello))
        dialer = MemoryDialer(dash.gateway.serve)
        good = Agent(dialer, name="good")
        good.start()
        slot = dash.slot("good")
        await good.outbox.add(agent_messages(2000))
        await slot.outbox.add(dashboard_messages(2000))
        await wait_until(lambda: len(slot.journal) == 2000 and len(good.inbox) == 2000)
        assert "stuck" in dash.gateway.connected_agents()
        await good.stop()
        stuck_end.drop()
        await asyncio.wait_for(stuck_task, 10)
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())


def test_reconnect_backoff_is_jittered_and_bounded() -> None:
    backoff = Backoff(initial=0.1, maximum=2.0)
    rng = random.Random(7)
    delays = [backoff.delay(attempt, rng) for attempt in range(10)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(d <= 2.0 for d in delays)
    assert delays[9] >= 1.0  # capped at the maximum, jittered down at most by half
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_memory_outbox_dashboard_side_is_interchangeable() -> None:
    async def scenario() -> None:
        outbox = MemoryOutbox()
        await outbox.add(dashboard_messages(3))
        assert len(outbox) == 3

    asyncio.run(scenario())


def test_batches_respect_message_byte_and_window_bounds() -> None:
    settings = LinkSettings(
        heartbeat_interval=0.05,
        liveness_timeout=2.0,
        max_batch_messages=40,
        max_frame_bytes=4000,
        window_messages=120,
    )
    batch_sizes: list[int] = []
    frame_bytes: list[int] = []
    in_flight: list[int] = []
    last_ack = 0

    def tap(direction: str, frame: object) -> bool:
        nonlocal last_ack
        if direction == AGENT_TO_DASHBOARD and isinstance(frame, agent_pb2.AgentFrame):
            if frame.WhichOneof("frame") == "batch":
                batch_sizes.append(len(frame.batch.messages))
                frame_bytes.append(frame.ByteSize())
                in_flight.append(frame.batch.messages[-1].seq - last_ack)
        elif isinstance(frame, agent_pb2.DashboardFrame) and frame.WhichOneof("frame") == "ack":
            last_ack = max(last_ack, frame.ack.journaled_up_to)
        return False

    async def scenario() -> None:
        # a slow dashboard journal makes acks lag, so the window is what holds the sender back
        dash = TestDashboard(settings, journal_factory=lambda _n: RecordingJournal(delay=0.003))
        dialer = MemoryDialer(dash.gateway.serve, fault=tap)
        agent = Agent(dialer, settings=settings)
        big = [
            agent_pb2.AgentMessage(
                id=f"a{i}", alert=agent_pb2.AgentAlert(message="z" * 300)
            ).SerializeToString()
            for i in range(1000)
        ]
        await agent.outbox.add(big)
        agent.start()
        slot = dash.slot("a1")
        await wait_until(lambda: len(slot.journal) == 1000, 30)
        exactly_once_in_order(agent_ids(slot.journal), [f"a{i}" for i in range(1000)])
        await agent.stop()
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())
    assert max(batch_sizes) <= 40
    assert max(frame_bytes) <= 4000
    assert 1 < max(batch_sizes) < 40  # the byte bound, not the count, split these
    assert max(in_flight) <= 120
    assert max(in_flight) > 40  # several batches were in flight at once


def test_stop_ends_the_reconnect_backoff_and_gateway_close_ends_sessions() -> None:
    async def scenario() -> None:
        dash = TestDashboard()
        dialer = MemoryDialer(dash.gateway.serve)
        agent = Agent(dialer)
        agent.client._backoff = Backoff(initial=30.0, maximum=30.0)  # a long wait if not woken
        agent.start()
        await agent.client.wait_connected()
        await dash.gateway.aclose()
        assert dash.gateway.connected_agents() == []
        assert dash.presence_log[-1].reason == "dashboard shutting down"
        dialer.refuse = True  # the agent is now inside a 15-30 s backoff
        await asyncio.sleep(0.05)
        await asyncio.wait_for(agent.stop(), 5)
        await dialer.aclose()
        dash.close()

    asyncio.run(scenario())
