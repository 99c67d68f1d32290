"""The console's gRPC client: one grpc.aio channel to the dashboard, every call made with the
token of the session that asked (the console holds no rights of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc

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
from ikasched_common.errors import IkaschedError

_WORDS = {
    "INVALID_ARGUMENT": "invalid",
    "NOT_FOUND": "not found",
    "ALREADY_EXISTS": "already exists",
    "FAILED_PRECONDITION": "refused",
    "PERMISSION_DENIED": "permission denied",
    "UNAUTHENTICATED": "not authenticated",
    "UNAVAILABLE": "unavailable",
    "DEADLINE_EXCEEDED": "the dashboard did not answer in time",
}


def stub(factory: Callable[[Any], Any], channel: Any) -> Any:
    """The generated stub classes are untyped; one typed door to them."""
    return factory(channel)


class ApiError(IkaschedError):
    """A refused or failed call, with the dashboard's own message (shown to the user as is)."""

    def __init__(self, status: grpc.StatusCode, details: str) -> None:
        self.status = status
        code = status
        self.details = " ".join((details or "").split())
        word = _WORDS.get(code.name, code.name.lower().replace("_", " "))
        super().__init__(f"{word}: {self.details}" if self.details else word)


@dataclass(frozen=True, slots=True)
class Identity:
    """What the console learned of a token when it signed in."""

    can_act: bool  # operator verbs allowed (the dashboard still checks every call)
    is_admin: bool = False  # admin calls (the queues) allowed


class Api:
    """Stubs over one channel; `token` is passed per call."""

    def __init__(self, dashboard: str, *, timeout: float = 30.0) -> None:
        self.dashboard = dashboard
        self.timeout = timeout
        self.channel = self._channel = grpc.aio.insecure_channel(
            dashboard, options=[("grpc.enable_retries", 0)]
        )
        self.plans: Any = stub(plan_service_pb2_grpc.PlanServiceStub, self._channel)
        self.instances: Any = stub(instance_service_pb2_grpc.InstanceServiceStub, self._channel)
        self.jobs: Any = stub(job_service_pb2_grpc.JobServiceStub, self._channel)

    async def close(self) -> None:
        await self._channel.close(None)

    @staticmethod
    def _metadata(token: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token}"),) if token else ()

    def metadata(self, token: str) -> tuple[tuple[str, str], ...]:
        """The call metadata carrying a session's token (for streams made elsewhere)."""
        return self._metadata(token)

    async def call(self, method: Any, request: Any, token: str) -> Any:
        try:
            return await method(request, metadata=self._metadata(token), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            raise ApiError(exc.code(), exc.details() or "") from None

    async def watch(
        self, token: str, instance_id: str, after_position: int
    ) -> AsyncIterator[instance_service_pb2.WatchInstancesResponse]:
        """From `after_position`; from now, with the instance's snapshot first, when 0."""
        request = instance_service_pb2.WatchInstancesRequest(
            context_instance_id=instance_id,
            after_position=after_position,
            send_initial=after_position == 0,
        )
        call = self.instances.WatchInstances(request, metadata=self._metadata(token))
        try:
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise ApiError(exc.code(), exc.details() or "") from None
        finally:
            call.cancel()

    async def log_text(
        self, token: str, request: job_service_pb2.GetJobLogsRequest
    ) -> tuple[str, str, int]:
        """A job's log as text (undecodable bytes replaced), the agent's error, if any, and the
        byte offset reached (where following it goes on)."""
        data = bytearray()
        problem = ""
        call = self.jobs.GetJobLogs(request, metadata=self._metadata(token), timeout=self.timeout)
        try:
            async for chunk in call:
                data.extend(chunk.data)
                if chunk.error:
                    problem = chunk.error
                if chunk.eof:
                    break
        except grpc.aio.AioRpcError as exc:
            problem = str(ApiError(exc.code(), exc.details() or ""))
        finally:
            call.cancel()
        return data.decode("utf-8", errors="replace"), problem, request.offset + len(data)

    async def identify(self, token: str) -> Identity:
        """Check the token (a one-row ListPlans) and whether it may act: an empty HoldJob is
        refused by the role check (PERMISSION_DENIED) before any lookup for a token below
        operator, and by validation for one that has the role; it changes nothing. Whether it
        is an admin: ListQueues (admin only, read only) answers or is refused."""
        await self.call(self.plans.ListPlans, plan_service_pb2.ListPlansRequest(), token)
        can_act = True
        try:
            await self.call(self.jobs.HoldJob, job_service_pb2.JobVerbRequest(), token)
        except ApiError as exc:
            can_act = exc.status != grpc.StatusCode.PERMISSION_DENIED
        if not can_act:
            return Identity(can_act=False)
        queues = stub(admin_service_pb2_grpc.QueueServiceStub, self._channel)
        try:
            await self.call(queues.ListQueues, admin_service_pb2.ListQueuesRequest(), token)
        except ApiError as exc:
            return Identity(can_act=True, is_admin=exc.status != grpc.StatusCode.PERMISSION_DENIED)
        return Identity(can_act=True, is_admin=True)
