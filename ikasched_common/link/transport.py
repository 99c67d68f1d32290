"""What a link session needs from a transport, and the in-memory transport for tests.

A `FrameConnection` is one bidirectional stream of frames: `send` is only ever called by one
task at a time (the session's writer), `recv` by one reader, and `recv` returns None when the
peer closed the stream. `MemoryDialer` pairs bounded asyncio queues and can drop a connection
after any frame, in either direction (fault injection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, Protocol, TypeVar

from ikasched.v1 import agent_pb2
from ikasched_common.errors import IkaschedError, LinkError

OutT = TypeVar("OutT")
InT = TypeVar("InT")
OutT_contra = TypeVar("OutT_contra", contravariant=True)
InT_co = TypeVar("InT_co", covariant=True)


class LinkClosed(LinkError):
    """The connection ended (peer closed, dropped, or timed out)."""


class FrameConnection(Protocol[OutT_contra, InT_co]):
    """One bidirectional frame stream."""

    async def send(self, frame: OutT_contra) -> None:
        """Write one frame; raises LinkClosed once the stream is gone."""
        ...

    async def recv(self) -> InT_co | None:
        """Next frame, or None when the peer closed the stream."""
        ...

    async def close(self) -> None:
        """End the stream (idempotent)."""
        ...


AgentConnection = FrameConnection[agent_pb2.AgentFrame, agent_pb2.DashboardFrame]
DashboardConnection = FrameConnection[agent_pb2.DashboardFrame, agent_pb2.AgentFrame]


class Dialer(Protocol):
    """How the agent opens a connection to the dashboard."""

    async def dial(self) -> AgentConnection:
        """Open a new stream (raises LinkClosed or an OS/gRPC error when unreachable)."""
        ...


# direction, frame -> True to drop the connection once this frame is written (it may be lost)
FaultPolicy = Callable[[str, object], bool]
AGENT_TO_DASHBOARD = "agent->dashboard"
DASHBOARD_TO_AGENT = "dashboard->agent"

_CLOSED = object()


class _Pipe:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue(size)
        self.closed = False

    def shut(self) -> None:
        if self.closed:
            return
        self.closed = True
        # frames still in flight on a broken connection are lost, as on a real network
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_CLOSED)


class MemoryConnection(Generic[OutT, InT]):
    """One end of an in-memory connection."""

    def __init__(
        self, tx: _Pipe, rx: _Pipe, direction: str, fault: FaultPolicy | None = None
    ) -> None:
        self._tx = tx
        self._rx = rx
        self._direction = direction
        self._fault = fault

    def drop(self) -> None:
        """Break the connection in both directions."""
        self._tx.shut()
        self._rx.shut()

    @property
    def dropped(self) -> bool:
        return self._tx.closed or self._rx.closed

    async def send(self, frame: OutT) -> None:
        if self._tx.closed:
            raise LinkClosed("connection dropped")
        await self._tx.queue.put(frame)
        if self._fault is not None and self._fault(self._direction, frame):
            self.drop()

    async def recv(self) -> InT | None:
        if self._rx.closed and self._rx.queue.empty():
            return None
        item = await self._rx.queue.get()
        if item is _CLOSED:
            self._rx.queue.put_nowait(_CLOSED)  # later readers see the end too
            return None
        return item  # type: ignore[return-value]

    async def close(self) -> None:
        self.drop()


def memory_pair(
    *, queue_size: int = 64, fault: FaultPolicy | None = None
) -> tuple[
    MemoryConnection[agent_pb2.AgentFrame, agent_pb2.DashboardFrame],
    MemoryConnection[agent_pb2.DashboardFrame, agent_pb2.AgentFrame],
]:
    """(agent end, dashboard end) of a fresh in-memory connection."""
    a2d, d2a = _Pipe(queue_size), _Pipe(queue_size)
    agent_end: MemoryConnection[agent_pb2.AgentFrame, agent_pb2.DashboardFrame] = MemoryConnection(
        a2d, d2a, AGENT_TO_DASHBOARD, fault
    )
    dashboard_end: MemoryConnection[agent_pb2.DashboardFrame, agent_pb2.AgentFrame] = (
        MemoryConnection(d2a, a2d, DASHBOARD_TO_AGENT, fault)
    )
    return agent_end, dashboard_end


ServeFn = Callable[[DashboardConnection, Mapping[str, str]], Awaitable[None]]


class MemoryDialer:
    """Dials an in-process dashboard: each dial hands the far end to `serve` as a new task."""

    def __init__(
        self,
        serve: ServeFn,
        *,
        metadata: Mapping[str, str] | None = None,
        fault: FaultPolicy | None = None,
        queue_size: int = 64,
    ) -> None:
        self._serve = serve
        self._metadata = dict(metadata or {})
        self._fault = fault
        self._queue_size = queue_size
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections: list[
            MemoryConnection[agent_pb2.AgentFrame, agent_pb2.DashboardFrame]
        ] = []
        self.refuse = False

    async def dial(self) -> AgentConnection:
        if self.refuse:
            raise LinkClosed("dashboard unreachable")
        agent_end, dashboard_end = memory_pair(queue_size=self._queue_size, fault=self._fault)
        task = asyncio.get_running_loop().create_task(self._run(dashboard_end))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.connections.append(agent_end)
        return agent_end

    async def _run(self, conn: DashboardConnection) -> None:
        try:
            await self._serve(conn, self._metadata)
        except IkaschedError:
            pass  # refused or broken: the agent sees the stream end
        finally:
            await conn.close()

    def drop_all(self) -> None:
        """Break every connection made so far."""
        for conn in self.connections:
            conn.drop()

    async def aclose(self) -> None:
        self.drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
