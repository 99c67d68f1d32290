"""The dashboard's one composition root: every part built here, in order, by its constructor.

`build_dashboard(config)` is what `ikasched dashboard` and `ikasched up` run; tests and the
bench build `Dashboard(config, ...)` in-process (`security=False` for simulated agents without
tokens, `operator_services=False` for the core alone: no lifecycle timers, no operator verbs).

Start order: migrations -> journals (inbox + dead letters as siblings of one diskcache store
under data_dir/inbox) -> agent outboxes -> orchestrator (recovery: machines from snapshots,
coordinator) -> gateway -> gRPC server (link, health, operator services, TokenService,
reflection listing every one of them) -> metrics endpoint -> lifecycle recovery and timers ->
health SERVING. Stop order: health NOT_SERVING, lifecycle timers, metrics endpoint, agent links
(inbox writes flushed), the gRPC server, the orchestrator drain (everything journaled is
committed), the journals, the DB thread.

The parts:
- security: the token interceptor on every RPC (health always open, reflection by setting),
  the TokenService, agent tokens bound to the agent name in the link hello;
- job logs streamed from the agents over the link's lane (logstream), agent load in presence;
- secret parameters sealed at rest with the config's key (or a generated 0600 key file) and
  opened only in what the link sends to agents (sealing);
- Prometheus text on GET /metrics when `config.metrics_listen` is set (port 0: any free one).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from sqlalchemy import Connection, Engine

from ikasched.v1 import admin_service_pb2, admin_service_pb2_grpc, agent_pb2
from ikasched_common.clock import Clock, SystemClock
from ikasched_common.config import DashboardConfig
from ikasched_common.errors import Unavailable
from ikasched_common.files import private_dir, private_files
from ikasched_common.journal import DiskJournal
from ikasched_common.link import LinkSettings
from ikasched_common.link.grpc_transport import add_agent_gateway
from ikasched_common.secrets import SecretBox
from ikasched_common.tls import check_listen_address, server_credentials
from ikasched_dashboard.data_lock import DataLock, check_port_free
from ikasched_dashboard.gateway import AgentPresenceHook, Gateway
from ikasched_dashboard.history_retention import run_retention
from ikasched_dashboard.interceptor import AuthInterceptor
from ikasched_dashboard.lifecycle import Lifecycle
from ikasched_dashboard.logstream import GatewayLogFetcher
from ikasched_dashboard.metrics import DashboardMetrics, MetricsServer
from ikasched_dashboard.notifier import Notifier, NotifierSettings, smtp_settings
from ikasched_dashboard.orchestrator import Orchestrator, OrchestratorSettings
from ikasched_dashboard.outbox import AgentOutboxes, SqlOutbox
from ikasched_dashboard.sealing import SecretOpeningOutbox
from ikasched_dashboard.security import (
    Authenticator,
    check_agent_hello,
    current_actor,
    current_principal,
)
from ikasched_dashboard.services.context import CommitSignal, LogFetcher, ServiceContext
from ikasched_dashboard.services.register import (
    add_operator_services,
    enable_reflection,
    operator_server_options,
    set_serving,
)
from ikasched_dashboard.services.request_guard import RequestGuard
from ikasched_dashboard.services.tokens import TokenServicer, first_start_admin_token
from ikasched_dashboard.store import db

log = logging.getLogger(__name__)

T = TypeVar("T")
GC_THRESHOLDS = (50_000, 20, 100)
TOKEN_SERVICE = admin_service_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name
AGENT_GATEWAY = agent_pb2.DESCRIPTOR.services_by_name["AgentGateway"].full_name


class Dashboard:
    """One running dashboard (see the module doc): `start()`, `stop()`, `port`, the parts."""

    def __init__(
        self,
        config: DashboardConfig,
        *,
        security: bool = True,
        operator_services: bool = True,
        clock: Clock | None = None,
        actor: Callable[[], str] | None = None,
        log_fetcher: LogFetcher | None = None,
        link_settings: LinkSettings | None = None,
        orchestrator_settings: OrchestratorSettings | None = None,
    ) -> None:
        config.validate()
        check_listen_address(config.listen, config.tls_enabled, config.insecure)
        self._smtp = smtp_settings(config)  # reads the SMTP password now: refused before start
        # read and pair the TLS files before anything starts: a key that does not match its
        # certificate is refused naming the files (grpc would only fail to listen)
        self._tls_credentials = (
            server_credentials(
                config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file or None
            )
            if config.tls_enabled
            else None
        )
        self.config = config
        self._security = security
        self._operator_services = operator_services
        self._clock = clock
        self._actor = actor or (lambda: current_actor("anonymous"))
        self._log_fetcher = log_fetcher
        self._link_settings = link_settings or LinkSettings(
            heartbeat_interval=config.heartbeat_interval_ms / 1000,
            liveness_timeout=config.liveness_timeout_ms / 1000,
        )
        # messages the orchestrator queues must fit this dashboard's link frames (§4.9)
        self._orchestrator_settings = dataclasses.replace(
            orchestrator_settings or OrchestratorSettings(),
            max_message_bytes=self._link_settings.message_limit,
        )
        # Tokens are read through their own engine: the core's DB thread stays on the hot path.
        self._auth_engine: Engine | None = None
        self.authenticator: Authenticator | None = None
        if security:
            self._auth_engine = db.create_engine_for(config.effective_database_url)
            self.authenticator = Authenticator(self._auth_engine)
        # secret parameter values are sealed with this key at rest, opened for the agents only
        private_dir(config.data_dir)
        self.secret_box = SecretBox.from_config(config.secret_key, config.effective_secret_key_file)
        self._health = HealthServicer()
        self._served: tuple[str, ...] = ()
        self._engine: Engine | None = None
        self._journal: DiskJournal | None = None
        self._db: ThreadPoolExecutor | None = None
        self._gateway: Gateway | None = None
        self._outboxes: AgentOutboxes | None = None
        self._orchestrator: Orchestrator | None = None
        self._server: grpc.aio.Server | None = None
        self._metrics: DashboardMetrics | None = None
        self._metrics_server: MetricsServer | None = None
        self._lifecycle: Lifecycle | None = None
        self._context: ServiceContext | None = None
        self._token_flusher: asyncio.Task[None] | None = None
        self._history_purger: asyncio.Task[None] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._data_lock = DataLock(Path(config.data_dir), config.effective_database_url)
        self.port = 0
        self.dashboard_id = ""
        self.recovery_seconds = 0.0
        # set by serve() on PostgreSQL: installs the lease fence on the store's engine (§12)
        self.fence: Callable[[Engine], None] | None = None

    # ---- parts ----------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "not started"
        return self._engine

    @property
    def orchestrator(self) -> Orchestrator:
        assert self._orchestrator is not None, "not started"
        return self._orchestrator

    @property
    def gateway(self) -> Gateway:
        assert self._gateway is not None, "not started"
        return self._gateway

    @property
    def inbox(self) -> DiskJournal:
        assert self._journal is not None, "not started"
        return self._journal

    @property
    def lifecycle(self) -> Lifecycle:
        assert self._lifecycle is not None, "not started, or built without operator services"
        return self._lifecycle

    @property
    def context(self) -> ServiceContext:
        assert self._context is not None, "not started, or built without operator services"
        return self._context

    @property
    def metrics(self) -> DashboardMetrics | None:
        """The metric families (None until started)."""
        return self._metrics

    @property
    def metrics_port(self) -> int:
        """The port of the metrics endpoint (0: not serving)."""
        return self._metrics_server.port if self._metrics_server is not None else 0

    @property
    def service_names(self) -> tuple[str, ...]:
        """Full names of every service on the gRPC server (health and reflection aside)."""
        return self._served

    async def db_read(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` in a read transaction on the dashboard's DB thread."""
        assert self._db is not None and self._engine is not None, "not started"
        engine = self._engine

        def work() -> T:
            with db.read_transaction(engine) as conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._db, work)

    # ---- start ----------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        private_files()  # database, journals, token and key files: 0600, directories 0700
        data = private_dir(cfg.data_dir)
        # one dashboard per data dir and SQLite file; a second one stops here (§1.7)
        self._data_lock.acquire()
        check_port_free(cfg.listen)
        url = cfg.effective_database_url
        started = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, db.upgrade, url)
        durability: Literal["crash", "power"] = (
            "power" if cfg.journal_durability == "power" else "crash"
        )
        engine = self._engine = db.create_engine_for(url, durability=durability)
        if self.fence is not None:
            self.fence(engine)
        if self._security:
            self._write_bootstrap_token(engine, data)
        inbox = self._journal = DiskJournal(data / "inbox", durability=durability, prefix="inbox")
        dead_letters = inbox.sibling("dead")
        self.dashboard_id = _dashboard_id(data)
        # SQLite has one writer: one DB thread for everything avoids its sleeping busy handler
        sqlite = engine.dialect.name == "sqlite"
        executor = self._db = ThreadPoolExecutor(
            1 if sqlite else 4, thread_name_prefix="dashboard-db"
        )
        outboxes = self._outboxes = AgentOutboxes(engine, executor)
        orchestrator = self._orchestrator = Orchestrator(
            engine,
            inbox,
            dead_letters,
            notify=outboxes.notify,
            db_executor=executor,
            settings=self._orchestrator_settings,
        )
        gateway = self._gateway = Gateway(
            engine,
            inbox,
            outboxes,
            dashboard_id=self.dashboard_id,
            db_executor=executor,
            sync_source=orchestrator.sync_agent,
            on_inbox=orchestrator.wake,
            settings=self._link_settings,
            hello_check=_agent_hello_check if self._security else None,
            link_outbox=self._open_secrets,
            on_agent_presence=self._agent_presence(orchestrator),
        )
        metrics = self._metrics = DashboardMetrics(
            gateway,
            inbox,
            dead_letters,
            self.db_read,
            refused_events=lambda: orchestrator.events_refused,
        )
        orchestrator.set_batch_observer(metrics.observe_batch)
        await orchestrator.start()
        await gateway.start()
        self.recovery_seconds = time.monotonic() - started
        self._server = await self._serve(self._build_server(gateway))
        if cfg.metrics_listen:
            self._metrics_server = MetricsServer(metrics.registry, cfg.metrics_listen)
            await self._metrics_server.start()
        if self._lifecycle is not None:  # recovery of time windows, then the timers
            await self._lifecycle.start()
        await set_serving(self._health, self._served, True)
        if self.authenticator is not None:
            self._token_flusher = asyncio.create_task(self.authenticator.run_flusher())
        settings = NotifierSettings(
            cfg.notification_max_attempts,
            cfg.notification_retry_ms,
            smtp=self._smtp,
            secrets_dir=cfg.effective_webhook_secrets_dir,
        )
        notifier = Notifier(engine, self._clock or SystemClock(), settings)
        self._notifier = asyncio.create_task(notifier.run())
        if cfg.history_retention_days:
            self._history_purger = asyncio.create_task(
                run_retention(engine, self._clock or SystemClock(), cfg.history_retention_days)
            )
        # everything built so far lives as long as the process: keep it out of GC scans
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        log.info(
            "dashboard %s listening on port %d (recovered in %.3fs)",
            self.dashboard_id,
            self.port,
            self.recovery_seconds,
        )

    def _write_bootstrap_token(self, engine: Engine, data: Path) -> None:
        """First start on an empty token store: an admin token file, so the operator can
        make every other token (docs/architecture.md §7)."""
        path = first_start_admin_token(engine, data)
        if path is not None:
            log.warning(
                "no tokens yet: wrote a bootstrap admin token to %s (mode 0600); use it with"
                " `ikasched --token-file %s token create ...`",
                path,
                path,
            )

    @staticmethod
    def _agent_presence(orchestrator: Orchestrator) -> AgentPresenceHook:
        async def hook(agent_name: str, connected: bool, last_seen_ms: int) -> int:
            return await orchestrator.agent_presence(
                agent_name, reachable=connected, since_ms=last_seen_ms
            )

        return hook

    def _open_secrets(self, outbox: SqlOutbox) -> SecretOpeningOutbox:
        return SecretOpeningOutbox(outbox, self.secret_box)

    def _build_server(self, gateway: Gateway) -> grpc.aio.Server:
        """The gRPC server with every service; reflection and health list all of them."""
        cfg = self.config
        interceptors: list[grpc.aio.ServerInterceptor[Any, Any]] = []
        if self.authenticator is not None:
            interceptors.append(
                AuthInterceptor(self.authenticator, reflection_open=cfg.reflection_open)
            )
        interceptors.append(RequestGuard())
        server = grpc.aio.server(
            options=[
                *operator_server_options(self._link_settings, cfg.max_message_bytes),
                # bind exclusively: a second dashboard on the port fails instead of sharing it
                ("grpc.so_reuseport", 0),
            ],
            interceptors=interceptors,
        )
        served: list[str] = [AGENT_GATEWAY]
        add_agent_gateway(server, gateway.link)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        if self._operator_services:
            served += add_operator_services(server, self._service_context(gateway)).service_names
        if self._auth_engine is not None and self.authenticator is not None:
            admin_service_pb2_grpc.add_TokenServiceServicer_to_server(  # type: ignore[no-untyped-call]
                TokenServicer(self._auth_engine, self.authenticator), server
            )
            served.append(TOKEN_SERVICE)
        self._served = tuple(served)
        enable_reflection(server, self._served)
        return server

    def _service_context(self, gateway: Gateway) -> ServiceContext:
        """The lifecycle and what the operator services share."""
        engine, orchestrator = self.engine, self.orchestrator
        self._lifecycle = Lifecycle(engine, orchestrator, clock=self._clock)
        signal = CommitSignal()
        orchestrator.add_commit_listener(signal.notify)
        lanes = gateway.lanes
        self._context = ServiceContext(
            engine=engine,
            orchestration=orchestrator,
            lifecycle=self._lifecycle,
            inbox=self.inbox,
            dead_letters=orchestrator.dead_letters,
            log_fetcher=self._log_fetcher or GatewayLogFetcher(lambda: lanes),
            secret_box=self.secret_box,
            commit_signal=signal,
            actor=self._actor,
            agent_load=lanes.load,
            disconnect_agent=lambda name: gateway.link.disconnect(name, "outbox deleted"),
            clock=self._clock or SystemClock(),
            notify_agents=(lambda _n: None) if self._outboxes is None else self._outboxes.notify,
            quarantined_instances=orchestrator.quarantined,
            max_message_bytes=self.config.max_message_bytes,
            max_frame_bytes=self._link_settings.max_frame_bytes,
        )
        return self._context

    async def _serve(self, server: grpc.aio.Server) -> grpc.aio.Server:
        cfg = self.config
        try:
            if self._tls_credentials is not None:  # mutual TLS when a client CA is configured
                self.port = server.add_secure_port(cfg.listen, self._tls_credentials)
            else:
                self.port = server.add_insecure_port(cfg.listen)
        except RuntimeError:  # grpc's "Failed to bind to address"
            self.port = 0
        if self.port == 0:
            raise Unavailable(
                f"cannot listen on {cfg.listen}: the port is in use or the address is not available"
            )
        await server.start()
        return server

    # ---- stop -----------------------------------------------------------------------------
    async def stop(self, grace: float = 2.0) -> None:
        for task in (self._history_purger, self._notifier):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._history_purger = self._notifier = None
        if self._token_flusher is not None:
            self._token_flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._token_flusher
            self._token_flusher = None
        if self._server is not None:
            await set_serving(self._health, self._served, False)
        if self._lifecycle is not None:
            await self._lifecycle.close()
        with contextlib.suppress(Exception):
            await self._health.enter_graceful_shutdown()
        if self._metrics_server is not None:
            await self._metrics_server.stop()
            self._metrics_server = None
        if self._gateway is not None:
            await self._gateway.stop()
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
        if self._orchestrator is not None:
            await self._orchestrator.stop()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._db is not None:
            self._db.shutdown(wait=True)
            self._db = None
        if self._engine is not None:
            self._engine.dispose()
        if self._auth_engine is not None:
            self._auth_engine.dispose()
        self._data_lock.release()
        gc.unfreeze()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


def _agent_hello_check(hello: agent_pb2.AgentHello, _metadata: Mapping[str, str]) -> None:
    """An agent link needs the AGENT token of the agent it names (the interceptor's principal
    is visible here: the hello is read inside the RPC handler)."""
    check_agent_hello(current_principal(), hello)


def _dashboard_id(data: Path) -> str:
    """Stable across restarts of the same data dir (agents notice a lost dashboard)."""
    path = data / "dashboard-id"
    if path.exists():
        return path.read_text().strip()
    value = uuid.uuid4().hex
    path.write_text(value)
    return value


def build_dashboard(config: DashboardConfig) -> Dashboard:
    """The dashboard `ikasched dashboard` runs: every part."""
    return Dashboard(config)
