"""Domain errors -> gRPC status codes for every servicer (the table: ikasched_common.errors).

Servicer methods are wrapped with `unary` / `stream`: an `IkaschedError` raised inside ends the
RPC with its status code and message (the message names the field for InvalidArgument); any
other exception is logged and ends the RPC as INTERNAL without leaking details.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import grpc

from ikasched_common.errors import IkaschedError, status_name

log = logging.getLogger(__name__)


def status_of(exc: BaseException) -> grpc.StatusCode:
    """The status code an exception ends an RPC with (the table in ikasched_common.errors)."""
    return grpc.StatusCode[status_name(exc)]


Ctx = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req")
Resp = TypeVar("Resp")
S = TypeVar("S")


async def abort(context: Ctx, exc: BaseException) -> NoReturn:
    if isinstance(exc, IkaschedError):
        await context.abort(status_of(exc), str(exc))
    log.exception("internal error in %s", type(exc).__name__, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
    raise AssertionError("abort returned")  # pragma: no cover


def unary(
    method: Callable[[S, Req, Ctx], Awaitable[Resp]],
) -> Callable[[S, Req, Ctx], Awaitable[Resp]]:
    """Map errors of a unary servicer method to status codes."""

    @functools.wraps(method)
    async def wrapper(self: S, request: Req, context: Ctx) -> Resp:
        try:
            return await method(self, request, context)
        except IkaschedError as exc:
            await abort(context, exc)
        except (grpc.aio.AbortError, grpc.RpcError):
            raise
        except Exception as exc:
            await abort(context, exc)

    return wrapper


def stream(
    method: Callable[[S, Req, Ctx], AsyncIterator[Resp]],
) -> Callable[[S, Req, Ctx], AsyncIterator[Resp]]:
    """Map errors of a server-streaming servicer method to status codes."""

    @functools.wraps(method)
    async def wrapper(self: S, request: Req, context: Ctx) -> AsyncIterator[Resp]:
        try:
            async for item in method(self, request, context):
                yield item
        except IkaschedError as exc:
            await abort(context, exc)
        except (grpc.aio.AbortError, grpc.RpcError):
            raise
        except Exception as exc:
            await abort(context, exc)

    return wrapper
