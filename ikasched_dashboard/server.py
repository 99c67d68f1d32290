"""Process assembly: store, journals, gateway, orchestrator and the grpc.aio server.

`DashboardProcess(config)` is usable in-process (tests) and through `app.DashboardApp` (the
`ikasched dashboard` command). Start order: migrations -> journals (inbox + dead letters as
siblings of one diskcache store under data_dir/inbox) -> orchestrator recovery (machines from
snapshots, coordinator) -> gateway -> gRPC server; health turns SERVING only after recovery.
Stop order: stop accepting RPCs, close agent links (inbox writes flushed), drain the
orchestrator (everything journaled is committed), close the journals.

Observability: `metrics_listen="host:port"` (port 0: any free one; None: off) serves
Prometheus text on GET /metrics (ikasched_dashboard.metrics); `metrics_port` tells the port.

Extension point for the operator services and the lifecycle (written elsewhere): pass
`registrars`, callables `register(server, process)` run before the server starts, and/or
`on_started` hooks `async hook(process)` run once recovery is done. They reach the parts
through the properties (`orchestrator`, `gateway`, `engine`, `config`, `clock_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from sqlalchemy import Connection, Engine

from ikasched.v1 import agent_pb2_grpc
from ikasched_common.config import DashboardConfig
from ikasched_common.journal import DiskJournal
from ikasched_common.link import LinkSettings
from ikasched_common.link.grpc_transport import AgentGatewayService, server_options
from ikasched_common.tls import server_credentials
from ikasched_dashboard.gateway import Gateway, HelloCheck
from ikasched_dashboard.metrics import DashboardMetrics, MetricsServer
from ikasched_dashboard.orchestrator import Orchestrator, OrchestratorSettings
from ikasched_dashboard.store import db

log = logging.getLogger(__name__)

GC_THRESHOLDS = (50_000, 20, 100)
T = TypeVar("T")

Registrar = Callable[[grpc.aio.Server, "DashboardProcess"], None]
StartedHook = Callable[["DashboardProcess"], Awaitable[None]]


class DashboardProcess:
    """One running dashboard (see the module doc)."""

    def __init__(
        self,
        config: DashboardConfig,
        *,
        registrars: Sequence[Registrar] = (),
        on_started: Sequence[StartedHook] = (),
        hello_check: HelloCheck | None = None,
        orchestrator_settings: OrchestratorSettings | None = None,
        link_settings: LinkSettings | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
        metrics_listen: str | None = None,
    ) -> None:
        self._config = config
        self._registrars = list(registrars)
        self._on_started = list(on_started)
        self._hello_check = hello_check
        self._orch_settings = orchestrator_settings
        self._link_settings = link_settings or LinkSettings(
            heartbeat_interval=config.heartbeat_interval_ms / 1000,
            liveness_timeout=config.liveness_timeout_ms / 1000,
        )
        self._interceptors = list(interceptors)
        self._engine: Engine | None = None
        self._journal: DiskJournal | None = None
        self._gateway: Gateway | None = None
        self._orchestrator: Orchestrator | None = None
        self._server: grpc.aio.Server | None = None
        self._db: ThreadPoolExecutor | None = None
        self._health = HealthServicer()
        self._metrics_listen = metrics_listen
        self._metrics: DashboardMetrics | None = None
        self._metrics_server: MetricsServer | None = None
        self.port = 0
        self.dashboard_id = ""
        self.recovery_seconds = 0.0

    # ---- parts ----------------------------------------------------------------------------
    @property
    def config(self) -> DashboardConfig:
        return self._config

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
    def metrics(self) -> DashboardMetrics | None:
        """The metric families (None until started)."""
        return self._metrics

    @property
    def metrics_port(self) -> int:
        """The port of the metrics endpoint (0: not serving)."""
        return self._metrics_server.port if self._metrics_server is not None else 0

    async def db_read(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` in a read transaction on the dashboard's DB thread."""
        assert self._db is not None and self._engine is not None, "not started"
        engine = self._engine

        def work() -> T:
            with db.read_transaction(engine) as conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._db, work)

    @staticmethod
    def clock_ms() -> int:
        return int(time.time() * 1000)

    def add_registrar(self, registrar: Registrar) -> None:
        self._registrars.append(registrar)

    # ---- start / stop ---------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self._config
        cfg.validate()
        data = Path(cfg.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        url = cfg.effective_database_url
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        await loop.run_in_executor(None, db.upgrade, url)
        durability: Literal["crash", "power"] = (
            "power" if cfg.journal_durability == "power" else "crash"
        )
        self._engine = db.create_engine_for(url, durability=durability)
        self._journal = DiskJournal(data / "inbox", durability=durability, prefix="inbox")
        dead = self._journal.sibling("dead")
        self.dashboard_id = _dashboard_id(data)
        # SQLite has one writer: one DB thread for everything avoids its sleeping busy handler
        sqlite = self._engine.dialect.name == "sqlite"
        self._db = ThreadPoolExecutor(1 if sqlite else 4, thread_name_prefix="dashboard-db")
        self._gateway = Gateway(
            self._engine,
            self._journal,
            db_executor=self._db,
            dashboard_id=self.dashboard_id,
            settings=self._link_settings,
            hello_check=self._hello_check,
        )
        self._orchestrator = Orchestrator(
            self._engine,
            self._journal,
            dead,
            notify=self._gateway.notify,
            db_executor=self._db,
            settings=self._orch_settings,
        )
        self._metrics = DashboardMetrics(self)
        self._orchestrator.set_batch_observer(self._metrics.observe_batch)
        self._gateway.set_sync_source(self._orchestrator.sync_agent)
        self._gateway.set_on_inbox(self._orchestrator.wake)
        await self._orchestrator.start()
        await self._gateway.start()
        self.recovery_seconds = time.monotonic() - started
        server = grpc.aio.server(
            options=[
                *server_options(self._link_settings),
                ("grpc.max_receive_message_length", cfg.max_message_bytes),
            ],
            interceptors=self._interceptors or None,
        )
        agent_pb2_grpc.add_AgentGatewayServicer_to_server(  # type: ignore[no-untyped-call]
            AgentGatewayService(self._gateway.link), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        for register in self._registrars:
            register(server, self)
        if cfg.tls_enabled:  # mutual TLS when a client CA is configured
            self.port = server.add_secure_port(
                cfg.listen,
                server_credentials(
                    cfg.tls_cert_file, cfg.tls_key_file, cfg.tls_client_ca_file or None
                ),
            )
        else:
            self.port = server.add_insecure_port(cfg.listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {cfg.listen}")
        await server.start()
        self._server = server
        if self._metrics_listen is not None:
            self._metrics_server = MetricsServer(self._metrics.registry, self._metrics_listen)
            await self._metrics_server.start()
        for hook in self._on_started:
            await hook(self)
        await self._health.set("", health_pb2.HealthCheckResponse.SERVING)
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

    async def stop(self, grace: float = 2.0) -> None:
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
        gc.unfreeze()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()


def _dashboard_id(data: Path) -> str:
    """Stable across restarts of the same data dir (agents notice a lost dashboard)."""
    path = data / "dashboard-id"
    if path.exists():
        return path.read_text().strip()
    value = uuid.uuid4().hex
    path.write_text(value)
    return value
