"""The server interceptor that authenticates and authorizes every RPC (see security.py's
module doc): it refuses a call without a valid token of the method's role with a handler of
the call's own shape, and runs an accepted one with its `Principal` as the current principal,
a streaming one under a `StreamGuard` that re-checks its token while it is open."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from ikasched_common.auth import Principal, bearer_from_metadata
from ikasched_common.errors import PermissionDenied, Unauthenticated
from ikasched_dashboard.security import (
    DEFAULT_STREAM_CHECK_INTERVAL,
    HEALTH_PREFIX,
    PRINCIPAL,
    REFLECTION_PREFIX,
    Authenticator,
    Handler,
    authorize,
)
from ikasched_dashboard.stream_guard import GuardFactory, StreamGuard, guarded_call, guarded_items

__all__ = ["AuthInterceptor"]

log = logging.getLogger(__name__)

# grpc-stubs makes this generic; the runtime class is not subscriptable.
if TYPE_CHECKING:
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor

# How long a refused client stream may take to send its first message.
_FIRST_MESSAGE_WAIT = 2.0


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
            PRINCIPAL.set(principal)  # each RPC runs in its own task: no reset needed
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
            PRINCIPAL.set(principal)
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
            token = PRINCIPAL.set(principal)
            try:
                yield from behavior(request, context)
            except PermissionDenied as exc:
                context.set_code(grpc.StatusCode.PERMISSION_DENIED)
                context.set_details(str(exc))
                raise
            finally:
                # Steps of a generator may run on different executor threads.
                with contextlib.suppress(ValueError):
                    PRINCIPAL.reset(token)

        return gen

    def plain(request: Any, context: Any) -> Any:
        # Executor threads are reused across RPCs: reset the principal afterwards.
        token = PRINCIPAL.set(principal)
        try:
            return behavior(request, context)
        except PermissionDenied as exc:
            context.set_code(grpc.StatusCode.PERMISSION_DENIED)
            context.set_details(str(exc))
            raise
        finally:
            PRINCIPAL.reset(token)

    return plain
