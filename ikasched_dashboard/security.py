"""Authentication and authorization of every RPC the dashboard serves.

`AuthInterceptor` (a grpc.aio server interceptor) reads "authorization: Bearer <token>",
authenticates it through `Authenticator` (a short-TTL cache over the tokens table), checks the
method's minimum role in `METHOD_ROLES`, and runs the handler with the `Principal` in a
contextvar (`current_principal()`, `current_actor()`). What the interceptor cannot see, the
services check with it: `require_plan_access` for the plan a request touches, and
`check_agent_hello` for the agent name in AgentGateway.Connect's first frame. A
`PermissionDenied` raised by a handler ends its RPC with PERMISSION_DENIED.

Health (grpc.health.v1) is always open; reflection is open only when configured, else it
needs a viewer token. A method missing from the table is refused to every token.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
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
from ikasched_common.auth import Principal, Role, bearer_from_metadata, secret_matches, token_id_of
from ikasched_common.errors import PermissionDenied, TokenFormatError, Unauthenticated
from ikasched_dashboard.store import tokens as token_store
from ikasched_dashboard.store.db import read_transaction, write_transaction
from ikasched_dashboard.stream_guard import GuardFactory, StreamGuard, guarded_call, guarded_items

log = logging.getLogger(__name__)

# grpc-stubs makes these generic; the runtime classes are not subscriptable.
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    _Interceptor = grpc.aio.ServerInterceptor

# Revocation and expiry take effect within this many seconds in other processes (and at once
# in this one: revoking through TokenService drops the cached entry).
DEFAULT_CACHE_TTL = 2.0
DEFAULT_FLUSH_INTERVAL = 10.0
# Open streams (agent links, watches, log follows) re-check their token this often, and at once
# when it is revoked here: revocation and expiry end them within this plus the cache TTL.
DEFAULT_STREAM_CHECK_INTERVAL = 1.0
_MAX_CACHED = 10_000
# How long a refused client stream may take to send its first message.
_FIRST_MESSAGE_WAIT = 2.0

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


_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "ikasched_principal", default=None
)
SYSTEM_ACTOR = "system"


def current_principal() -> Principal | None:
    """The authenticated caller of the RPC being handled (None outside an RPC)."""
    return _PRINCIPAL.get()


def current_actor(default: str = SYSTEM_ACTOR) -> str:
    """The subject to record as the actor of a verb; `default` outside an RPC."""
    principal = _PRINCIPAL.get()
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


# ---------------------------------------------------------------------------------------------
# The interceptor


class AuthInterceptor(_Interceptor):
    """Refuses every RPC without a valid token of the method's role (see module doc)."""

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        reflection_open: bool = False,
        stream_check_interval: float = DEFAULT_STREAM_CHECK_INTERVAL,
    ) -> None:
        self._auth = authenticator
        self._reflection_open = reflection_open
        self._stream_check = stream_check_interval

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        method = handler_call_details.method
        if method.startswith(HEALTH_PREFIX) or (
            self._reflection_open and method.startswith(REFLECTION_PREFIX)
        ):
            return await continuation(handler_call_details)
        handler: Handler | None = await continuation(handler_call_details)
        try:
            principal = await self._auth.authenticate(
                bearer_from_metadata(handler_call_details.invocation_metadata)
            )
        except Unauthenticated as exc:
            log.debug("refused %s: %s", method, exc)
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED, str(exc))
        try:
            authorize(principal, method)
        except PermissionDenied as exc:
            log.info("denied %s: %s", method, exc)
            return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED, str(exc))
        if handler is None:
            # grpc.aio answers UNIMPLEMENTED for a None handler.
            return None  # type: ignore[return-value]
        guard: GuardFactory | None = None
        if handler.request_streaming or handler.response_streaming:
            auth, interval = self._auth, self._stream_check

            def guard(on_end: Callable[[], None] | None) -> StreamGuard:
                return StreamGuard(auth, principal, interval, on_end=on_end)

        return _with_principal(handler, principal, guard)


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


def _refusal(handler: Handler | None, code: grpc.StatusCode, details: str) -> Handler:
    """A handler of the same shape as `handler` that ends the call with `code`."""

    async def unary(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, details)

    async def streaming(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(code, details)

    async def after_first(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        # Take the client's first message before refusing: grpc's client reports INTERNAL
        # instead of our status when its first write meets an already ended call.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(anext(aiter(requests)), _FIRST_MESSAGE_WAIT)
        await context.abort(code, details)

    # The request is never read, so it is left undeserialized.
    if handler is None or not (handler.request_streaming or handler.response_streaming):
        return grpc.unary_unary_rpc_method_handler(unary)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(after_first)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(after_first)
    return grpc.unary_stream_rpc_method_handler(streaming)


def _with_principal(
    handler: Handler, principal: Principal, guard: GuardFactory | None = None
) -> Handler:
    """`handler` run with `principal` as the current principal, PermissionDenied -> status;
    a streaming one under a `StreamGuard` from `guard` (its token re-checked while open)."""
    if handler.request_streaming and handler.response_streaming:
        build: Callable[..., Handler] = grpc.stream_stream_rpc_method_handler
        behavior = handler.stream_stream
    elif handler.request_streaming:
        build, behavior = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    elif handler.response_streaming:
        build, behavior = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    else:
        build, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    if behavior is None:
        return handler
    return build(
        _wrap_behavior(behavior, principal, guard),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _wrap_behavior(
    behavior: Callable[..., Any], principal: Principal, guard: GuardFactory | None
) -> Callable[..., Any]:
    # The wrapper keeps the behaviour's kind: grpc.aio runs coroutine functions and async
    # generators on the loop and plain functions in its executor.
    if inspect.isasyncgenfunction(behavior):

        async def agen(request: Any, context: Any) -> AsyncIterator[Any]:
            _PRINCIPAL.set(principal)  # each RPC runs in its own task: no reset needed
            try:
                items = behavior(request, context)
                if guard is not None:
                    items = guarded_items(items, guard(None))
                async for item in items:
                    yield item
            except PermissionDenied as exc:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
            except Unauthenticated as exc:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))

        return agen
    if inspect.iscoroutinefunction(behavior):

        async def coro(request: Any, context: Any) -> Any:
            _PRINCIPAL.set(principal)
            try:
                if guard is None:
                    return await behavior(request, context)
                return await guarded_call(behavior, request, context, guard)
            except PermissionDenied as exc:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
            except Unauthenticated as exc:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))

        return coro

    if inspect.isgeneratorfunction(behavior):

        def gen(request: Any, context: Any) -> Iterator[Any]:
            token = _PRINCIPAL.set(principal)
            try:
                yield from behavior(request, context)
            except PermissionDenied as exc:
                context.set_code(grpc.StatusCode.PERMISSION_DENIED)
                context.set_details(str(exc))
                raise
            finally:
                # Steps of a generator may run on different executor threads.
                with contextlib.suppress(ValueError):
                    _PRINCIPAL.reset(token)

        return gen

    def plain(request: Any, context: Any) -> Any:
        # Executor threads are reused across RPCs: reset the principal afterwards.
        token = _PRINCIPAL.set(principal)
        try:
            return behavior(request, context)
        except PermissionDenied as exc:
            context.set_code(grpc.StatusCode.PERMISSION_DENIED)
            context.set_details(str(exc))
            raise
        finally:
            _PRINCIPAL.reset(token)

    return plain
