"""The dashboard's side of the link: `LinkGateway` serves every agent, one independent
`LinkSession` per agent name, and keeps each agent's presence."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ikasched.v1 import agent_pb2
from ikasched_common.errors import LinkRefused, LinkViolation
from ikasched_common.link.frame_rules import check_hello
from ikasched_common.link.outbox import Outbox
from ikasched_common.link.receiver import Receiver
from ikasched_common.link.session import (
    DASHBOARD_CODEC,
    PROTOCOL_VERSION,
    DashboardSession,
    LaneHandler,
    LinkSession,
    LinkSettings,
)
from ikasched_common.link.transport import DashboardConnection, LinkClosed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentEndpoint:
    """What the dashboard links one agent to: its inbox receiver and its outbox."""

    receiver: Receiver
    outbox: Outbox
    on_lane: LaneHandler[agent_pb2.AgentLaneMessage] | None = None


HelloHook = Callable[[agent_pb2.AgentHello, Mapping[str, str]], Awaitable[AgentEndpoint]]


@dataclass(frozen=True, slots=True)
class AgentPresence:
    """An agent's link state as the dashboard sees it (wall-clock times, epoch seconds)."""

    agent_name: str
    connected: bool
    agent_instance_id: str
    agent_hostname: str
    connected_since: float
    last_seen: float
    reason: str = ""


PresenceListener = Callable[[AgentPresence], None]


class LinkGateway:
    """The dashboard's side of every agent link: one independent session per agent name."""

    def __init__(
        self,
        on_hello: HelloHook,
        *,
        dashboard_id: str,
        settings: LinkSettings | None = None,
        dashboard_version: str = "0",
        on_presence: PresenceListener | None = None,
    ) -> None:
        self._on_hello = on_hello
        self._dashboard_id = dashboard_id
        self._settings = settings or LinkSettings()
        self._version = dashboard_version
        self._on_presence = on_presence
        self._sessions: dict[str, DashboardSession] = {}
        self._hellos: dict[str, agent_pb2.AgentHello] = {}
        self._presence: dict[str, AgentPresence] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def settings(self) -> LinkSettings:
        return self._settings

    def session(self, agent_name: str) -> DashboardSession | None:
        session = self._sessions.get(agent_name)
        return session if session is not None and not session.closed else None

    def presence(self, agent_name: str) -> AgentPresence | None:
        """Current presence; last_seen is live while connected."""
        known = self._presence.get(agent_name)
        session = self.session(agent_name)
        if known is None or session is None:
            return known
        return AgentPresence(
            agent_name,
            True,
            known.agent_instance_id,
            known.agent_hostname,
            known.connected_since,
            session.last_seen,
        )

    def connected_agents(self) -> list[str]:
        return sorted(name for name in self._sessions if self.session(name) is not None)

    async def aclose(self) -> None:
        """End every agent session (dashboard shutdown) and wait until they are closed."""
        sessions = [s for s in self._sessions.values() if not s.closed]
        for session in sessions:
            session.stop("dashboard shutting down")
        for session in sessions:
            await session.wait_closed()

    def disconnect(self, agent_name: str, reason: str = "disconnected by the dashboard") -> bool:
        session = self.session(agent_name)
        if session is None:
            return False
        session.stop(reason)
        return True

    async def send_lane(self, agent_name: str, message: agent_pb2.DashboardLaneMessage) -> bool:
        """Send on an agent's lane; False when it is not connected."""
        session = self.session(agent_name)
        if session is None:
            return False
        try:
            await session.send_lane(message)
        except LinkClosed:
            return False
        return True

    def _notify(self, presence: AgentPresence) -> None:
        self._presence[presence.agent_name] = presence
        if self._on_presence is not None:
            try:
                self._on_presence(presence)
            except Exception:
                log.exception("presence listener failed")

    async def serve(self, conn: DashboardConnection, metadata: Mapping[str, str]) -> None:
        """Handle one agent connection from hello to the end. Raises LinkRefused to refuse a
        hello and LinkViolation when the agent breaks the protocol (the transport ends the
        stream with its code); every other agent's session is left alone."""
        async with asyncio.timeout(self._settings.handshake_timeout):
            frame = await conn.recv()
        if frame is None:
            return
        kind = frame.WhichOneof("frame")
        if kind != "hello":
            raise LinkViolation(f"{kind}: the first frame must be a hello, not a {kind}")
        hello = frame.hello
        check_hello(hello)
        if hello.protocol_version not in (0, PROTOCOL_VERSION):
            raise LinkRefused(
                f"hello: protocol_version {hello.protocol_version} not supported",
                status="failed_precondition",
            )
        endpoint = await self._on_hello(hello, metadata)
        name = hello.agent_name
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            old = self._sessions.get(name)
            if old is not None and not old.closed:
                log.warning("agent %s connected again: the newer connection wins", name)
                old.stop("replaced by a newer connection of the same agent")
                await old.wait_closed()
            previous = self._hellos.get(name)
            if previous is not None and previous.agent_instance_id != hello.agent_instance_id:
                log.error(
                    "agent %s has a new instance id (%s -> %s): it may have lost its state",
                    name,
                    previous.agent_instance_id,
                    hello.agent_instance_id,
                )
            await endpoint.receiver.open()
            journaled = await endpoint.receiver.flush()
            pos = await endpoint.outbox.position()
            s = self._settings
            welcome = agent_pb2.DashboardWelcome(
                dashboard_version=self._version,
                protocol_version=PROTOCOL_VERSION,
                last_journaled_seq=journaled,
                last_assigned_seq=pos.last_assigned_seq,
                heartbeat_interval_millis=max(1, round(s.heartbeat_interval * 1000)),
                liveness_timeout_millis=max(1, round(s.liveness_timeout * 1000)),
                max_batch_messages=s.max_batch_messages,
                max_frame_bytes=s.max_frame_bytes,
                dashboard_id=self._dashboard_id,
            )
            session: DashboardSession = LinkSession(
                conn,
                DASHBOARD_CODEC,
                endpoint.receiver,
                endpoint.outbox,
                s,
                peer=f"agent {name}",
                on_lane=endpoint.on_lane,
            )
            self._sessions[name] = session
            self._hellos[name] = hello
        now = time.time()
        self._notify(
            AgentPresence(
                name,
                True,
                hello.agent_instance_id,
                hello.agent_hostname,
                now,
                now,
            )
        )
        reason: BaseException = LinkClosed("ended")
        try:
            reason = await session.run(
                hello.last_journaled_seq,
                hello.last_assigned_seq,
                first_frame=agent_pb2.DashboardFrame(welcome=welcome),
            )
        finally:
            if self._sessions.get(name) is session:
                del self._sessions[name]
                self._notify(
                    AgentPresence(
                        name,
                        False,
                        hello.agent_instance_id,
                        hello.agent_hostname,
                        session.connected_at,
                        session.last_seen,
                        str(reason),
                    )
                )
        if isinstance(reason, LinkViolation):
            raise reason
