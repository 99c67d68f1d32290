"""The agent process: the durable link to the dashboard, the inbox consumer, the executor.

Data directory layout (under `AgentConfig.data_dir`): `journal/` and `outbox/` (journals.py),
`runs/` (the executor's run directories: claim with pid and rc records, logs), `triggers/`
(the trigger host's cursors).

On start, every held initiation (accepted, no reported completion) goes to the executor
before the inbox consumer (consumer.py) runs, so no initiation ever gets a second process
(docs/architecture.md §4.6). The trigger host is fed through trigger_bridge.py; plug points are in
ports.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ikasched.v1 import agent_pb2
from ikasched_agent.consumer import InboxConsumer
from ikasched_agent.events import refusal_event
from ikasched_agent.executor import Disposition, Executor
from ikasched_agent.journals import META_INSTANCE_ID, AgentJournals
from ikasched_agent.ports import (
    Housekeeper,
    HousekeeperFactory,
    LogFactory,
    LogService,
    SendChunk,
    TriggerContext,
    TriggerFactory,
    TriggerPort,
)
from ikasched_agent.registry import HeldInitiations, Registry
from ikasched_agent.trigger_bridge import TriggerBridge
from ikasched_common import clock
from ikasched_common.clock import Clock, SystemClock
from ikasched_common.config import AgentConfig
from ikasched_common.errors import IkaschedError
from ikasched_common.files import private_dir, private_files
from ikasched_common.journal import DeadLetterJournal, DiskJournal, Durability
from ikasched_common.link import (
    AgentIdentity,
    AgentLinkClient,
    Backoff,
    Dialer,
    JournalOutbox,
    LinkClosed,
    LinkSettings,
    Receiver,
)
from ikasched_common.secrets import SecretBox, load_or_create_key_file

__all__ = [
    "META_INSTANCE_ID",
    "Agent",
    "AgentOptions",
    "TriggerContext",
    "TriggerFactory",
    "TriggerPort",
    "default_options",
    "grpc_dialer",
    "real_housekeeper",
    "real_log_server",
    "real_trigger_host",
    "run_agent",
    "serve",
]

log = logging.getLogger(__name__)

#: The agent's own key (in its data directory) sealing secret values in its journals.
SECRET_KEY_FILE = "secret.key"


async def _call(result: Any) -> Any:
    """Await a plug-in's result when it is awaitable (plug-ins may be sync or async)."""
    if inspect.isawaitable(result):
        return await result
    return result


# ---- options ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentOptions:
    """Knobs that are not operator settings (tests, embedding)."""

    link_settings: LinkSettings = field(default_factory=LinkSettings)
    backoff: Backoff = field(default_factory=Backoff)
    status_interval: float = 5.0
    consume_batch: int = 256
    max_poison_attempts: int = 5
    poison_retry_delay: float = 0.2
    # how long a graceful stop waits for the dashboard to ack the outbox
    flush_timeout: float = 5.0
    trigger_factory: TriggerFactory | None = None
    log_factory: LogFactory | None = None
    housekeeper_factory: HousekeeperFactory | None = None


def grpc_dialer(config: AgentConfig, settings: LinkSettings) -> Dialer:
    """The real dialer: keepalive channel, bearer token, TLS/mTLS from the config files."""
    import grpc

    from ikasched_common.link.grpc_transport import GrpcDialer
    from ikasched_common.tls import channel_credentials

    credentials: grpc.ChannelCredentials | None = None
    if config.tls_ca_file or config.tls_cert_file or config.tls_key_file:
        # the files are checked (readable, PEM, the key the certificate's) before gRPC sees
        # them: gRPC only logs "Invalid private key" and fails the link later, unexplained
        credentials = channel_credentials(
            config.tls_ca_file or None,
            config.tls_cert_file or None,
            config.tls_key_file or None,
        )
    return GrpcDialer(
        config.dashboard, token=config.token or None, settings=settings, credentials=credentials
    )


# ---- the agent ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Running:
    """What a started agent holds: born together at the end of `start`, once the journals
    are open and held initiations are settled."""

    journals: AgentJournals
    executor: Executor
    consumer: InboxConsumer
    link: AgentLinkClient
    link_task: asyncio.Task[None]
    tasks: list[asyncio.Task[None]]
    unlisten: Callable[[], None]


class Agent:
    """One agent: link client, inbox consumer, executor, registry, status reports."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        options: AgentOptions | None = None,
        dialer: Dialer | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.options = options or AgentOptions()
        self.name = config.name
        self.hostname = socket.gethostname()
        self.data_dir = Path(config.data_dir)
        self._dialer = dialer
        self._clock: Clock = clock or SystemClock()
        self.registry = Registry(config.name)
        self._started = False
        self._stopping = False
        # plug-ins, made by the options' factories in `start`
        self.triggers: TriggerPort | None = None
        self.logs: LogService | None = None
        self.housekeeper: Housekeeper | None = None
        self._running: _Running | None = None

    # ---- what a started agent holds ----------------------------------------------------
    def _live(self) -> _Running:
        if self._running is None:
            raise RuntimeError("agent not started")
        return self._running

    @property
    def inbox(self) -> DiskJournal:
        return self._live().journals.store

    @property
    def held(self) -> HeldInitiations:
        return self._live().journals.held

    @property
    def outbox(self) -> JournalOutbox:
        return self._live().journals.outbox

    @property
    def receiver(self) -> Receiver:
        return self._live().journals.receiver

    @property
    def dead_letters(self) -> DeadLetterJournal:
        return self._live().journals.dead_letters

    @property
    def executor(self) -> Executor:
        return self._live().executor

    @property
    def link(self) -> AgentLinkClient:
        return self._live().link

    @property
    def processed(self) -> int:
        """Inbox messages processed since start."""
        return self._running.consumer.processed if self._running is not None else 0

    @property
    def dead_lettered(self) -> int:
        """Inbox messages moved to the dead letters since start."""
        return self._running.consumer.dead_lettered if self._running is not None else 0

    # ---- start -------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the journals, recover held initiations, then link and consume."""
        if self._started:
            raise RuntimeError("agent already started")
        self._started = True
        opts = self.options
        if self._dialer is None:  # first: a bad TLS file fails before anything is touched
            self._dialer = grpc_dialer(self.config, opts.link_settings)
        private_files()  # journals, run directories, logs, key: 0600 files, 0700 directories
        private_dir(self.data_dir)
        box = SecretBox(load_or_create_key_file(self.data_dir / SECRET_KEY_FILE))
        durability: Durability = "power" if self.config.journal_durability == "power" else "crash"
        journals = await AgentJournals.open(
            self.data_dir, durability, max_poison_attempts=opts.max_poison_attempts, box=box
        )
        instance_id = await journals.aj.run(journals.instance_id)
        await journals.aj.run(journals.registry_log.load, self.registry)
        held = await journals.aj.run(journals.held.load)

        executor = Executor(
            self.data_dir,
            emit=journals.emit,
            emit_many=journals.emit_many,
            max_concurrent_jobs=self.config.max_concurrent_jobs,
            default_timeout_seconds=self.config.default_timeout_seconds,
            kill_grace_seconds=self.config.kill_grace_seconds,
            agent_name=self.name,
            agent_hostname=self.hostname,
            secret_box=box,
        )
        if opts.trigger_factory is not None:
            self.triggers = opts.trigger_factory(
                TriggerContext(
                    self.name,
                    self.hostname,
                    journals.emit,
                    journals.send_alert,
                    self._clock,
                    self.data_dir / "triggers",
                    box,
                )
            )
        if opts.log_factory is not None:
            self.logs = opts.log_factory(self.data_dir / "runs", self._send_chunk)
        if opts.housekeeper_factory is not None:
            self.housekeeper = opts.housekeeper_factory(
                self.data_dir / "runs", self._clock, self.config.log_retention_days
            )
            await self.housekeeper.start()
        bridge = TriggerBridge(self.triggers, agent_name=self.name, alert=journals.send_alert)
        consumer = InboxConsumer(
            journals,
            self.registry,
            executor,
            bridge,
            agent_name=self.name,
            hostname=self.hostname,
            batch=opts.consume_batch,
            retry_delay=opts.poison_retry_delay,
        )
        unlisten = journals.receiver.listen(lambda _seq: consumer.wake())

        # Rule 6: settle every accepted initiation before anything new is taken.
        if held:
            outcome: dict[str, Disposition] = {}
            for init in held:
                try:
                    outcome[init.id] = await executor.submit(init)
                except IkaschedError as exc:  # it could never run: say so, once
                    await journals.emit(
                        refusal_event(
                            init,
                            str(exc),
                            agent_name=self.name,
                            hostname=self.hostname,
                            now_ms=clock.now_ms(),
                        )
                    )
                    outcome[init.id] = Disposition.REJECTED
            settled = [i for i, d in outcome.items() if d is Disposition.DUPLICATE]
            if settled:
                await journals.release(settled)
            log.info(
                "agent %s recovered %d held initiations: %s",
                self.name,
                len(held),
                _count(outcome.values()),
            )
        await bridge.replay(self.registry)

        link = AgentLinkClient(
            self._dialer,
            AgentIdentity(
                agent_name=self.name,
                agent_instance_id=instance_id,
                agent_version=_version(),
                agent_hostname=self.hostname,
                max_concurrent_jobs=self.config.max_concurrent_jobs,
                labels=dict(self.config.labels),
            ),
            journals.receiver,
            journals.outbox,
            settings=opts.link_settings,
            on_lane=self._on_lane,
            backoff=opts.backoff,
        )
        loop = asyncio.get_running_loop()
        # No await from here to the assignment: the tasks see a complete `_running`.
        link_task = loop.create_task(link.run(), name="agent-link")
        tasks = [
            loop.create_task(self._status_loop(), name="agent-status"),
            loop.create_task(consumer.run(), name="agent-inbox"),
        ]
        self._running = _Running(journals, executor, consumer, link, link_task, tasks, unlisten)
        log.info(
            "agent %s started (data %s, dashboard %s)",
            self.name,
            self.data_dir,
            self.config.dashboard,
        )

    # ---- stop --------------------------------------------------------------------------
    async def stop(self) -> None:
        """Graceful stop: no new work, pending events emitted, acks and outbox flushed (within
        the flush timeout), journals closed. Running jobs keep running, detached."""
        if not self._started or self._stopping or self._running is None:
            return
        running = self._running
        self._stopping = True
        running.consumer.stop()
        for task in running.tasks:
            if task.get_name() == "agent-status":
                task.cancel()
        await asyncio.gather(*running.tasks, return_exceptions=True)
        if self.triggers is not None:
            with _logged("trigger host close"):
                await self.triggers.aclose()
        if self.logs is not None:
            with _logged("log service close"):
                await self.logs.aclose()
        if self.housekeeper is not None:
            with _logged("housekeeper close"):
                await self.housekeeper.aclose()
        await running.executor.aclose()
        await self._flush_link()
        running.link.stop()
        try:
            await asyncio.wait_for(running.link_task, 10)
        except (TimeoutError, Exception):
            log.warning("link did not end in time")
        running.unlisten()
        if self._dialer is not None:
            close = getattr(self._dialer, "close", None)
            if close is not None:
                with _logged("dialer close"):
                    await _call(close())
        await running.journals.aclose()
        log.info("agent %s stopped", self.name)

    async def _flush_link(self) -> None:
        """Let the link send what is journaled: acks of the inbox, the outbox's events."""
        deadline = time.monotonic() + self.options.flush_timeout
        await self.receiver.flush()
        while time.monotonic() < deadline and self.link.session is not None:
            if await self.outbox.size() == 0:
                break
            await asyncio.sleep(0.02)
        # the session's acker sends the last inbox ack on its own; give it a moment
        session = self.link.session
        if session is not None:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    async def send_alert(self, alert: agent_pb2.AgentAlert) -> None:
        """Journal an operator alert in the outbox."""
        await self._live().journals.send_alert(alert)

    # ---- lane --------------------------------------------------------------------------
    async def _on_lane(self, message: agent_pb2.DashboardLaneMessage) -> None:
        kind = message.WhichOneof("body")
        if self.logs is not None:
            if kind == "log_request":
                self.logs.request(message.log_request)
            elif kind == "log_cancel":
                self.logs.cancel(message.log_cancel)
            return
        if kind == "log_request":
            await self._send_chunk(
                agent_pb2.LogChunk(
                    request_id=message.log_request.request_id,
                    eof=True,
                    error="this agent does not serve logs",
                )
            )

    async def _send_chunk(self, chunk: agent_pb2.LogChunk) -> None:
        """Put a chunk on the lane, waiting while it is full; a transfer ends with the link."""
        if not await self.link.send_lane(agent_pb2.AgentLaneMessage(log_chunk=chunk)):
            raise LinkClosed("not connected to the dashboard")

    async def status(self) -> agent_pb2.AgentStatus:
        """Current load, as sent on the lane."""
        return agent_pb2.AgentStatus(
            running_jobs=len(self.executor.running()),
            queued_jobs=len(self.executor.queued()),
            active_instances=len(self.registry.instances),
            outbox_size=await self.outbox.size(),
        )

    async def _status_loop(self) -> None:
        while not self._stopping:
            session = self.link.session
            if session is not None:
                with contextlib.suppress(asyncio.QueueFull):
                    session.send_lane_nowait(agent_pb2.AgentLaneMessage(status=await self.status()))
            await asyncio.sleep(self.options.status_interval)


def _count(dispositions: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dispositions:
        out[d.value] = out.get(d.value, 0) + 1
    return out


def _version() -> str:
    try:
        from ikasched_common import __version__
    except ImportError:  # pragma: no cover
        return "0"
    return str(__version__)


@contextlib.contextmanager
def _logged(what: str) -> Any:
    try:
        yield
    except Exception:
        log.exception("%s failed", what)


# ---- process entry ------------------------------------------------------------------------
async def serve(
    config: AgentConfig,
    *,
    options: AgentOptions | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run an agent until `stop` is set or SIGTERM/SIGINT arrives; then stop gracefully."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    agent = Agent(config, options=options)
    try:
        await agent.start()  # a failure here (unreadable journals, bad TLS files) propagates
        try:
            await stop.wait()
            log.info("agent %s stopping", config.name)
        finally:
            await agent.stop()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def real_trigger_host(ctx: TriggerContext) -> TriggerPort:
    """The cron and file-arrival trigger host of ikasched_agent.triggers."""
    from ikasched_agent.triggers import TriggerHost

    return TriggerHost(
        ctx.agent_name,
        ctx.emit,
        ctx.clock,
        ctx.state_dir,
        alert=ctx.alert,
        agent_hostname=ctx.agent_hostname,
        secret_box=ctx.secret_box,
    )


def real_log_server(runs_dir: Path, send_chunk: SendChunk) -> LogService:
    from ikasched_agent.logs import LogServer

    return LogServer(runs_dir, send_chunk)


def real_housekeeper(
    runs_dir: Path, clock: Clock, max_age_days: int, archive_dir: str = ""
) -> Housekeeper:
    """Run housekeeping: runs past the retention are deleted, or moved under `archive_dir`."""
    from ikasched_agent.logs import LogHousekeeper

    return LogHousekeeper(
        runs_dir, clock, max_age_days=max_age_days, archive_dir=archive_dir or None
    )


def default_options(config: AgentConfig) -> AgentOptions:
    """Options of a real agent: trigger host, log server and run housekeeping."""
    return AgentOptions(
        trigger_factory=real_trigger_host,
        log_factory=real_log_server,
        housekeeper_factory=(
            functools.partial(real_housekeeper, archive_dir=config.log_archive_dir)
            if config.log_retention_days > 0
            else None
        ),
    )


def run_agent(config: AgentConfig, *, options: AgentOptions | None = None) -> int:
    """Run the agent process until SIGTERM/SIGINT; returns the exit status (0)."""
    config.validate()
    asyncio.run(serve(config, options=options or default_options(config)))
    return 0
