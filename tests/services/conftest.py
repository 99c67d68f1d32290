"""Service fixtures: a real grpc.aio server on 127.0.0.1 with the operator services over a real
SQLite store (copied from one migrated template), the fake orchestrator on the real engine, the
real lifecycle with manual timers, in-memory journals and a fake log fetcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from sqlalchemy import Engine

from ikasched.v1 import (
    admin_service_pb2_grpc,
    agent_pb2,
    instance_service_pb2_grpc,
    job_service_pb2_grpc,
    plan_service_pb2_grpc,
)
from ikasched_common.clock import ManualClock
from ikasched_common.journal import DeadLetterJournal, MemoryJournal
from ikasched_dashboard.lifecycle import Lifecycle
from ikasched_dashboard.services.context import LogRequest, ServiceContext
from ikasched_dashboard.services.register import RegisteredServices, register_services
from tests.lifecycle.fakes import FakeOrchestration, ManualTimers


@dataclass
class FakeLogs:
    """Log chunks by initiation id; records each request."""

    logs: dict[str, bytes] = field(default_factory=dict)
    requests: list[LogRequest] = field(default_factory=list)

    async def fetch(self, request: LogRequest) -> AsyncIterator[agent_pb2.LogChunk]:
        self.requests.append(request)
        data = self.logs.get(request.initiation_id)
        if data is None:
            yield agent_pb2.LogChunk(eof=True, error="no such execution")
            return
        data = data[request.offset :]
        if request.max_bytes:
            data = data[: request.max_bytes]
        for start in range(0, len(data), 4):
            yield agent_pb2.LogChunk(offset=request.offset + start, data=data[start : start + 4])
        yield agent_pb2.LogChunk(offset=request.offset + len(data), eof=True)


@dataclass
class Dashboard:
    engine: Engine
    clock: ManualClock
    orch: FakeOrchestration
    timers: ManualTimers
    lifecycle: Lifecycle
    ctx: ServiceContext
    registered: RegisteredServices
    channel: grpc.aio.Channel
    logs: FakeLogs
    plans: plan_service_pb2_grpc.PlanServiceStub
    instances: instance_service_pb2_grpc.InstanceServiceStub
    jobs: job_service_pb2_grpc.JobServiceStub
    events: admin_service_pb2_grpc.GlobalEventServiceStub
    queues: admin_service_pb2_grpc.QueueServiceStub
    agents: admin_service_pb2_grpc.AgentServiceStub


@asynccontextmanager
async def running(
    engine: Engine, *, actor: str = "alice", **overrides: Any
) -> AsyncIterator[Dashboard]:
    clock = ManualClock(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    orch = FakeOrchestration(engine, clock)
    timers = ManualTimers(clock)
    lifecycle = Lifecycle(engine, orch, clock=clock, timers=timers)
    timers.on_misfire = lifecycle.on_misfire
    await lifecycle.start()
    logs = FakeLogs()
    ctx = ServiceContext(
        engine=engine,
        orchestration=orch,
        lifecycle=lifecycle,
        clock=clock,
        actor=lambda: actor,
        inbox=MemoryJournal(),
        dead_letters=DeadLetterJournal(MemoryJournal()),
        log_fetcher=logs,
        watch_poll_seconds=0.01,
        **overrides,
    )
    server = grpc.aio.server()
    registered = register_services(server, ctx)
    await registered.set_serving(True)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Dashboard(
            engine,
            clock,
            orch,
            timers,
            lifecycle,
            ctx,
            registered,
            channel,
            logs,
            plan_service_pb2_grpc.PlanServiceStub(channel),  # type: ignore[no-untyped-call]
            instance_service_pb2_grpc.InstanceServiceStub(channel),  # type: ignore[no-untyped-call]
            job_service_pb2_grpc.JobServiceStub(channel),  # type: ignore[no-untyped-call]
            admin_service_pb2_grpc.GlobalEventServiceStub(channel),  # type: ignore[no-untyped-call]
            admin_service_pb2_grpc.QueueServiceStub(channel),  # type: ignore[no-untyped-call]
            admin_service_pb2_grpc.AgentServiceStub(channel),  # type: ignore[no-untyped-call]
        )
    finally:
        await channel.close(None)
        await server.stop(None)
