"""Job logs through the dashboard, and agent load, over the link's non-journaled lane.

`LaneRouter` takes every agent's lane messages (docs/architecture.md §4.3): a LogChunk goes to the
request waiting for it (by request id, one bounded queue per request), an AgentStatus into an
in-memory load cache that AgentService reports. Lane traffic is never journaled.

Backpressure: the link reader waits while a request's queue is full, so a reader that keeps
up sets the pace of the agent's sender (the agent's lane waits, its work frames keep flowing
between lane frames). A consumer that stops reading for `stall_timeout` loses its transfer
(LogCancel to the agent, an error to the consumer) so one idle caller cannot hold the link.

`GatewayLogFetcher` is the services' `LogFetcher`: the service resolves the agent and the
initiation, the fetcher sends a LogRequest on that agent's lane and yields chunks until eof;
a consumer that stops early sends LogCancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ikasched.v1 import agent_pb2
from ikasched_common import clock as clocks
from ikasched_common.errors import Unavailable
from ikasched_dashboard.services.context import LogRequest

log = logging.getLogger(__name__)

DEFAULT_QUEUE_CHUNKS = 16
DEFAULT_STALL_TIMEOUT = 30.0


class LogUnavailable(Unavailable):
    """The agent holding the log cannot be reached now (gRPC UNAVAILABLE)."""


class LogTransferAborted(Unavailable):
    """The transfer stopped before its end: link lost, consumer too slow (UNAVAILABLE)."""


@dataclass(frozen=True, slots=True)
class AgentLoad:
    """An agent's load as it last reported it (AgentStatus) and when (epoch ms)."""

    running_jobs: int
    queued_jobs: int
    active_instances: int
    outbox_size: int
    reported_time: int


class LaneSender(Protocol):
    """Sends on an agent's lane; False when the agent is not connected (LinkGateway)."""

    async def send_lane(self, agent_name: str, message: agent_pb2.DashboardLaneMessage) -> bool: ...


class _Transfer:
    __slots__ = ("agent_name", "failed", "queue")

    def __init__(self, agent_name: str, size: int) -> None:
        self.agent_name = agent_name
        self.queue: asyncio.Queue[agent_pb2.LogChunk] = asyncio.Queue(size)
        self.failed = ""


class LaneRouter:
    """Routes every agent's lane messages (see the module doc)."""

    def __init__(
        self,
        *,
        queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        self._queue_chunks = queue_chunks
        self._stall_timeout = stall_timeout
        self._transfers: dict[str, _Transfer] = {}
        self._loads: dict[str, AgentLoad] = {}
        self._sender: LaneSender | None = None

    def bind(self, sender: LaneSender) -> None:
        self._sender = sender

    def handler(self, agent_name: str) -> Callable[[agent_pb2.AgentLaneMessage], Awaitable[None]]:
        """The endpoint's `on_lane` for one agent's link."""

        async def on_lane(message: agent_pb2.AgentLaneMessage) -> None:
            await self.route(agent_name, message)

        return on_lane

    async def route(self, agent_name: str, message: agent_pb2.AgentLaneMessage) -> None:
        kind = message.WhichOneof("body")
        if kind == "status":
            s = message.status
            self._loads[agent_name] = AgentLoad(
                s.running_jobs,
                s.queued_jobs,
                s.active_instances,
                s.outbox_size,
                clocks.now_ms(),
            )
        elif kind == "log_chunk":
            await self._deliver(agent_name, message.log_chunk)

    async def _deliver(self, agent_name: str, chunk: agent_pb2.LogChunk) -> None:
        transfer = self._transfers.get(chunk.request_id)
        if transfer is None or transfer.agent_name != agent_name:
            return  # cancelled or finished: late chunks are dropped
        try:
            async with asyncio.timeout(self._stall_timeout):
                await transfer.queue.put(chunk)
        except TimeoutError:
            self._transfers.pop(chunk.request_id, None)
            _abort(transfer, chunk.request_id, "log consumer stopped reading")
            await self._cancel(agent_name, chunk.request_id)

    async def _cancel(self, agent_name: str, request_id: str) -> None:
        if self._sender is not None:
            await self._sender.send_lane(
                agent_name,
                agent_pb2.DashboardLaneMessage(
                    log_cancel=agent_pb2.LogCancel(request_id=request_id)
                ),
            )

    def load(self, agent_name: str) -> AgentLoad | None:
        return self._loads.get(agent_name)

    def forget_agent(self, agent_name: str) -> None:
        """The agent's link closed: its load is stale and its transfers end."""
        self._loads.pop(agent_name, None)
        for request_id, transfer in list(self._transfers.items()):
            if transfer.agent_name == agent_name:
                self._transfers.pop(request_id, None)
                _abort(transfer, request_id, f"agent {agent_name} disconnected during the transfer")

    def active_transfers(self) -> int:
        return len(self._transfers)

    async def stream(self, request: LogRequest) -> AsyncGenerator[agent_pb2.LogChunk, None]:
        """Ask the agent for a log and yield its chunks until eof (see the module doc)."""
        if self._sender is None:
            raise LogUnavailable("job logs are not available: no agent gateway")
        request_id = uuid.uuid4().hex
        transfer = _Transfer(request.agent_name, self._queue_chunks)
        self._transfers[request_id] = transfer
        finished = False
        try:
            sent = await self._sender.send_lane(
                request.agent_name,
                agent_pb2.DashboardLaneMessage(
                    log_request=agent_pb2.LogRequest(
                        request_id=request_id,
                        initiation_id=request.initiation_id,
                        stream=agent_pb2.LogStream.Name(request.stream),
                        offset=request.offset,
                        follow=request.follow,
                        max_bytes=request.max_bytes,
                    )
                ),
            )
            if not sent:
                finished = True
                raise LogUnavailable(
                    f"agent {request.agent_name} is not connected: its job logs cannot be read now"
                )
            while True:
                chunk = await transfer.queue.get()
                if transfer.failed and chunk.eof and not chunk.data and not chunk.error:
                    finished = True
                    raise LogTransferAborted(
                        f"log transfer from agent {request.agent_name} stopped: {transfer.failed}"
                    )
                if chunk.eof:
                    finished = True
                yield chunk
                if chunk.eof:
                    return
        finally:
            self._transfers.pop(request_id, None)
            # a link reader blocked on this full queue moves on at once (later chunks drop)
            while not transfer.queue.empty():
                transfer.queue.get_nowait()
            if not finished:  # the consumer went away early: the agent stops sending
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._cancel(request.agent_name, request_id))


def _abort(transfer: _Transfer, request_id: str, reason: str) -> None:
    """The consumer's next read fails with `reason` (chunks still queued are dropped)."""
    transfer.failed = reason
    while not transfer.queue.empty():
        transfer.queue.get_nowait()
    transfer.queue.put_nowait(agent_pb2.LogChunk(request_id=request_id, eof=True))


class GatewayLogFetcher:
    """The services' LogFetcher over a router that exists only once the dashboard started."""

    def __init__(self, router: Callable[[], LaneRouter]) -> None:
        self._router = router

    def fetch(self, request: LogRequest) -> AsyncIterator[agent_pb2.LogChunk]:
        return self._router().stream(request)
