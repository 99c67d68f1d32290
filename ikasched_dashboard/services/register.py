"""Put the operator services on a grpc.aio server.

`add_operator_services` adds the operator services and says what it added; the dashboard's
composition root (`ikasched_dashboard.app`) calls it next to the link and the TokenService and
lists every name it served in health and reflection (`enable_reflection`, `set_serving`).
`register_services` is the same for a standalone server (tests): the operator services with
their own health servicer and reflection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    calendar_service_pb2,
    calendar_service_pb2_grpc,
    history_service_pb2,
    history_service_pb2_grpc,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    migration_service_pb2,
    migration_service_pb2_grpc,
    notification_service_pb2,
    notification_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_common.link import LinkSettings
from ikasched_common.link.grpc_transport import server_options
from ikasched_dashboard.services.admin import AgentServicer, GlobalEventServicer, QueueServicer
from ikasched_dashboard.services.calendars import CalendarServicer
from ikasched_dashboard.services.context import ServiceContext
from ikasched_dashboard.services.history import HistoryServicer
from ikasched_dashboard.services.instances import InstanceServicer
from ikasched_dashboard.services.jobs import JobServicer
from ikasched_dashboard.services.migration import MigrationServicer
from ikasched_dashboard.services.notifications import NotificationServicer
from ikasched_dashboard.services.plans import PlanServicer

_SIZE_OPTIONS = ("grpc.max_receive_message_length", "grpc.max_send_message_length")


def operator_server_options(link: LinkSettings, max_message_bytes: int) -> list[tuple[str, Any]]:
    """The server's options: the link's, with both message-size limits set to the larger of
    the link's frame limit and `max_message_bytes` (the dashboard's --max-message-bytes),
    so the setting governs every operator RPC in both directions (the link keeps its own
    frame limit in its session); the link's size options are replaced, never repeated."""
    kept = [(key, value) for key, value in server_options(link) if key not in _SIZE_OPTIONS]
    link_limit = max(
        (int(value) for key, value in server_options(link) if key in _SIZE_OPTIONS), default=0
    )
    limit = max(link_limit, max_message_bytes)
    return [*kept, *((key, limit) for key in _SIZE_OPTIONS)]


def _full_name(module: Any, service: str) -> str:
    return str(module.DESCRIPTOR.services_by_name[service].full_name)


OPERATOR_SERVICES: tuple[str, ...] = (
    _full_name(plan_service_pb2, "PlanService"),
    _full_name(instance_service_pb2, "InstanceService"),
    _full_name(job_service_pb2, "JobService"),
    _full_name(admin_service_pb2, "GlobalEventService"),
    _full_name(admin_service_pb2, "QueueService"),
    _full_name(admin_service_pb2, "AgentService"),
    _full_name(calendar_service_pb2, "CalendarService"),
    _full_name(migration_service_pb2, "MigrationService"),
    _full_name(history_service_pb2, "HistoryService"),
    _full_name(notification_service_pb2, "NotificationService"),
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
        await set_serving(self.health, self.service_names, serving)


async def set_serving(health: HealthServicer, service_names: Sequence[str], serving: bool) -> None:
    """Report the server ("") and every named service SERVING or NOT_SERVING."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", *service_names):
        await health.set(name, status)


@dataclass(frozen=True, slots=True)
class OperatorServices:
    """The operator servicers put on a server, and their full service names."""

    plans: PlanServicer
    instances: InstanceServicer
    jobs: JobServicer
    service_names: tuple[str, ...] = OPERATOR_SERVICES


def add_operator_services(server: grpc.aio.Server, ctx: ServiceContext) -> OperatorServices:
    """Add the operator services (no health, no reflection: the caller lists them)."""
    plans, instances, jobs = PlanServicer(ctx), InstanceServicer(ctx), JobServicer(ctx)
    adders: list[tuple[Any, object]] = [
        (plan_service_pb2_grpc.add_PlanServiceServicer_to_server, plans),
        (instance_service_pb2_grpc.add_InstanceServiceServicer_to_server, instances),
        (job_service_pb2_grpc.add_JobServiceServicer_to_server, jobs),
        (admin_service_pb2_grpc.add_GlobalEventServiceServicer_to_server, GlobalEventServicer(ctx)),
        (admin_service_pb2_grpc.add_QueueServiceServicer_to_server, QueueServicer(ctx)),
        (admin_service_pb2_grpc.add_AgentServiceServicer_to_server, AgentServicer(ctx)),
        (calendar_service_pb2_grpc.add_CalendarServiceServicer_to_server, CalendarServicer(ctx)),
        (
            migration_service_pb2_grpc.add_MigrationServiceServicer_to_server,
            MigrationServicer(ctx, plans),
        ),
        (history_service_pb2_grpc.add_HistoryServiceServicer_to_server, HistoryServicer(ctx)),
        (
            notification_service_pb2_grpc.add_NotificationServiceServicer_to_server,
            NotificationServicer(ctx),
        ),
    ]
    for add, servicer in adders:  # generated adders are untyped
        add(servicer, server)
    return OperatorServices(plans, instances, jobs)


def enable_reflection(server: grpc.aio.Server, service_names: Sequence[str]) -> None:
    """Reflection lists `service_names`, health and itself."""
    reflection.enable_server_reflection(
        (*service_names, grpc_health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )


def register_services(server: grpc.aio.Server, ctx: ServiceContext) -> RegisteredServices:
    """A standalone server: the operator services, their own health servicer, reflection."""
    added = add_operator_services(server, ctx)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    enable_reflection(server, added.service_names)
    return RegisteredServices(added.plans, added.instances, added.jobs, health, added.service_names)
