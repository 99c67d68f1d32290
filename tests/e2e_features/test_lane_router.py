"""The lane router on its own (a fake lane): chunks reach their request in order, a consumer
that stops early cancels the transfer and frees the link reader, a consumer that stops reading
loses its transfer after the stall timeout, an absent agent is UNAVAILABLE, load is cached."""

from __future__ import annotations

import asyncio

import pytest

from ikasched.v1 import agent_pb2
from ikasched_dashboard.logstream import LaneRouter, LogTransferAborted, LogUnavailable
from ikasched_dashboard.services.context import LogRequest


class FakeLane:
    def __init__(self, connected: bool = True) -> None:
        self.connected = connected
        self.sent: list[agent_pb2.DashboardLaneMessage] = []
        self.requested = asyncio.Event()

    async def send_lane(self, agent_name: str, message: agent_pb2.DashboardLaneMessage) -> bool:
        if not self.connected:
            return False
        self.sent.append(message)
        if message.WhichOneof("body") == "log_request":
            self.requested.set()
        return True

    def request_id(self) -> str:
        return str(self.sent[0].log_request.request_id)

    def cancels(self) -> list[str]:
        return [m.log_cancel.request_id for m in self.sent if m.HasField("log_cancel")]


REQUEST = LogRequest(
    agent_name="a1",
    initiation_id="i1",
    stream=agent_pb2.STDOUT,
    offset=0,
    follow=False,
    max_bytes=0,
)


def chunk(request_id: str, n: int, *, eof: bool = False) -> agent_pb2.AgentLaneMessage:
    return agent_pb2.AgentLaneMessage(
        log_chunk=agent_pb2.LogChunk(request_id=request_id, offset=n, data=bytes([n]), eof=eof)
    )


async def test_chunks_reach_their_request_in_order() -> None:
    lane, router = FakeLane(), LaneRouter(queue_chunks=2)
    router.bind(lane)
    got: list[int] = []

    async def consume() -> None:
        async for c in router.stream(REQUEST):
            got.append(c.offset)

    task = asyncio.create_task(consume())
    await lane.requested.wait()
    rid = lane.request_id()
    await router.route("a2", chunk(rid, 99))  # another agent cannot answer this request
    for n in range(10):
        await router.route("a1", chunk(rid, n, eof=n == 9))
    await task
    assert got == list(range(10))
    assert router.active_transfers() == 0 and lane.cancels() == []


async def test_an_early_stop_cancels_and_frees_the_reader() -> None:
    lane, router = FakeLane(), LaneRouter(queue_chunks=1, stall_timeout=60)
    router.bind(lane)
    stream = router.stream(REQUEST)
    first = asyncio.ensure_future(anext(stream))
    await lane.requested.wait()
    rid = lane.request_id()
    await router.route("a1", chunk(rid, 0))
    assert (await first).offset == 0
    await router.route("a1", chunk(rid, 1))  # fills the queue of one
    reader = asyncio.create_task(router.route("a1", chunk(rid, 2)))  # blocks: queue full
    await asyncio.sleep(0.01)
    assert not reader.done()
    await stream.aclose()  # the consumer goes away
    await asyncio.wait_for(reader, 5)  # the link reader is not held for the stall timeout
    assert lane.cancels() == [rid]
    await router.route("a1", chunk(rid, 3))  # late chunks are dropped
    assert router.active_transfers() == 0


async def test_a_stalled_consumer_loses_its_transfer() -> None:
    lane, router = FakeLane(), LaneRouter(queue_chunks=1, stall_timeout=0.05)
    router.bind(lane)
    stream = router.stream(REQUEST)
    first = asyncio.ensure_future(anext(stream))
    await lane.requested.wait()
    rid = lane.request_id()
    await router.route("a1", chunk(rid, 0))
    await first
    await router.route("a1", chunk(rid, 1))
    await router.route("a1", chunk(rid, 2))  # nobody reads: gives up after the timeout
    assert lane.cancels() == [rid]
    with pytest.raises(LogTransferAborted, match="stopped reading"):
        await anext(stream)


async def test_an_absent_agent_is_unavailable_and_a_lost_one_aborts() -> None:
    router = LaneRouter()
    router.bind(FakeLane(connected=False))
    with pytest.raises(LogUnavailable, match="agent a1 is not connected"):
        await anext(router.stream(REQUEST))
    lane = FakeLane()
    router.bind(lane)
    stream = router.stream(REQUEST)
    pending = asyncio.ensure_future(anext(stream))
    await lane.requested.wait()
    router.forget_agent("a1")
    with pytest.raises(LogTransferAborted, match="a1 disconnected"):
        await pending


async def test_agent_status_is_cached_per_agent() -> None:
    router = LaneRouter()
    assert router.load("a1") is None
    await router.route(
        "a1",
        agent_pb2.AgentLaneMessage(
            status=agent_pb2.AgentStatus(
                running_jobs=3, queued_jobs=2, active_instances=1, outbox_size=7
            )
        ),
    )
    load = router.load("a1")
    assert load is not None and (load.running_jobs, load.queued_jobs, load.outbox_size) == (3, 2, 7)
    router.forget_agent("a1")
    assert router.load("a1") is None
