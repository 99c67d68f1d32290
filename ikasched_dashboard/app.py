"""The whole dashboard: core process + security + lifecycle + operator services.

`build_dashboard(config)` is what `ikasched dashboard` and `ikasched up` run. It wires:
- the core `DashboardProcess` (store, journals, gateway, orchestrator, gRPC server);
- security: the token interceptor on every RPC (health always open, reflection by setting),
  the TokenService, agent tokens bound to the agent name in the link hello, and the refusal of a
  non-loopback listen address without TLS unless `insecure` is set;
- the lifecycle (time windows, TTL ends, restart rules) and the operator services;
- job logs streamed from the agents over the link's lane (logstream), agent load in presence;
- secret parameters sealed at rest with the config's key (or a generated 0600 key file) and
  opened only in what the link sends to agents (sealing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from ikasched.v1 import admin_service_pb2, admin_service_pb2_grpc, agent_pb2
from ikasched_common.clock import Clock
from ikasched_common.config import DashboardConfig
from ikasched_common.secrets import SecretBox
from ikasched_common.tls import check_listen_address
from ikasched_dashboard.logstream import GatewayLogFetcher
from ikasched_dashboard.sealing import SecretOpeningOutbox
from ikasched_dashboard.security import (
    Authenticator,
    AuthInterceptor,
    check_agent_hello,
    current_actor,
    current_principal,
)
from ikasched_dashboard.server import DashboardProcess
from ikasched_dashboard.services.context import LogFetcher
from ikasched_dashboard.services.register import ProcessWiring
from ikasched_dashboard.services.tokens import TokenServicer
from ikasched_dashboard.store import db

log = logging.getLogger(__name__)

TOKEN_SERVICE = admin_service_pb2.DESCRIPTOR.services_by_name["TokenService"].full_name


class DashboardApp:
    """A dashboard with every part wired; `start()`, `stop()`, `port`, and the parts."""

    def __init__(
        self,
        config: DashboardConfig,
        *,
        clock: Clock | None = None,
        log_fetcher: LogFetcher | None = None,
        **process_options: Any,
    ) -> None:
        config.validate()
        check_listen_address(config.listen, config.tls_enabled, config.insecure)
        self.config = config
        # Tokens are read through their own engine: the core's DB thread stays on the hot path.
        self._auth_engine = db.create_engine_for(config.effective_database_url)
        self.authenticator = Authenticator(self._auth_engine)
        # secret parameter values are sealed with this key at rest, opened for the agents only
        Path(config.data_dir).mkdir(parents=True, exist_ok=True)
        self.secret_box = SecretBox.from_config(config.secret_key, config.effective_secret_key_file)
        # the gateway (and its lane router) exists only once the process started
        self.log_fetcher = log_fetcher or GatewayLogFetcher(lambda: self.process.gateway.lanes)
        self.wiring = ProcessWiring(
            clock=clock,
            log_fetcher=self.log_fetcher,
            actor=lambda: current_actor("anonymous"),
            secret_box=self.secret_box,
        )
        self.process = DashboardProcess(
            config,
            registrars=[
                self._open_secrets_for_agents,
                self.wiring.registrar,
                self._register_tokens,
            ],
            on_started=[self.wiring.on_started],
            hello_check=_hello_check,
            interceptors=[
                AuthInterceptor(self.authenticator, reflection_open=config.reflection_open)
            ],
            metrics_listen=config.metrics_listen or None,
            **process_options,
        )
        self._flusher: asyncio.Task[None] | None = None

    def _open_secrets_for_agents(self, _server: grpc.aio.Server, process: DashboardProcess) -> None:
        box = self.secret_box
        process.gateway.set_link_outbox(lambda outbox: SecretOpeningOutbox(outbox, box))

    def _register_tokens(self, server: grpc.aio.Server, process: DashboardProcess) -> None:
        admin_service_pb2_grpc.add_TokenServiceServicer_to_server(  # type: ignore[no-untyped-call]
            TokenServicer(self._auth_engine, self.authenticator), server
        )

    @property
    def port(self) -> int:
        return self.process.port

    async def start(self) -> None:
        await self.process.start()
        self._flusher = asyncio.create_task(self.authenticator.run_flusher())

    async def stop(self, grace: float = 2.0) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self.wiring.close()
        await self.process.stop(grace)
        self._auth_engine.dispose()

    async def wait(self) -> None:
        await self.process.wait()


def _hello_check(hello: agent_pb2.AgentHello, _metadata: Mapping[str, str]) -> None:
    check_agent_hello(current_principal(), hello)


def build_dashboard(config: DashboardConfig, **options: Any) -> DashboardApp:
    """The dashboard `ikasched dashboard` runs."""
    return DashboardApp(config, **options)
