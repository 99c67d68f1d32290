"""The dashboard's side of every agent link (AgentGateway.Connect).

Inbox layout (documented for the queue service): ONE shared inbox journal for all agents. Each
agent's `Receiver` writes through `AgentInboxView`, which (a) wraps every message in a small
envelope naming the link's agent (`encode_inbox_entry` / `decode_inbox_entry`: magic b"IKIN",
one length byte, the agent name in UTF-8, then the AgentMessage bytes) and (b) keeps the
receiver's "last journaled seq" under a per-agent meta name, committed in the same journal
transaction as the messages (docs/architecture.md §4.2). One journal means one consumer, one batch,
one fsync for many agents.

Outbound messages come from the SQL outbox (`SqlOutbox`, one per agent). On every
(re)connect, before the welcome is written, the agent's provisioning and the live instances it
takes part in are queued for it (`SyncSource`), so it always hears them after a reconnect.
Presence goes to the `agents` table: connect/disconnect at once, last seen in batches; and
to `on_agent_presence` (the orchestrator marks a lost agent's running jobs, docs/semantics.md
§10), except for the links the gateway's own stop closes.

Auth hook: `hello_check(hello, metadata)` runs before anything else for the connection; raise
IkaschedError (e.g. security.PermissionDenied) to refuse. The intended plug-in is
`lambda hello, _md: security.check_agent_hello(security.current_principal(), hello)` (the
interceptor's contextvar is visible here: the hello is read inside the RPC handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ikasched.v1 import agent_pb2
from ikasched_common.errors import IkaschedError, InvalidArgument, LinkRefused
from ikasched_common.journal import Journal, JournalItem, MetaValue
from ikasched_common.link import AgentEndpoint, LinkGateway, LinkSettings, Outbox, Receiver
from ikasched_common.link import AgentPresence as LinkPresence
from ikasched_dashboard.logstream import LaneRouter
from ikasched_dashboard.outbox import AgentOutboxes, SqlOutbox
from ikasched_dashboard.store import agents as agent_store
from ikasched_dashboard.store.db import read_transaction, write_transaction

log = logging.getLogger(__name__)

_MAGIC = b"IKIN"

HelloCheck = Callable[[agent_pb2.AgentHello, Mapping[str, str]], None]
# Messages (DashboardMessage) an agent must get on every (re)connect.
# Queues a (re)connecting agent's provisioning and live instances in its outbox, as one
# consistent cut of it (the orchestrator commits them in one of its batches).
SyncSource = Callable[[str], Awaitable[int]]
# (agent name, connected, last seen in epoch ms): called on every connect and disconnect
AgentPresenceHook = Callable[[str, bool, int], Coroutine[Any, Any, object]]


def encode_inbox_entry(agent_name: str, message: bytes) -> bytes:
    name = agent_name.encode("utf-8")
    if len(name) > 255:
        raise InvalidArgument("agent name longer than 255 bytes", field="agent_name")
    return _MAGIC + bytes([len(name)]) + name + message


def decode_inbox_entry(raw: bytes) -> tuple[str, bytes]:
    """(link agent name, AgentMessage bytes) of one inbox journal value."""
    if raw[:4] != _MAGIC or len(raw) < 5:
        raise InvalidArgument("not an inbox entry", field="value")
    size = raw[4]
    return raw[5 : 5 + size].decode("utf-8"), raw[5 + size :]


def inbound_meta_name(agent_name: str, name: str) -> str:
    return f"agent.{agent_name}.{name}"


class AgentInboxView:
    """One agent's window on the shared inbox: envelopes its messages, scopes its meta."""

    def __init__(self, journal: Journal, agent_name: str) -> None:
        self._journal = journal
        self._agent = agent_name

    def _meta(self, meta: Mapping[str, MetaValue] | None) -> dict[str, MetaValue] | None:
        if not meta:
            return None
        return {inbound_meta_name(self._agent, k): v for k, v in meta.items()}

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        wrapped = [encode_inbox_entry(self._agent, v) for v in values]
        return self._journal.append(wrapped, self._meta(meta))

    def peek(self, limit: int = 1, after: int | None = None) -> list[JournalItem]:
        return self._journal.peek(limit, after)

    def remove(self, keys: Iterable[int], meta: Mapping[str, MetaValue] | None = None) -> int:
        return self._journal.remove(keys, self._meta(meta))

    def get_meta(self, name: str, default: MetaValue | None = None) -> MetaValue | None:
        return self._journal.get_meta(inbound_meta_name(self._agent, name), default)

    def set_meta(self, meta: Mapping[str, MetaValue]) -> None:
        self._journal.set_meta(self._meta(meta) or {})

    def __len__(self) -> int:
        return len(self._journal)

    def close(self) -> None:
        pass  # the shared journal belongs to the process


@dataclass(frozen=True, slots=True)
class HelloInfo:
    """What the agent said about itself in its latest hello."""

    agent_name: str
    version: str
    hostname: str
    agent_instance_id: str
    labels: Mapping[str, str]


class Gateway:
    """Every agent link of the dashboard: endpoints, presence, reconnect sync."""

    def __init__(
        self,
        engine: Engine,
        inbox: Journal,
        outboxes: AgentOutboxes,
        *,
        dashboard_id: str,
        db_executor: Executor,
        sync_source: SyncSource,
        on_inbox: Callable[[], None],
        settings: LinkSettings | None = None,
        dashboard_version: str = "0",
        hello_check: HelloCheck | None = None,
        link_outbox: Callable[[SqlOutbox], Outbox] | None = None,
        presence_flush_interval: float | None = None,
        on_agent_presence: AgentPresenceHook | None = None,
    ) -> None:
        self._engine = engine
        self._inbox = inbox
        self._outboxes = outboxes
        self._db = db_executor
        # one writer thread for the shared inbox: SQLite has one writer anyway
        self._journal_executor = ThreadPoolExecutor(1, thread_name_prefix="inbox-writer")
        self._sync_source = sync_source
        self._hello_check = hello_check
        self._on_inbox = on_inbox
        self._endpoints: dict[str, AgentEndpoint] = {}
        self._hellos: dict[str, HelloInfo] = {}
        self._presence_tasks: set[asyncio.Task[None]] = set()
        # the orchestrator's view of a lost or returning agent (its jobs' status reasons)
        self._on_agent_presence = on_agent_presence
        self._stopping = False
        # How an agent's outbox reaches its link (e.g. sealing.SecretOpeningOutbox).
        self._link_outbox: Callable[[SqlOutbox], Outbox] = link_outbox or (lambda box: box)
        self.link = LinkGateway(
            self._on_hello,
            dashboard_id=dashboard_id,
            settings=settings,
            dashboard_version=dashboard_version,
            on_presence=self._on_presence,
        )
        s = self.link.settings
        self._flush_interval = presence_flush_interval or s.heartbeat_interval
        self._flusher: asyncio.Task[None] | None = None
        # lane traffic (log chunks, agent load): never journaled (docs/architecture.md §4.3)
        self.lanes = LaneRouter()
        self.lanes.bind(self.link)

    @property
    def inbox(self) -> Journal:
        return self._inbox

    def outbox(self, agent_name: str) -> SqlOutbox:
        """The agent's outbox (created on first use; the orchestrator notifies it)."""
        return self._outboxes.outbox(agent_name)

    def endpoint(self, agent_name: str) -> AgentEndpoint:
        found = self._endpoints.get(agent_name)
        if found is None:
            receiver = Receiver(
                AgentInboxView(self._inbox, agent_name), executor=self._journal_executor
            )
            on_inbox = self._on_inbox
            receiver.listen(lambda _seq: on_inbox())
            found = AgentEndpoint(
                receiver,
                self._link_outbox(self.outbox(agent_name)),
                on_lane=self.lanes.handler(agent_name),
            )
            self._endpoints[agent_name] = found
        return found

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self._db_write(agent_store.mark_all_disconnected)
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush_loop(), name="gateway-presence"
        )

    async def stop(self) -> None:
        """Close every link, wait for the inbox writes, record the agents as disconnected."""
        self._stopping = True  # links closed by the stop do not make agents unreachable
        for name in self.link.connected_agents():
            self.link.disconnect(name, "dashboard stopping")
        for name in list(self._endpoints):
            session = self.link.session(name)
            if session is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await session.wait_closed()
        for endpoint in self._endpoints.values():
            await endpoint.receiver.flush()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._presence_tasks:
            await asyncio.gather(*self._presence_tasks, return_exceptions=True)
        await self._flush_last_seen()
        with contextlib.suppress(Exception):
            await self._db_write(agent_store.mark_all_disconnected)
        self._journal_executor.shutdown(wait=True)

    # ---- link hooks -------------------------------------------------------------------------
    async def _on_hello(
        self, hello: agent_pb2.AgentHello, metadata: Mapping[str, str]
    ) -> AgentEndpoint:
        if self._hello_check is not None:  # AUTH HOOK: security.check_agent_hello plugs in here
            try:
                self._hello_check(hello, metadata)
            except IkaschedError as exc:
                raise LinkRefused.of(exc) from exc
        name = hello.agent_name
        self._hellos[name] = HelloInfo(
            name,
            hello.agent_version,
            hello.agent_hostname,
            hello.agent_instance_id,
            dict(hello.labels),
        )
        endpoint = self.endpoint(name)
        await self._queue_sync(name)
        return endpoint

    async def _queue_sync(self, agent_name: str) -> None:
        """Provisioning and live instances for a (re)connecting agent, via its outbox."""
        await self._sync_source(agent_name)

    def _on_presence(self, presence: LinkPresence) -> None:
        if not presence.connected:
            self.lanes.forget_agent(presence.agent_name)
        info = self._hellos.get(presence.agent_name)
        record = agent_store.AgentPresence(
            name=presence.agent_name,
            connected=presence.connected,
            last_seen=int(presence.last_seen * 1000),
            version=info.version if info else "",
            hostname=presence.agent_hostname,
            connected_since=int(presence.connected_since * 1000),
            labels=dict(info.labels) if info else {},
            instance_id=presence.agent_instance_id,
        )
        self._track(self._db_write(lambda conn: agent_store.save_agent(conn, record)))
        hook = self._on_agent_presence
        if hook is not None and not self._stopping:
            self._track(hook(presence.agent_name, presence.connected, record.last_seen))

    def _track(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(self._ignore_result(work))
        self._presence_tasks.add(task)
        task.add_done_callback(self._presence_done)

    @staticmethod
    async def _ignore_result(work: Coroutine[Any, Any, object]) -> None:
        await work

    def _presence_done(self, task: asyncio.Task[None]) -> None:
        self._presence_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("presence not saved: %r", task.exception())

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            try:
                await self._flush_last_seen()
            except Exception:
                log.exception("last-seen flush failed")

    async def _flush_last_seen(self) -> None:
        seen: dict[str, int] = {}
        for name in self.link.connected_agents():
            p = self.link.presence(name)
            if p is not None:
                seen[name] = int(p.last_seen * 1000)
        if seen:
            await self._db_write(lambda conn: agent_store.touch_agents(conn, seen))

    # ---- queries ----------------------------------------------------------------------------
    def connected_agents(self) -> list[str]:
        return self.link.connected_agents()

    async def list_agents(self, *, connected_only: bool = False) -> list[agent_store.AgentPresence]:
        """Stored presence, with live last-seen times for connected agents."""

        def work() -> list[agent_store.AgentPresence]:
            with read_transaction(self._engine) as conn:
                return agent_store.list_agents(conn, connected_only=connected_only)

        rows = await asyncio.get_running_loop().run_in_executor(self._db, work)
        out: list[agent_store.AgentPresence] = []
        for row in rows:
            live = self.link.presence(row.name)
            if live is not None and live.connected:
                row = agent_store.AgentPresence(
                    row.name,
                    True,
                    int(live.last_seen * 1000),
                    row.version,
                    row.hostname,
                    row.connected_since,
                    row.labels,
                    row.instance_id,
                )
            out.append(row)
        return out

    async def _db_write(self, fn: Callable[..., object]) -> None:
        def work() -> None:
            with write_transaction(self._engine) as conn:
                fn(conn)

        await asyncio.get_running_loop().run_in_executor(self._db, work)
