"""Reflection lists every service the wired dashboard serves: the ones recorded as they are
put on the gRPC server (link, health, operator services, TokenService, reflection itself)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ikasched_common.auth import bearer_metadata
from ikasched_common.config import DashboardConfig
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.services.tokens import bootstrap_admin_token


def recording_servers(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every service name put on any grpc.aio server built from now on."""
    added: set[str] = set()
    build = grpc.aio.server

    def server(*args: Any, **kwargs: Any) -> grpc.aio.Server:
        built = build(*args, **kwargs)
        add = built.add_generic_rpc_handlers

        def record(handlers: Iterable[grpc.GenericRpcHandler[Any, Any]]) -> None:
            handlers = list(handlers)
            for handler in handlers:
                added.add(handler.service_name())  # type: ignore[attr-defined]
            add(handlers)

        built.add_generic_rpc_handlers = record  # type: ignore[method-assign,assignment]
        return built

    monkeypatch.setattr(grpc.aio, "server", server)
    return added


async def listed_services(target: str, token: str) -> set[str]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(metadata=bearer_metadata(token), timeout=10)
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        reply = await call.read()
        await call.done_writing()
        return {s.name for s in reply.list_services_response.service}


async def test_reflection_lists_every_served_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = recording_servers(monkeypatch)
    app = Dashboard(DashboardConfig(data_dir=tmp_path / "dash", listen="127.0.0.1:0"))
    await app.start()
    try:
        bootstrap_admin_token(app.engine, tmp_path / "admin.token")
        token = (tmp_path / "admin.token").read_text().strip()
        listed = await listed_services(f"127.0.0.1:{app.port}", token)
    finally:
        await app.stop()
    assert {"ikasched.v1.TokenService", "ikasched.v1.AgentGateway"} <= served
    assert listed == served
    assert set(app.service_names) <= listed
