"""Run the dashboard process for `ikasched dashboard` (and `ikasched up`'s child).

The full process (services, lifecycle, security) comes from `ikasched_dashboard.app.
build_dashboard` when that module exists; until then `_wired_process` assembles the same parts
from what is there: the operator services and lifecycle (ProcessWiring), TokenService and the
token interceptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ikasched_common.config import DashboardConfig
    from ikasched_dashboard.server import DashboardProcess

log = logging.getLogger("ikasched.dashboard")

Closer = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


def build_process(config: DashboardConfig) -> tuple[DashboardProcess, Closer]:
    try:
        from ikasched_dashboard import app  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return _wired_process(config)
    process: DashboardProcess = app.build_dashboard(config)
    return process, _nothing


def _wired_process(config: DashboardConfig) -> tuple[DashboardProcess, Closer]:
    import grpc

    from ikasched.v1 import admin_service_pb2_grpc, agent_pb2
    from ikasched_dashboard.security import (
        AuthInterceptor,
        Authenticator,
        check_agent_hello,
        current_actor,
        current_principal,
    )
    from ikasched_dashboard.server import DashboardProcess
    from ikasched_dashboard.services.register import ProcessWiring
    from ikasched_dashboard.services.tokens import TokenServicer
    from ikasched_dashboard.store import db

    # The interceptor exists before the process: it gets its own engine on the same database.
    url = config.effective_database_url
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    db.upgrade(url)
    auth_engine = db.create_engine_for(url)
    auth = Authenticator(auth_engine)
    wiring = ProcessWiring(actor=current_actor)

    def tokens(server: grpc.aio.Server, process: DashboardProcess) -> None:
        admin_service_pb2_grpc.add_TokenServiceServicer_to_server(  # type: ignore[no-untyped-call]
            TokenServicer(process.engine, auth), server)

    def hello_check(hello: agent_pb2.AgentHello, _metadata: Any) -> None:
        check_agent_hello(current_principal(), hello)

    process = DashboardProcess(
        config, registrars=[wiring.registrar, tokens], on_started=[wiring.on_started],
        hello_check=hello_check,
        interceptors=[AuthInterceptor(auth, reflection_open=config.reflection_open)])

    async def close() -> None:
        await wiring.close()
        auth_engine.dispose()

    return process, close


def write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


async def serve(config: DashboardConfig, *, port_file: Path | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Start, run until SIGTERM/SIGINT (or `stop`), then stop gracefully."""
    process, close = await asyncio.to_thread(build_process, config)
    await process.start()
    if port_file is not None:
        write_port_file(port_file, process.port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("dashboard serving on port %d", process.port)
    await stop.wait()
    await close()
    await process.stop()
