"""The link over gRPC: `AgentGateway.Connect` served by grpc.aio, and the agent's dialer.

The servicer hands each stream to a `LinkGateway`; a `LinkRefused` or a `LinkViolation` becomes
the matching gRPC status (after a short drain of what the agent still sends, so grpc delivers
the status rather than INTERNAL). Frames arrive undecoded (`add_agent_gateway`) and are decoded
by `frame_rules.decode_frame`, so corrupt or oversized bytes are refused with the link's codes.
The dialer keeps one channel (HTTP/2 keepalive on, message size limits from the link settings)
and opens one Connect call per `dial()`, with "authorization: Bearer <token>" metadata when a
token is given. Reconnect backoff lives in `AgentLinkClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import grpc.aio
from grpc.aio import EOF  # type: ignore[attr-defined]  # missing from grpc-stubs

from ikasched.v1 import agent_pb2, agent_pb2_grpc
from ikasched_common.errors import LinkRefused, LinkViolation
from ikasched_common.link.frame_rules import decode_frame
from ikasched_common.link.gateway import LinkGateway
from ikasched_common.link.session import LinkSettings
from ikasched_common.link.transport import AgentConnection, LinkClosed

ChannelOption = tuple[str, Any]

# how long, and how many frames, a refused or violating agent's stream is read before its
# error status is sent
_DRAIN_SECONDS = 0.5
_DRAIN_FRAMES = 64

_STATUS: dict[str, grpc.StatusCode] = {
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
    "invalid_argument": grpc.StatusCode.INVALID_ARGUMENT,
    "failed_precondition": grpc.StatusCode.FAILED_PRECONDITION,
    "resource_exhausted": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "unavailable": grpc.StatusCode.UNAVAILABLE,
}


def _message_limit(settings: LinkSettings) -> int:
    # room for a maximal frame plus protobuf framing
    return settings.max_frame_bytes + 64 * 1024


def server_options(settings: LinkSettings) -> list[ChannelOption]:
    """Server options: frame-size limits and tolerance of the agents' keepalive pings."""
    limit = _message_limit(settings)
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ("grpc.http2.max_ping_strikes", 0),
    ]


def client_options(settings: LinkSettings, *, keepalive_ms: int = 10_000) -> list[ChannelOption]:
    """Channel options of the agent: keepalive detects half-open TCP, size limits match."""
    limit = _message_limit(settings)
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", max(1000, keepalive_ms // 2)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # reconnect pacing is ours (AgentLinkClient); keep the channel's own short
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]


class GrpcServerConnection:
    """The dashboard end of one Connect stream."""

    def __init__(
        self,
        context: grpc.aio.ServicerContext[Any, agent_pb2.DashboardFrame],
        *,
        frame_limit: int,
    ) -> None:
        self._context = context
        self._frame_limit = frame_limit
        self._closed = False

    async def send(self, frame: agent_pb2.DashboardFrame) -> None:
        if self._closed or self._context.done():
            raise LinkClosed("stream ended")
        try:
            await self._context.write(frame)
        except Exception as exc:  # grpc raises several kinds once the peer is gone
            raise LinkClosed(f"write failed: {exc!r}") from exc

    async def recv(self) -> agent_pb2.AgentFrame | None:
        if self._closed:
            return None
        try:
            raw = await self._context.read()
        except Exception as exc:
            raise LinkClosed(f"read failed: {exc!r}") from exc
        if raw is EOF:
            return None
        if isinstance(raw, agent_pb2.AgentFrame):  # served through the generated handler
            return raw
        # the frames arrive undecoded (`add_agent_gateway`): corrupt bytes are the agent's
        # protocol violation, not grpc's UNKNOWN
        return decode_frame(agent_pb2.AgentFrame, raw, self._frame_limit)

    async def close(self) -> None:
        # returning from the handler ends the RPC; reads after this report the end
        self._closed = True

    async def drain(self) -> None:
        """Read what the agent still sends, for a moment, before the stream is ended with an
        error status: grpc reports a status sent over unread messages as INTERNAL "Internal
        error from Core" to the agent instead of the status itself."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_DRAIN_SECONDS):
                for _ in range(_DRAIN_FRAMES):
                    if await self._context.read() is EOF:
                        return


class AgentGatewayService(agent_pb2_grpc.AgentGatewayServicer):
    """grpc.aio servicer: each Connect stream is one agent connection of the gateway."""

    def __init__(self, gateway: LinkGateway) -> None:
        self._gateway = gateway

    async def Connect(
        self,
        request_iterator: object,
        context: grpc.aio.ServicerContext[Any, agent_pb2.DashboardFrame],
    ) -> None:
        metadata = {
            str(k).lower(): v if isinstance(v, str) else v.decode("latin-1")
            for k, v in (context.invocation_metadata() or ())
        }
        conn = GrpcServerConnection(context, frame_limit=_message_limit(self._gateway.settings))
        try:
            await self._gateway.serve(conn, metadata)
        except LinkRefused as refused:
            await conn.drain()
            await context.abort(
                _STATUS.get(refused.status, grpc.StatusCode.PERMISSION_DENIED), str(refused)
            )
        except LinkViolation as violation:
            await conn.drain()
            await context.abort(grpc.StatusCode[violation.code], str(violation))
        except (LinkClosed, TimeoutError):
            pass  # the agent went away or never said hello: nothing to answer


def add_agent_gateway(server: grpc.aio.Server, gateway: LinkGateway) -> None:
    """Serve `AgentGateway.Connect` on `server`, its frames left undecoded for the servicer
    (`decode_frame` refuses corrupt and oversized ones with the link's own codes)."""
    service = AgentGatewayService(gateway)
    handler = grpc.stream_stream_rpc_method_handler(
        service.Connect,
        request_deserializer=None,
        response_serializer=agent_pb2.DashboardFrame.SerializeToString,
    )
    name = agent_pb2.DESCRIPTOR.services_by_name["AgentGateway"].full_name
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(name, {"Connect": handler})]
    )


async def start_server(
    gateway: LinkGateway,
    address: str = "127.0.0.1:0",
    *,
    options: Sequence[ChannelOption] = (),
) -> tuple[grpc.aio.Server, int]:
    """A started grpc.aio server with only the AgentGateway service; returns (server, port)."""
    server = grpc.aio.server(options=[*server_options(gateway.settings), *options])
    add_agent_gateway(server, gateway)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind {address}")
    await server.start()
    return server, port


class GrpcClientConnection:
    """The agent end of one Connect stream."""

    def __init__(
        self, call: grpc.aio.StreamStreamCall[agent_pb2.AgentFrame, agent_pb2.DashboardFrame]
    ) -> None:
        self._call = call

    async def send(self, frame: agent_pb2.AgentFrame) -> None:
        try:
            await self._call.write(frame)
        except Exception as exc:
            raise LinkClosed(f"write failed: {exc!r}") from exc

    async def recv(self) -> agent_pb2.DashboardFrame | None:
        try:
            frame = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.UNAUTHENTICATED,
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
            ):
                raise LinkRefused(
                    exc.details() or str(exc.code()), status=exc.code().name.lower()
                ) from exc
            raise LinkClosed(f"read failed: {exc.code().name} {exc.details()}") from exc
        except Exception as exc:
            raise LinkClosed(f"read failed: {exc!r}") from exc
        if frame is EOF:
            return None
        return frame  # type: ignore[return-value]

    async def close(self) -> None:
        self._call.cancel()


class GrpcDialer:
    """Dials the dashboard's AgentGateway over one reusable channel per address.

    `target` may list several dashboards, comma-separated (docs/architecture.md §12): each
    dial tries the next one, so an agent refused by a standby (UNAVAILABLE) or whose link to a
    dead dashboard ended finds the active one within one turn of the list."""

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        settings: LinkSettings | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[ChannelOption] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self._targets = [t.strip() for t in target.split(",") if t.strip()] or [target]
        self._next = 0
        self._settings = settings or LinkSettings()
        self._credentials = credentials
        self._options = [*client_options(self._settings), *options]
        md = dict(metadata or {})
        if token:
            md["authorization"] = f"Bearer {token}"
        self._metadata: tuple[tuple[str, str], ...] = tuple(md.items())
        self._channels: dict[str, grpc.aio.Channel] = {}
        self.last_target = ""

    def _ensure_channel(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            if self._credentials is None:
                channel = grpc.aio.insecure_channel(target, options=self._options)
            else:
                channel = grpc.aio.secure_channel(target, self._credentials, options=self._options)
            self._channels[target] = channel
        return channel

    async def dial(self) -> AgentConnection:
        target = self.last_target = self._targets[self._next % len(self._targets)]
        self._next += 1
        stub = agent_pb2_grpc.AgentGatewayStub(  # type: ignore[no-untyped-call]
            self._ensure_channel(target)
        )
        call = stub.Connect(metadata=self._metadata)
        return GrpcClientConnection(call)

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close(None)
