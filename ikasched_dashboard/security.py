"""Authentication and authorization of every RPC the dashboard serves.

`AuthInterceptor` (interceptor.py, a grpc.aio server interceptor) reads "authorization:
Bearer <token>", authenticates it through `Authenticator` (a short-TTL cache over the tokens
table), checks the method's minimum role in `METHOD_ROLES`, and runs the handler with the
`Principal` in a
contextvar (`current_principal()`, `current_actor()`). What the interceptor cannot see, the
services check with it: `require_plan_access` for the plan a request touches, and
`check_agent_hello` for the agent name in AgentGateway.Connect's first frame. A
`PermissionDenied` raised by a handler ends its RPC with PERMISSION_DENIED.

Health (grpc.health.v1) is always open; reflection is open only when configured, else it
needs a viewer token. A method missing from the table is refused to every token.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from sqlalchemy import Engine

from ikasched.v1 import (
    admin_service_pb2,
    agent_pb2,
    calendar_service_pb2,
    history_service_pb2,
    instance_service_pb2,
    job_service_pb2,
    migration_service_pb2,
    notification_service_pb2,
    plan_service_pb2,
)
from ikasched_common import clock as clocks
from ikasched_common.auth import Principal, Role, secret_matches, token_id_of
from ikasched_common.errors import PermissionDenied, TokenFormatError, Unauthenticated
from ikasched_dashboard.store import tokens as token_store
from ikasched_dashboard.store.db import read_transaction, write_transaction

log = logging.getLogger(__name__)

# grpc-stubs makes this generic; the runtime class is not subscriptable.
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler

# Revocation and expiry take effect within this many seconds in other processes (and at once
# in this one: revoking through TokenService drops the cached entry).
DEFAULT_CACHE_TTL = 2.0
DEFAULT_FLUSH_INTERVAL = 10.0
# Open streams (agent links, watches, log follows) re-check their token this often, and at once
# when it is revoked here: revocation and expiry end them within this plus the cache TTL.
DEFAULT_STREAM_CHECK_INTERVAL = 1.0
_MAX_CACHED = 10_000

HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIX = "/grpc.reflection."

# Every service of protos/, for the method table.
SERVICE_FILES = (
    admin_service_pb2,
    agent_pb2,
    calendar_service_pb2,
    history_service_pb2,
    notification_service_pb2,
    instance_service_pb2,
    job_service_pb2,
    migration_service_pb2,
    plan_service_pb2,
)

_V1 = "ikasched.v1."

# Methods that only read (viewer and up), by "Service/Method".
READ_METHODS: frozenset[str] = frozenset(
    {
        "PlanService/ValidatePlan",
        "PlanService/GetPlan",
        "PlanService/ListPlans",
        "PlanService/ExportPlan",
        "PlanService/GetNextFireTimes",
        "InstanceService/ListInstances",
        "InstanceService/GetInstance",
        "InstanceService/WatchInstances",
        "InstanceService/GetEventsThatCanRun",
        "InstanceService/ListMissedRuns",
        "InstanceService/ListAudit",
        "JobService/GetJobLogs",
        "JobService/ListJobs",
        "AgentService/ListAgents",
        "AgentService/GetAgent",
        "CalendarService/GetCalendar",
        "CalendarService/ListCalendars",
        "CalendarService/GetCalendarDates",
        "MigrationService/ExportIkasanPlan",
        "HistoryService/ListJobRuns",
        "HistoryService/GetJobStats",
        "NotificationService/ListNotificationRules",
        "NotificationService/ListNotifications",
    }
)

# Every other method with the role it needs.
PRIVILEGED_METHODS: Mapping[str, Role] = {
    "AgentGateway/Connect": Role.AGENT,
    "PlanService/ProvisionPlan": Role.ADMIN,
    "AgentService/SetAgentDryRunMode": Role.ADMIN,
    "PlanService/DeletePlan": Role.ADMIN,
    "PlanService/EnablePlan": Role.ADMIN,
    "PlanService/DisablePlan": Role.ADMIN,
    # a plan-limited admin may import only its plans (checked per converted plan)
    "MigrationService/ImportIkasanPlans": Role.ADMIN,
    "InstanceService/CreateInstance": Role.OPERATOR,
    "InstanceService/EndInstance": Role.OPERATOR,
    "InstanceService/ResetInstance": Role.OPERATOR,
    "InstanceService/RunUntilManuallyEnded": Role.OPERATOR,
    "InstanceService/UpdateContextParameters": Role.OPERATOR,
    "InstanceService/SetDryRun": Role.OPERATOR,
    "JobService/HoldJob": Role.OPERATOR,
    "JobService/ReleaseJob": Role.OPERATOR,
    "JobService/SkipJob": Role.OPERATOR,
    "JobService/UnskipJob": Role.OPERATOR,
    "JobService/ResetJob": Role.OPERATOR,
    "JobService/AcknowledgeError": Role.OPERATOR,
    "JobService/ResubmitJob": Role.OPERATOR,
    "JobService/KillJob": Role.OPERATOR,
    "JobService/RunJob": Role.OPERATOR,
    "JobService/HoldAllJobs": Role.OPERATOR,
    "JobService/ReleaseAllJobs": Role.OPERATOR,
    "JobService/SkipAllJobs": Role.OPERATOR,
    "JobService/DisableCronJobs": Role.OPERATOR,
    "JobService/EnableCronJobs": Role.OPERATOR,
    "JobService/ReleaseQueuedJobs": Role.OPERATOR,
    "JobService/KillRunningJobs": Role.OPERATOR,
    "GlobalEventService/RaiseGlobalEvent": Role.OPERATOR,
    # Queue payloads span every plan, so even reading them is an admin's business.
    "QueueService/ListQueues": Role.ADMIN,
    "QueueService/PeekQueue": Role.ADMIN,
    "QueueService/ResubmitMessage": Role.ADMIN,
    "QueueService/DeleteMessage": Role.ADMIN,
    "QueueService/DeleteAllMessages": Role.ADMIN,
    "TokenService/CreateToken": Role.ADMIN,
    "TokenService/ListTokens": Role.ADMIN,
    "TokenService/RevokeToken": Role.ADMIN,
    "CalendarService/ApplyCalendar": Role.ADMIN,
    "CalendarService/DeleteCalendar": Role.ADMIN,
    "HistoryService/PurgeHistory": Role.ADMIN,
    "NotificationService/ApplyNotificationRule": Role.ADMIN,
    "NotificationService/DeleteNotificationRule": Role.ADMIN,
    "NotificationService/TestNotificationRule": Role.ADMIN,
}

# Methods no plan-limited token may call: they act across plans (a plan-limited admin must
# not mint itself an unlimited token).
GLOBAL_SERVICES: frozenset[str] = frozenset(
    {"QueueService", "TokenService", "CalendarService", "NotificationService"}
)


def rpc_path(short: str) -> str:
    """ "Service/Method" -> the gRPC method path "/ikasched.v1.Service/Method"."""
    return f"/{_V1}{short}"


def descriptor_methods() -> list[str]:
    """The path of every method of every ikasched service, from the generated descriptors."""
    paths = []
    for module in SERVICE_FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                paths.append(f"/{service.full_name}/{method.name}")
    return sorted(paths)


def _build_table() -> dict[str, Role]:
    table = {rpc_path(m): Role.VIEWER for m in READ_METHODS}
    table.update({rpc_path(m): role for m, role in PRIVILEGED_METHODS.items()})
    return table


# Method path -> minimum role. `unclassified_methods()` lists descriptor methods missing here.
METHOD_ROLES: Mapping[str, Role] = _build_table()


def unclassified_methods() -> list[str]:
    return [m for m in descriptor_methods() if m not in METHOD_ROLES]


def required_role(method: str) -> Role | None:
    """Minimum role for a method path; None = unknown (refused to everyone)."""
    if method.startswith(REFLECTION_PREFIX):
        return Role.VIEWER
    return METHOD_ROLES.get(method)


# ---------------------------------------------------------------------------------------------
# The principal of the running RPC


PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "ikasched_principal", default=None
)
SYSTEM_ACTOR = "system"


def current_principal() -> Principal | None:
    """The authenticated caller of the RPC being handled (None outside an RPC)."""
    return PRINCIPAL.get()


def current_actor(default: str = SYSTEM_ACTOR) -> str:
    """The subject to record as the actor of a verb; `default` outside an RPC."""
    principal = PRINCIPAL.get()
    return principal.subject if principal is not None else default


def require_plan_access(principal: Principal | None, plan_name: str) -> None:
    """Raise PermissionDenied unless `principal` may touch `plan_name`.

    Services call it with the plan a request touches. None is the dashboard itself (no RPC:
    timers, recovery), which may touch every plan; every RPC has a principal.
    """
    if principal is None or principal.may_touch_plan(plan_name):
        return
    raise PermissionDenied(
        f"token {principal.token_id} ({principal.subject}) may not touch plan {plan_name!r}"
    )


def visible_plans(principal: Principal | None) -> frozenset[str] | None:
    """For list filters: the plans a caller may see, None = all."""
    if principal is None or not principal.plan_names:
        return None
    return principal.plan_names


def check_agent_hello(principal: Principal | None, hello: agent_pb2.AgentHello) -> None:
    """Raise PermissionDenied unless `principal` is the agent token of `hello.agent_name`.

    AgentGateway.Connect calls it on the first frame (the interceptor sees only metadata).
    """
    if principal is None or principal.role is not Role.AGENT:
        raise PermissionDenied("opening an agent link needs an AGENT token")
    if principal.agent_name != hello.agent_name:
        raise PermissionDenied(
            f"agent token {principal.token_id} is bound to agent {principal.agent_name!r}, "
            f"not {hello.agent_name!r}"
        )


# ---------------------------------------------------------------------------------------------
# Authentication


@dataclass(frozen=True, slots=True)
class _Cached:
    record: token_store.TokenRecord | None
    principal: Principal | None
    fetched_at: float


def principal_of(record: token_store.TokenRecord) -> Principal:
    return Principal(
        token_id=record.id,
        subject=record.subject,
        role=Role(record.role),
        plan_names=frozenset(record.plan_names),
        agent_name=record.agent_name,
    )


class Authenticator:
    """Checks bearer tokens against the tokens table through a short-TTL cache.

    Unknown ids are cached too (so a stream of bad tokens does not reach the database);
    last-used times are gathered in memory and written in batches by `flush()`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = clocks.now_ms,
    ) -> None:
        self._engine = engine
        self._ttl = cache_ttl
        self._clock = clock
        self._now_ms = now_ms
        self._cache: dict[str, _Cached] = {}
        self._last_used: dict[str, int] = {}
        # token id -> wake-ups of the open streams authenticated with it (StreamGuard)
        self._streams: dict[str, set[Callable[[], None]]] = {}
        self.lookups = 0

    async def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise Unauthenticated('missing "authorization: Bearer <token>" metadata')
        try:
            token_id = token_id_of(secret)
        except TokenFormatError as exc:
            raise Unauthenticated("invalid token") from exc
        cached = self._cache.get(token_id)
        if cached is None or self._clock() - cached.fetched_at >= self._ttl:
            cached = await asyncio.to_thread(self._load, token_id)
        record = cached.record
        if (
            record is None
            or cached.principal is None
            or not secret_matches(secret, record.secret_hash)
        ):
            raise Unauthenticated("invalid token")
        now = self._now_ms()
        if record.revoked_time:
            raise Unauthenticated(f"token {token_id} is revoked")
        if record.expires_time and now >= record.expires_time:
            raise Unauthenticated(f"token {token_id} has expired")
        self._last_used[token_id] = now
        return cached.principal

    async def revalidate(self, principal: Principal) -> None:
        """Raise Unauthenticated if `principal`'s token was revoked or expired since.

        For long-lived streams (agent links, watches), which are authenticated once at the
        start: call it now and then (e.g. per heartbeat); it costs a lookup per cache TTL.
        """
        cached = self._cache.get(principal.token_id)
        if cached is None or self._clock() - cached.fetched_at >= self._ttl:
            cached = await asyncio.to_thread(self._load, principal.token_id)
        record = cached.record
        if record is None or record.revoked_time:
            raise Unauthenticated(f"token {principal.token_id} is revoked")
        if record.expires_time and self._now_ms() >= record.expires_time:
            raise Unauthenticated(f"token {principal.token_id} has expired")

    def _load(self, token_id: str) -> _Cached:
        self.lookups += 1
        with read_transaction(self._engine) as conn:
            record = token_store.get_token(conn, token_id)
        try:
            principal = None if record is None else principal_of(record)
        except ValueError:
            log.error("token %s has an unknown role %r", token_id, record and record.role)
            principal = None
        entry = _Cached(record, principal, self._clock())
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[token_id] = entry
        return entry

    def invalidate(self, token_id: str | None = None) -> None:
        """Forget a cached token (all when None): the next call reads the table again, and
        the open streams of the token check it now (a revoked token's streams end)."""
        if token_id is None:
            self._cache.clear()
            wakes = [w for ws in self._streams.values() for w in ws]
        else:
            self._cache.pop(token_id, None)
            wakes = list(self._streams.get(token_id, ()))
        for wake in wakes:
            wake()

    def watch(self, token_id: str, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake` (thread-safe, quick) when `token_id` is invalidated; returns the
        undo."""
        self._streams.setdefault(token_id, set()).add(wake)

        def undo() -> None:
            found = self._streams.get(token_id)
            if found is not None:
                found.discard(wake)
                if not found:
                    del self._streams[token_id]

        return undo

    @property
    def open_streams(self) -> int:
        """Streams being watched for revocation (tests, diagnostics)."""
        return sum(len(ws) for ws in self._streams.values())

    def flush_now(self) -> int:
        """Write the gathered last-used times in one transaction; returns how many."""
        pending, self._last_used = self._last_used, {}
        if pending:
            try:
                with write_transaction(self._engine) as conn:
                    token_store.touch_tokens(conn, pending)
            except Exception:
                # Put them back (newer times win) so the next flush retries.
                for token_id, at in pending.items():
                    self._last_used[token_id] = max(at, self._last_used.get(token_id, 0))
                raise
        return len(pending)

    async def flush(self) -> int:
        return await asyncio.to_thread(self.flush_now)

    async def run_flusher(self, interval: float = DEFAULT_FLUSH_INTERVAL) -> None:
        """Flush last-used times every `interval` seconds until cancelled (then once more)."""
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.flush()
                except Exception:
                    log.exception("writing token last-used times failed")
        finally:
            try:
                self.flush_now()
            except Exception:
                log.exception("writing token last-used times failed")


def authorize(principal: Principal, method: str) -> None:
    """Raise PermissionDenied unless `principal` may call `method` at all (plan scoping of
    the request itself is the service's `require_plan_access`)."""
    needed = required_role(method)
    if needed is None:
        raise PermissionDenied(f"{method} has no access rule; it is refused to every token")
    if not principal.role.includes(needed):
        raise PermissionDenied(
            f"{method} needs the {needed.value} role; token {principal.token_id} "
            f"({principal.subject}) has {principal.role.value}"
        )
    service = method.rsplit("/", 2)[-2].removeprefix(_V1)
    if service in GLOBAL_SERVICES and principal.plan_limited:
        raise PermissionDenied(
            f"{method} acts across plans; token {principal.token_id} is "
            f"limited to plans {sorted(principal.plan_names)}"
        )
