"""A standby dashboard (docs/architecture.md §12): waits for the lease, says where the leader is.

While another dashboard holds the lease, this process listens on its own address with a small
gRPC server: health answers NOT_SERVING (a load balancer or readiness probe routes elsewhere)
and every other call, the agent link included, ends UNAVAILABLE with the active dashboard's
address and epoch in the detail, so a client or an agent knows where to go. Each third of a
lease it tries to take the lease; once it holds it, `wait_for_lease` returns, the standby server
stops and the full dashboard starts on the same address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from ikasched_common.waits import wait_event
from ikasched_dashboard.leadership import Lease, lease_status

log = logging.getLogger("ikasched.standby")


if TYPE_CHECKING:
    _Handler = grpc.GenericRpcHandler[Any, Any]
else:
    _Handler = grpc.GenericRpcHandler


class _Redirect(_Handler):
    """Every method but health: UNAVAILABLE naming the active dashboard."""

    def __init__(self, detail: Callable[[], str]) -> None:
        self._detail = detail

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        detail = self._detail

        async def refuse(_requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, detail())

        return grpc.stream_stream_rpc_method_handler(refuse)


class Standby:
    """The standby side of one dashboard process."""

    def __init__(self, lease: Lease, listen: str) -> None:
        self._lease = lease
        self._listen = listen
        self._leader = "unknown"
        self._server: grpc.aio.Server | None = None
        self.port = 0

    def detail(self) -> str:
        return (
            f"standby dashboard: this dashboard does not hold the lease; {self._leader}"
            " (retry there)"
        )

    async def start(self) -> None:
        health_servicer = HealthServicer()
        await health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        server.add_generic_rpc_handlers([_Redirect(self.detail)])
        self.port = server.add_insecure_port(self._listen)
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0.5)
            self._server = None

    async def wait_for_lease(self, stop: asyncio.Event) -> bool:
        """Try the lease every third of its length; True once held, False when `stop` is set."""
        loop = asyncio.get_running_loop()
        interval = self._lease.lease_ms / 3000
        while not stop.is_set():
            try:
                if await loop.run_in_executor(None, self._lease.try_acquire):
                    return True
                view, _ = await loop.run_in_executor(None, lease_status, self._lease.engine)
                if view is not None:
                    self._leader = f"the active dashboard is at {view.address} (epoch {view.epoch})"
            except Exception as exc:  # the database is away: stay standby, try again
                log.warning("standby: cannot reach the database: %s", exc)
            await wait_event(stop, interval)
        return False
