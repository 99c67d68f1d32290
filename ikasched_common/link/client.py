"""The agent's side of the link: `AgentLinkClient` dials out, exchanges hello/welcome, runs
one `LinkSession` per connection and reconnects with jittered backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from ikasched.v1 import agent_pb2
from ikasched_common.errors import LinkError
from ikasched_common.link.outbox import Outbox
from ikasched_common.link.receiver import Receiver
from ikasched_common.link.session import (
    AGENT_CODEC,
    PROTOCOL_VERSION,
    AgentSession,
    LaneHandler,
    LinkSession,
    LinkSettings,
)
from ikasched_common.link.transport import AgentConnection, Dialer, LinkClosed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Jittered exponential reconnect delays."""

    initial: float = 0.05
    maximum: float = 5.0
    multiplier: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before reconnect attempt `attempt` (0-based): uniform in [d/2, d]."""
        base = min(self.maximum, self.initial * self.multiplier**attempt)
        return (rng or random).uniform(base / 2, base)


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """What the agent says about itself in the hello."""

    agent_name: str
    agent_instance_id: str
    agent_version: str = "0"
    agent_hostname: str = field(default_factory=socket.gethostname)
    max_concurrent_jobs: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)


class AgentLinkClient:
    """The agent's side: dials out, hello/welcome, runs sessions, reconnects with backoff."""

    def __init__(
        self,
        dialer: Dialer,
        identity: AgentIdentity,
        receiver: Receiver,
        outbox: Outbox,
        *,
        settings: LinkSettings | None = None,
        on_lane: LaneHandler[agent_pb2.DashboardLaneMessage] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self._dialer = dialer
        self._identity = identity
        self._receiver = receiver
        self._outbox = outbox
        self._settings = settings or LinkSettings()
        self._on_lane = on_lane
        self._backoff = backoff or Backoff()
        self._session: AgentSession | None = None
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._connected = asyncio.Event()
        self.dashboard_id = ""
        self.sessions_started = 0
        self.last_error: BaseException | None = None

    @property
    def session(self) -> AgentSession | None:
        return self._session if self._session is not None and not self._session.closed else None

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def send_lane(self, message: agent_pb2.AgentLaneMessage) -> bool:
        """Send on the lane of the current connection; False when not connected."""
        session = self.session
        if session is None:
            return False
        try:
            await session.send_lane(message)
        except LinkClosed:
            return False
        return True

    def stop(self) -> None:
        """End the current connection and the reconnect loop."""
        self._stopping = True
        self._stop_event.set()
        if self._session is not None:
            self._session.stop("agent stopping")

    async def run(self) -> None:
        """Connect and reconnect until stop()."""
        attempt = 0
        while not self._stopping:
            started = await self.connect_once()
            if self._stopping:
                break
            attempt = 0 if started else attempt + 1
            # a stop() during the backoff ends it at once
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._backoff.delay(attempt)):
                    await self._stop_event.wait()

    async def connect_once(self) -> bool:
        """One connection: dial, handshake, run until it ends. True if the handshake succeeded."""
        conn: AgentConnection | None = None
        try:
            conn = await self._dialer.dial()
            welcome = await self._handshake(conn)
        except asyncio.CancelledError:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            raise
        except Exception as exc:  # unreachable, refused, protocol error: retry later
            self.last_error = exc
            log.info("link to dashboard not established: %r", exc)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
            return False
        if self.dashboard_id and welcome.dashboard_id != self.dashboard_id:
            log.error(
                "dashboard identity changed (%s -> %s): the dashboard may have lost its state",
                self.dashboard_id,
                welcome.dashboard_id,
            )
        self.dashboard_id = welcome.dashboard_id
        session: AgentSession = LinkSession(
            conn,
            AGENT_CODEC,
            self._receiver,
            self._outbox,
            self._settings.adopt(welcome),
            peer="dashboard",
            on_lane=self._on_lane,
        )
        self._session = session
        self.sessions_started += 1
        self._connected.set()
        try:
            if self._stopping:
                session.stop("agent stopping")
            self.last_error = await session.run(
                welcome.last_journaled_seq, welcome.last_assigned_seq
            )
        finally:
            self._connected.clear()
        return True

    async def _handshake(self, conn: AgentConnection) -> agent_pb2.DashboardWelcome:
        journaled = await self._receiver.open()
        journaled = await self._receiver.flush()
        pos = await self._outbox.position()
        ident = self._identity
        hello = agent_pb2.AgentHello(
            agent_name=ident.agent_name,
            agent_hostname=ident.agent_hostname,
            agent_version=ident.agent_version,
            protocol_version=PROTOCOL_VERSION,
            last_journaled_seq=journaled,
            last_assigned_seq=pos.last_assigned_seq,
            agent_instance_id=ident.agent_instance_id,
            max_concurrent_jobs=ident.max_concurrent_jobs,
            pid=os.getpid(),
            labels=dict(ident.labels),
        )
        await conn.send(agent_pb2.AgentFrame(hello=hello))
        async with asyncio.timeout(self._settings.handshake_timeout):
            frame = await conn.recv()
        if frame is None:
            raise LinkClosed("dashboard closed the stream during the handshake")
        if frame.WhichOneof("frame") != "welcome":
            raise LinkError(f"expected a welcome, got {frame.WhichOneof('frame')!r}")
        return frame.welcome
