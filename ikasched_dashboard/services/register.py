"""Put every operator service on a grpc.aio server, with standard health and reflection.

`register_services` is synchronous, so it fits DashboardProcess's `registrars`; pass the
process's own health servicer (`health=`) instead of letting it add a second one, and
`await registered.set_serving(True)` once the process is up (e.g. from an `on_started` hook).
TokenService (security) and AgentGateway (the link) are registered by their owners; name them
in `extra_service_names` so reflection and health list them too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_common.clock import Clock
from ikasched_common.secrets import SecretBox
from ikasched_dashboard.lifecycle import Lifecycle
from ikasched_dashboard.services.admin import AgentServicer, GlobalEventServicer, QueueServicer
from ikasched_dashboard.services.context import CommitSignal, LogFetcher, ServiceContext
from ikasched_dashboard.services.instances import InstanceServicer
from ikasched_dashboard.services.jobs import JobServicer
from ikasched_dashboard.services.plans import PlanServicer

if TYPE_CHECKING:
    from ikasched_dashboard.server import DashboardProcess


def _full_name(module: Any, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)


OPERATOR_SERVICES: tuple[str, ...] = (
    _full_name(plan_service_pb2, "PlanService"),
    _full_name(instance_service_pb2, "InstanceService"),
    _full_name(job_service_pb2, "JobService"),
    _full_name(admin_service_pb2, "GlobalEventService"),
    _full_name(admin_service_pb2, "QueueService"),
    _full_name(admin_service_pb2, "AgentService"),
)


@dataclass(frozen=True, slots=True)
class RegisteredServices:
    """What was put on the server; `health` lets the process report NOT_SERVING on shutdown."""

    plans: PlanServicer
    instances: InstanceServicer
    jobs: JobServicer
    health: HealthServicer
    service_names: tuple[str, ...]

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, status)


def register_services(
    server: grpc.aio.Server,
    ctx: ServiceContext,
    *,
    health: HealthServicer | None = None,
    extra_service_names: Sequence[str] = (),
) -> RegisteredServices:
    """Add the operator services, reflection, and a health servicer unless one is given."""
    plans, instances, jobs = PlanServicer(ctx), InstanceServicer(ctx), JobServicer(ctx)
    adders: list[tuple[Any, object]] = [
        (plan_service_pb2_grpc.add_PlanServiceServicer_to_server, plans),
        (instance_service_pb2_grpc.add_InstanceServiceServicer_to_server, instances),
        (job_service_pb2_grpc.add_JobServiceServicer_to_server, jobs),
        (admin_service_pb2_grpc.add_GlobalEventServiceServicer_to_server, GlobalEventServicer(ctx)),
        (admin_service_pb2_grpc.add_QueueServiceServicer_to_server, QueueServicer(ctx)),
        (admin_service_pb2_grpc.add_AgentServiceServicer_to_server, AgentServicer(ctx)),
    ]
    for add, servicer in adders:  # generated adders are untyped
        add(servicer, server)
    if health is None:
        health = HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = (*OPERATOR_SERVICES, *extra_service_names)
    reflection.enable_server_reflection(
        (*names, grpc_health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    return RegisteredServices(plans, instances, jobs, health, names)


class ProcessWiring:
    """The lifecycle and the operator services inside a DashboardProcess.

    `DashboardProcess(config, registrars=[w.registrar], on_started=[w.on_started])`: the
    registrar builds the Lifecycle and the services over the process's store, orchestrator,
    inbox and dead letters; the hook runs lifecycle recovery (reference §5.3), starts its timers
    and reports every service SERVING. `close()` stops the timers (call it before
    `process.stop()`).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        log_fetcher: LogFetcher | None = None,
        actor: Callable[[], str] | None = None,
        secret_box: SecretBox | None = None,
    ) -> None:
        self._clock = clock
        self._secret_box = secret_box
        self._log_fetcher = log_fetcher
        self._actor = actor
        self.lifecycle: Lifecycle | None = None
        self.registered: RegisteredServices | None = None
        self.context: ServiceContext | None = None

    def registrar(self, server: grpc.aio.Server, process: DashboardProcess) -> None:
        lifecycle = Lifecycle(process.engine, process.orchestrator, clock=self._clock)
        extra: dict[str, Any] = {}
        if self._clock is not None:
            extra["clock"] = self._clock
        if self._actor is not None:
            extra["actor"] = self._actor
        lanes = getattr(getattr(process, "gateway", None), "lanes", None)
        if lanes is not None:
            extra["agent_load"] = lanes.load
        signal = CommitSignal()
        process.orchestrator.add_commit_listener(signal.notify)
        ctx = ServiceContext(
            engine=process.engine,
            orchestration=process.orchestrator,
            lifecycle=lifecycle,
            inbox=process.inbox,
            dead_letters=process.orchestrator.dead_letters,
            log_fetcher=self._log_fetcher,
            secret_box=self._secret_box,
            commit_signal=signal,
            **extra,
        )
        self.lifecycle, self.context = lifecycle, ctx
        self.registered = register_services(server, ctx, health=getattr(process, "health", None))

    async def on_started(self, process: DashboardProcess) -> None:
        assert self.lifecycle is not None and self.registered is not None, "registrar not run"
        await self.lifecycle.start()
        await self.registered.set_serving(True)

    async def close(self) -> None:
        if self.registered is not None:
            await self.registered.set_serving(False)
        if self.lifecycle is not None:
            await self.lifecycle.close()
