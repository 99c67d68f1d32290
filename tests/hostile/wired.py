"""A fully wired in-process dashboard (security, lifecycle, services, RequestGuard) on
127.0.0.1 over real SQLite, with an admin token, for the hostile-input tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from ikasched.v1 import (
    admin_service_pb2_grpc,
    instance_service_pb2_grpc,
    job_service_pb2_grpc,
    plan_service_pb2_grpc,
)
from ikasched_common.auth import bearer_metadata
from ikasched_common.config import DashboardConfig
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.services.tokens import bootstrap_admin_token


@dataclass
class Wired:
    app: Dashboard
    channel: grpc.aio.Channel
    metadata: tuple[tuple[str, str], ...]

    def stub(self, factory: Any) -> Any:
        return factory(self.channel)

    @property
    def plans(self) -> Any:
        return plan_service_pb2_grpc.PlanServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def instances(self) -> Any:
        return instance_service_pb2_grpc.InstanceServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def jobs(self) -> Any:
        return job_service_pb2_grpc.JobServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def tokens(self) -> Any:
        return admin_service_pb2_grpc.TokenServiceStub(self.channel)  # type: ignore[no-untyped-call]


@contextlib.asynccontextmanager
async def wired(data: Path, **config: Any) -> AsyncIterator[Wired]:
    app = Dashboard(DashboardConfig(data_dir=data / "dash", listen="127.0.0.1:0", **config))
    await app.start()
    bootstrap_admin_token(app.engine, data / "admin.token")
    token = (data / "admin.token").read_text().strip()
    channel = grpc.aio.insecure_channel(
        f"127.0.0.1:{app.port}",
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    try:
        yield Wired(app, channel, tuple(bearer_metadata(token)))
    finally:
        await channel.close(None)
        await app.stop()


async def code_of(call: Any, request: Any, metadata: Any) -> tuple[grpc.StatusCode, str]:
    """The status an RPC ends with, and its detail."""
    try:
        await call(request, metadata=metadata, timeout=30)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""
