"""The API edge: every operator request is decoded and range-checked before a servicer sees it.

`RequestGuard` is a server interceptor over every unary-request RPC (the operator services and
the TokenService; health, reflection and the agent link's stream are left alone). It decodes
the request itself, so corrupt bytes end the call INVALID_ARGUMENT naming the message instead
of grpc's UNKNOWN "Unexpected DecodeError", and then walks the request's descriptors
(`request_problem`) so that no servicer meets a value the code cannot use:

- an enum value no version of the protocol defines (open proto3 enums keep any number);
- an integer beyond MAX_REQUEST_INTEGER (the latest epoch millisecond the dashboard can
  represent; every time, position, count and duration of a request lies below it);
- a double that is not finite;
- a repeated field of more than MAX_REPEATED values;
- a name or identifier (`NAME_FIELDS`) with a control or bidi character, only whitespace, or
  longer than MAX_REQUEST_NAME.

A plan inside a request (ProvisionPlan, ValidatePlan) is left to the plan validator, which
reports the same rules with the plan's own paths (plans.field_ranges). Each refusal names the
field by its path in the request (`statuses[0]`, `page.page_size`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ikasched_common.errors import InvalidArgument
from ikasched_common.names import name_problem
from ikasched_dashboard.plans.field_ranges import enum_problem, is_repeated
from ikasched_dashboard.plans.limits import MAX_EPOCH_MS

__all__ = [
    "MAX_REPEATED",
    "MAX_REQUEST_INTEGER",
    "MAX_REQUEST_NAME",
    "NAME_FIELDS",
    "RequestGuard",
    "request_problem",
]

#: Largest magnitude of any integer in a request.
MAX_REQUEST_INTEGER = MAX_EPOCH_MS
#: Most values of one repeated field of a request.
MAX_REPEATED = 10_000
#: Longest name or identifier in a request.
MAX_REQUEST_NAME = 1_000
#: Request fields (proto names) that hold a name or an identifier.
NAME_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "identifier",
        "context_name",
        "plan_name",
        "plan_names",
        "job_identifier",
        "child_context_name",
        "context_instance_id",
        "agent_name",
        "job_name",
        "subject",
        "token_id",
        "queue",
        "message_id",
        "initiation_id",
        "environment_group",
    }
)
#: Messages checked by their own validator, with their own paths.
_OWN_VALIDATOR = frozenset({"ikasched.v1.Context"})
_OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_MAX_DEPTH = 64

_INTEGER_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def _value_problem(fd: FieldDescriptor, value: Any) -> str | None:
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return enum_problem(fd, value)
    if fd.type in _INTEGER_TYPES:
        if abs(value) > MAX_REQUEST_INTEGER:
            return f"{value} is out of range (at most {MAX_REQUEST_INTEGER} in magnitude)"
        return None
    if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if fd.type == FieldDescriptor.TYPE_STRING and fd.name in NAME_FIELDS:
        if len(value) > MAX_REQUEST_NAME:
            return f"is {len(value)} characters long; at most {MAX_REQUEST_NAME}"
        return name_problem(value)
    return None


def request_problem(request: Message, prefix: str = "", depth: int = 0) -> InvalidArgument | None:
    """The first value of `request` no servicer can use, as the refusal naming its field."""
    if depth > _MAX_DEPTH:
        return InvalidArgument(f"nests deeper than {_MAX_DEPTH} levels", field=prefix)
    for fd, value in request.ListFields():
        path = f"{prefix}.{fd.name}" if prefix else fd.name
        message_type = fd.message_type
        if message_type is not None and message_type.GetOptions().map_entry:
            continue
        repeated = is_repeated(fd)
        items = list(value) if repeated else [value]
        if repeated and len(items) > MAX_REPEATED:
            return InvalidArgument(f"holds {len(items)} values; at most {MAX_REPEATED}", field=path)
        for i, item in enumerate(items):
            where = f"{path}[{i}]" if repeated else path
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                if message_type is not None and message_type.full_name in _OWN_VALIDATOR:
                    continue
                found = request_problem(item, where, depth + 1)
                if found is not None:
                    return found
                continue
            problem = _value_problem(fd, item)
            if problem:
                return InvalidArgument(problem, field=where)
    return None


# grpc-stubs makes these generic; the runtime classes are not subscriptable.
if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    _Interceptor = grpc.aio.ServerInterceptor
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[Handler]]


def _decoder(
    deserializer: Callable[[bytes], Any], method: str
) -> Callable[[bytes], Message | InvalidArgument]:
    def decode(raw: bytes) -> Message | InvalidArgument:
        try:
            request = deserializer(raw)
        except Exception as exc:  # DecodeError, or RecursionError on absurd nesting
            what = method.rsplit("/", 1)[-1]
            return InvalidArgument(
                f"cannot decode the {what} request ({type(exc).__name__}: {exc})",
                field="request",
            )
        found = request_problem(request)
        return found if found is not None else request

    return decode


async def _refuse(context: grpc.aio.ServicerContext[Any, Any], exc: InvalidArgument) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


def _guarded(handler: Handler, method: str) -> Handler:
    deserializer = handler.request_deserializer
    if handler.request_streaming or deserializer is None:
        return handler
    decode = _decoder(deserializer, method)
    if handler.response_streaming:
        behavior: Any = handler.unary_stream

        async def streaming(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            request = decode(raw)
            if isinstance(request, InvalidArgument):
                await _refuse(context, request)
                return
            async for item in behavior(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(
            streaming, response_serializer=handler.response_serializer
        )
    unary_behavior: Any = handler.unary_unary

    async def unary(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        request = decode(raw)
        if isinstance(request, InvalidArgument):
            await _refuse(context, request)
            return None
        return await unary_behavior(request, context)

    return grpc.unary_unary_rpc_method_handler(
        unary, response_serializer=handler.response_serializer
    )


class RequestGuard(_Interceptor):
    """Decodes and checks every unary-request RPC's request (see the module doc)."""

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler:
        handler: Handler | None = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(_OPEN_PREFIXES):
            return handler  # type: ignore[return-value]
        return _guarded(handler, method)
