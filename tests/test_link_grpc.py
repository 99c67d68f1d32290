"""The link over gRPC on 127.0.0.1: server-side aborts, server restarts, client restarts, a
refused token, and an agent process killed with SIGKILL again and again."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from ikasched.v1 import agent_pb2
from ikasched_common.errors import LinkRefused
from ikasched_common.journal import DiskJournal, Journal
from ikasched_common.link import (
    AgentIdentity,
    AgentLinkClient,
    Backoff,
    JournalOutbox,
    MemoryOutbox,
    Receiver,
)
from ikasched_common.link.grpc_transport import GrpcDialer, start_server
from tests.link_support import (
    FAST,
    TestDashboard,
    agent_ids,
    agent_messages,
    dashboard_ids,
    dashboard_messages,
    exactly_once_in_order,
    wait_until,
)

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
HERE = Path(__file__).resolve().parent


class DiskAgent:
    """An in-process agent on DiskJournals; `restart()` is a clean client restart."""

    def __init__(self, data: Path, target: str, token: str = "agent-token") -> None:
        self.data = data
        self.target = target
        self.token = token
        self.inbox = DiskJournal(data / "inbox")
        self.outbox_journal = DiskJournal(data / "outbox")
        self._open()

    def _open(self) -> None:
        self.receiver = Receiver(self.inbox)
        self.outbox = JournalOutbox(self.outbox_journal)
        self.dialer = GrpcDialer(self.target, token=self.token, settings=FAST)
        self.lanes: list[agent_pb2.DashboardLaneMessage] = []

        async def on_lane(message: agent_pb2.DashboardLaneMessage) -> None:
            self.lanes.append(message)

        self.client = AgentLinkClient(
            self.dialer,
            AgentIdentity("a1", "inst-1"),
            self.receiver,
            self.outbox,
            settings=FAST,
            backoff=Backoff(initial=0.01, maximum=0.1),
            on_lane=on_lane,
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.client.run())

    async def stop(self) -> None:
        self.client.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        await self.dialer.close()
        self.outbox.close()
        self.receiver.close()

    async def restart(self) -> None:
        await self.stop()
        self._open()
        self.start()

    def close(self) -> None:
        self.inbox.close()
        self.outbox_journal.close()


def test_grpc_exactly_once_despite_aborts_server_restarts_and_client_restarts(
    tmp_path: Path,
) -> None:
    count = 20_000 if LONG else 2_000

    async def scenario() -> None:
        journals: dict[str, Journal] = {}

        def disk(name: str) -> Journal:
            journals[name] = DiskJournal(tmp_path / f"dash-{name}")
            return journals[name]

        dash = TestDashboard(token="agent-token", journal_factory=disk)
        server, port = await start_server(dash.gateway)
        agent = DiskAgent(tmp_path / "agent", f"127.0.0.1:{port}")
        agent.start()
        slot = dash.slot("a1")
        rng = random.Random(11)
        sent = 0
        disruptions = 0
        while sent < count:
            step = min(rng.randint(20, 120), count - sent)
            await agent.outbox.add(agent_messages(step, sent))
            await slot.outbox.add(dashboard_messages(step, sent))
            sent += step
            await asyncio.sleep(rng.uniform(0, 0.02))
            action = ("abort", "", "server", "", "client", "")[step % 6]
            if action == "abort":
                dash.gateway.disconnect("a1", "test abort")  # server-side end of the stream
            elif action == "server":
                await server.stop(grace=None)
                server, _ = await start_server(dash.gateway, f"127.0.0.1:{port}")
            elif action == "client":
                await agent.restart()
            disruptions += bool(action)
        await wait_until(lambda: len(slot.journal) == count and len(agent.inbox) == count, 60)
        await wait_until(lambda: len(slot.outbox) == 0)  # type: ignore[arg-type]
        assert disruptions >= 5
        exactly_once_in_order(agent_ids(slot.journal), [f"a{i}" for i in range(count)])
        exactly_once_in_order(dashboard_ids(agent.inbox), [f"d{i}" for i in range(count)])
        await wait_until(lambda: len(agent.outbox_journal) == 0)
        await agent.stop()
        agent.close()
        await server.stop(grace=None)
        dash.close()
        for journal in journals.values():
            journal.close()

    asyncio.run(scenario())


def test_grpc_wrong_token_is_refused_unauthenticated(tmp_path: Path) -> None:
    async def scenario() -> None:
        dash = TestDashboard(token="agent-token")
        server, port = await start_server(dash.gateway)
        agent = DiskAgent(tmp_path, f"127.0.0.1:{port}", token="wrong")
        assert await agent.client.connect_once() is False
        error = agent.client.last_error
        assert isinstance(error, LinkRefused) and error.status == "unauthenticated"
        assert dash.gateway.connected_agents() == []
        await agent.stop()
        agent.close()
        await server.stop(grace=None)
        dash.close()

    asyncio.run(scenario())


def test_grpc_lane_frames_pass_next_to_work(tmp_path: Path) -> None:
    async def scenario() -> None:
        dash = TestDashboard(token="agent-token")
        server, port = await start_server(dash.gateway)
        agent = DiskAgent(tmp_path, f"127.0.0.1:{port}")
        agent.start()
        await agent.client.wait_connected()
        slot = dash.slot("a1")
        await agent.outbox.add(agent_messages(3000))
        chunk = agent_pb2.LogChunk(request_id="r", data=b"y" * 256 * 1024)
        for i in range(8):
            chunk.offset = i
            assert await agent.client.send_lane(agent_pb2.AgentLaneMessage(log_chunk=chunk))
        request = agent_pb2.DashboardLaneMessage(log_request=agent_pb2.LogRequest(request_id="q"))
        assert await dash.gateway.send_lane("a1", request)
        await wait_until(lambda: len(slot.lanes) == 8 and len(slot.journal) == 3000)
        await wait_until(lambda: len(agent.lanes) == 1)
        assert agent.lanes[0].log_request.request_id == "q"
        assert [m.log_chunk.offset for m in slot.lanes] == list(range(8))
        exactly_once_in_order(agent_ids(slot.journal), [f"a{i}" for i in range(3000)])
        await agent.stop()
        agent.close()
        await server.stop(grace=None)
        dash.close()

    asyncio.run(scenario())


def _spawn(target: str, data: Path, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "link_agent_proc.py"), target, str(data), str(count)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.timeout(120)
def test_agent_process_killed_with_sigkill_loses_and_repeats_nothing(tmp_path: Path) -> None:
    count = 20_000 if LONG else 3_000
    kills_wanted = 12 if LONG else 5

    async def scenario() -> None:
        dash_journal = DiskJournal(tmp_path / "dash-inbox")
        dash = TestDashboard(token="agent-token", journal_factory=lambda _n: dash_journal)
        server, port = await start_server(dash.gateway)
        target = f"127.0.0.1:{port}"
        slot = dash.slot("proc")
        rng = random.Random(5)
        data = tmp_path / "agent"
        data.mkdir()
        proc = _spawn(target, data, count)
        outbox = slot.outbox
        assert isinstance(outbox, MemoryOutbox)

        def mark() -> tuple[int, int]:
            # progress either way: agent messages journaled, dashboard messages acknowledged
            return slot.receiver.journaled_seq, len(outbox)

        kills = 0
        sent = 0
        deadline = time.monotonic() + 240  # hang guard only
        try:
            while True:
                if sent < count:
                    step = min(400, count - sent)
                    await slot.outbox.add(dashboard_messages(step, sent))
                    sent += step
                if len(dash_journal) == count and sent == count and len(outbox) == 0:
                    break
                assert time.monotonic() < deadline, "link did not converge"
                if kills < kills_wanted:
                    # wait until this incarnation made progress, then kill it mid-flight
                    before = mark()
                    current = proc

                    def progressed(
                        old: tuple[int, int] = before, child: subprocess.Popen[bytes] = current
                    ) -> bool:
                        return mark() != old or child.poll() is not None

                    await wait_until(progressed, 120)
                    await asyncio.sleep(rng.uniform(0.0, 0.15))
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                    kills += 1
                    proc = _spawn(target, data, count)
                else:
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                    await asyncio.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            await server.stop(grace=None)
        assert kills == kills_wanted
        exactly_once_in_order(agent_ids(dash_journal), [f"p{i}" for i in range(count)])
        agent_inbox = DiskJournal(data / "inbox")
        exactly_once_in_order(dashboard_ids(agent_inbox), [f"d{i}" for i in range(count)])
        agent_inbox.close()
        # everything the dashboard acknowledged is gone from the agent's outbox, nothing else
        agent_outbox = DiskJournal(data / "outbox")
        assert len(agent_outbox) == count - int(
            agent_outbox.get_meta("link.out.last_acked_seq", 0) or 0
        )
        agent_outbox.close()
        dash.close()
        dash_journal.close()

    asyncio.run(scenario())


def test_grpc_status_names_cover_refusals() -> None:
    from ikasched_common.link.grpc_transport import _STATUS

    assert _STATUS["unauthenticated"] is grpc.StatusCode.UNAUTHENTICATED
