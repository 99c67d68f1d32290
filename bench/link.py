"""Link throughput and latency over gRPC on 127.0.0.1, beside raw grpc.aio floors.

    python bench/link.py [--quick]

Rows:
  raw ping-pong   one AgentFrame, one DashboardFrame back, one at a time (the per-message floor)
  raw batched     frames of 100 sequenced messages, an ack frame back for each, 8 in flight
  link ...        the real stack: agent JournalOutbox -> AgentLinkClient -> gRPC -> LinkGateway
                  -> Receiver journal -> cumulative ack -> outbox delete. Sender and receiver
                  journals are both MemoryJournal, or both DiskJournal with the durability named.
                  batched = up to 500 messages per frame; unbatched = batch size 1.
Columns:
  msgs/s          loaded run: a producer keeps up to 2,000 messages outstanding; messages / time
                  until the last one was acknowledged back at the sender
  p50/p99 loaded  per message, outbox append returned -> sender deleted it on the ack (queueing
                  included)
  p50/p99 idle    one message at a time: append -> ack -> delete (round trip through both
                  journals; compare with raw ping-pong)
  backlog/s       the same number of messages queued while the agent was offline, drained
                  after it reconnects (the link alone, without producer appends in the way)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio

from ikasched.v1 import agent_pb2, agent_pb2_grpc, events_pb2
from ikasched_common.journal import DiskJournal, Durability, Journal, MemoryJournal
from ikasched_common.link import (
    AgentEndpoint,
    AgentIdentity,
    AgentLinkClient,
    JournalOutbox,
    LinkGateway,
    LinkSettings,
    MemoryOutbox,
    Receiver,
)
from ikasched_common.link.grpc_transport import GrpcDialer, start_server

# a typical process event (about 300 bytes)
PAYLOAD = agent_pb2.AgentMessage(
    id="0" * 32,
    created_time=1_700_000_000_000,
    process_event=events_pb2.ContextualisedScheduledProcessEvent(
        id="1" * 32,
        agent_name="agent-01",
        agent_hostname="host-01.example.com",
        job_name="load_customer_accounts",
        job_group="etl",
        command_line="/opt/etl/load.sh -x",
        return_code=0,
        successful=True,
        pid=12345,
        user="etl",
        fire_time=1_700_000_000_000,
        completion_time=1_700_000_001_000,
        context_name="nightly_batch",
        child_context_names=["nightly_batch", "loads"],
        context_instance_id="2" * 32,
        result_output="loaded 1234 rows",
    ),
).SerializeToString()


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    rate: float
    loaded: tuple[float, float] | None = None  # p50, p99 in ms
    idle: tuple[float, float] | None = None
    backlog: float | None = None  # msgs/s draining a queued backlog after a reconnect


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


# ---- raw floors ------------------------------------------------------------------------
class _Echo(agent_pb2_grpc.AgentGatewayServicer):
    """Answers every frame with one ack frame."""

    async def Connect(
        self, request_iterator: AsyncIterator[agent_pb2.AgentFrame], context: object
    ) -> AsyncIterator[agent_pb2.DashboardFrame]:
        async for frame in request_iterator:
            yield agent_pb2.DashboardFrame(
                ack=agent_pb2.LinkAck(journaled_up_to=len(frame.batch.messages))
            )


async def _raw_server() -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    agent_pb2_grpc.add_AgentGatewayServicer_to_server(_Echo(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def raw_ping_pong(count: int) -> Row:
    server, port = await _raw_server()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = agent_pb2_grpc.AgentGatewayStub(channel)  # type: ignore[no-untyped-call]
        call = stub.Connect()
        frame = agent_pb2.AgentFrame()
        item = frame.batch.messages.add()
        item.seq = 1
        item.message.MergeFromString(PAYLOAD)
        rtts: list[float] = []
        start = time.perf_counter()
        for _ in range(count):
            t0 = time.perf_counter()
            await call.write(frame)
            await call.read()
            rtts.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        await call.done_writing()
    await server.stop(None)
    rtt = (pct(rtts, 0.5), pct(rtts, 0.99))
    return Row("raw ping-pong (1 msg/frame)", count / elapsed, None, rtt)


async def raw_batched(count: int, batch: int = 100, in_flight: int = 8) -> Row:
    server, port = await _raw_server()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = agent_pb2_grpc.AgentGatewayStub(channel)  # type: ignore[no-untyped-call]
        call = stub.Connect()
        frames = count // batch
        acked = asyncio.Semaphore(in_flight)

        async def reader() -> None:
            for _ in range(frames):
                await call.read()
                acked.release()

        start = time.perf_counter()
        task = asyncio.get_running_loop().create_task(reader())
        for n in range(frames):
            await acked.acquire()
            frame = agent_pb2.AgentFrame()
            for i in range(batch):
                item = frame.batch.messages.add()
                item.seq = n * batch + i + 1
                item.message.MergeFromString(PAYLOAD)
            await call.write(frame)
        await task
        elapsed = time.perf_counter() - start
        await call.done_writing()
    await server.stop(None)
    return Row(f"raw batched ({batch} msgs/frame)", frames * batch / elapsed)


# ---- the link --------------------------------------------------------------------------
class TimedOutbox(JournalOutbox):
    """Records when each seq was acknowledged (fresh outbox: seq n is the n-th message added)."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(journal)
        self.acked_at: list[float] = []

    async def acknowledge(self, up_to_seq: int) -> int:
        removed = await super().acknowledge(up_to_seq)
        now = time.perf_counter()
        while len(self.acked_at) < up_to_seq:
            self.acked_at.append(now)
        return removed


def _journal(kind: str, root: Path, name: str) -> Journal:
    if kind == "memory":
        return MemoryJournal()
    durability: Durability = "power" if kind == "power" else "crash"
    return DiskJournal(root / name, durability=durability)


async def link_run(kind: str, batch: int, count: int, pings: int, root: Path) -> Row:
    settings = LinkSettings(
        heartbeat_interval=1.0,
        liveness_timeout=10.0,
        max_batch_messages=batch,
        window_messages=5000,
    )
    inbox = _journal(kind, root, f"in-{kind}-{batch}")
    receiver = Receiver(inbox)

    async def on_hello(_hello: agent_pb2.AgentHello, _md: Mapping[str, str]) -> AgentEndpoint:
        return AgentEndpoint(receiver, MemoryOutbox())

    gateway = LinkGateway(on_hello, dashboard_id="bench", settings=settings)
    server, port = await start_server(gateway)
    out_journal = _journal(kind, root, f"out-{kind}-{batch}")
    outbox = TimedOutbox(out_journal)
    dialer = GrpcDialer(f"127.0.0.1:{port}", settings=settings)
    client = AgentLinkClient(
        dialer, AgentIdentity("bench", "b"), Receiver(MemoryJournal()), outbox, settings=settings
    )
    task = asyncio.get_running_loop().create_task(client.run())
    await client.wait_connected()

    # idle round trips, one message at a time
    idle: list[float] = []
    for _ in range(pings):
        target = len(outbox.acked_at) + 1
        t0 = time.perf_counter()
        await outbox.add([PAYLOAD])
        while len(outbox.acked_at) < target:
            await asyncio.sleep(0)
        idle.append(time.perf_counter() - t0)

    # loaded: keep up to 2,000 outstanding
    base = len(outbox.acked_at)
    added_at: list[float] = []
    chunk = 100
    start = time.perf_counter()
    while len(added_at) < count:
        while len(added_at) - (len(outbox.acked_at) - base) >= 2000:
            await asyncio.sleep(0.0005)
        n = min(chunk, count - len(added_at))
        await outbox.add([PAYLOAD] * n)
        now = time.perf_counter()
        added_at.extend([now] * n)
    while len(outbox.acked_at) < base + count:
        await asyncio.sleep(0.0005)
    elapsed = outbox.acked_at[-1] - start
    lat = [outbox.acked_at[base + i] - added_at[i] for i in range(count)]
    assert len(inbox) == pings + count, "every message journaled once"

    client.stop()
    await task

    # backlog: the agent was offline while `count` messages queued up; reconnect and drain
    for start_at in range(0, count, 1000):
        await outbox.add([PAYLOAD] * min(1000, count - start_at))
    base = len(outbox.acked_at)
    client = AgentLinkClient(
        dialer, AgentIdentity("bench", "b"), Receiver(MemoryJournal()), outbox, settings=settings
    )
    start = time.perf_counter()
    task = asyncio.get_running_loop().create_task(client.run())
    while len(outbox.acked_at) < base + count:
        await asyncio.sleep(0.0005)
    backlog = count / (outbox.acked_at[-1] - start)
    assert len(inbox) == pings + 2 * count, "every message journaled once"
    client.stop()
    await task

    await gateway.aclose()
    await dialer.close()
    await server.stop(None)
    outbox.close()
    receiver.close()
    inbox.close()
    out_journal.close()
    label = "memory" if kind == "memory" else f"disk/{kind}"
    mode = f"batched ≤{batch}" if batch > 1 else "unbatched (1)"
    return Row(
        f"link {mode}, {label}",
        count / elapsed,
        (pct(lat, 0.5), pct(lat, 0.99)),
        (pct(idle, 0.5), pct(idle, 0.99)) if idle else None,
        backlog,
    )


def fmt(pair: tuple[float, float] | None) -> str:
    return f"{pair[0]:8.2f} {pair[1]:8.2f}" if pair else f"{'-':>8} {'-':>8}"


async def main(quick: bool) -> None:
    scale = 1 if quick else 5
    rows = [
        await raw_ping_pong(2000 * scale),
        await raw_batched(20_000 * scale),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for kind in ("memory", "crash", "power"):
            rows.append(await link_run(kind, 500, 20_000 * scale, 200 * scale, root))
        for kind in ("memory", "crash"):
            rows.append(await link_run(kind, 1, 2_000 * scale, 200 * scale, root))
    head = f"{'loaded p50':>8} {'p99 ms':>8}   {'idle p50':>8} {'p99 ms':>8}  {'backlog/s':>10}"
    print(f"{'':34} {'msgs/s':>10}   {head}")
    for row in rows:
        backlog = f"{row.backlog:10,.0f}" if row.backlog else f"{'-':>10}"
        print(f"{row.name:34} {row.rate:10,.0f}   {fmt(row.loaded)}   {fmt(row.idle)}  {backlog}")
    print("share of the floor measured above:")
    for row in rows[2:]:
        floor = rows[1] if "batched ≤" in row.name else rows[0]
        print(f"  {row.name:34} {row.rate / floor.rate:7.1%} of {floor.name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    asyncio.run(main(parser.parse_args().quick))
