"""Every RPC of every service, called through a real grpc.aio server behind the interceptor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    agent_pb2,
    agent_pb2_grpc,
    instance_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_common.auth import Role, bearer_metadata, token_id_of
from ikasched_dashboard.security import (
    METHOD_ROLES,
    check_agent_hello,
    current_actor,
    current_principal,
    require_plan_access,
)

from .conftest import Served, Tokens, serve, stub
from .reflect import RemoteMethod, call_empty, list_methods

OK = grpc.StatusCode.OK
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED
HEALTH = "/grpc.health.v1.Health/"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _methods(served: Served, token: str) -> list[RemoteMethod]:
    async with grpc.aio.insecure_channel(served.target) as ch:
        methods = await list_methods(ch, bearer_metadata(token))
    ikasched = [m for m in methods if m.path.startswith("/ikasched.v1.")]
    # The server really offers every method of the table, and nothing unclassified.
    assert {m.path for m in ikasched} == set(METHOD_ROLES)
    return methods


async def _codes(
    served: Served, methods: list[RemoteMethod], token: str | None
) -> dict[str, tuple[grpc.StatusCode, str]]:
    md = None if token is None else bearer_metadata(token)
    async with grpc.aio.insecure_channel(served.target) as ch:
        results = await asyncio.gather(*(call_empty(ch, m, md) for m in methods))
    return {m.path: r for m, r in zip(methods, results, strict=True)}


def test_every_method_refuses_missing_wrong_expired_and_revoked_tokens(
    engine: Engine, tokens: Tokens
) -> None:
    async def main() -> None:
        async with serve(engine) as served:
            methods = await _methods(served, tokens.viewer)
            guarded = [m for m in methods if not m.path.startswith(HEALTH)]
            assert any(m.client_streaming and m.server_streaming for m in guarded)
            assert any(m.server_streaming and not m.client_streaming for m in guarded)
            assert any(m.path.startswith("/grpc.reflection.") for m in guarded)
            for token in (None, tokens.wrong, "Bearer-less junk", tokens.expired, tokens.revoked):
                codes = await _codes(served, guarded, token)
                refused = {p: (c, d) for p, (c, d) in codes.items() if c != UNAUTHENTICATED}
                assert not refused, (token, refused)
            # Health stays open (Check only: Watch streams until cancelled).
            check = [m for m in methods if m.path == HEALTH + "Check"]
            assert (await _codes(served, check, None))[HEALTH + "Check"][0] == OK

    run(main())


def test_refusal_messages_say_why(engine: Engine, tokens: Tokens) -> None:
    async def main() -> None:
        async with serve(engine) as served:
            target = [RemoteMethod("/ikasched.v1.PlanService/ListPlans", False, False)]
            assert "authorization" in (await _codes(served, target, None))[target[0].path][1]
            assert "expired" in (await _codes(served, target, tokens.expired))[target[0].path][1]
            assert "revoked" in (await _codes(served, target, tokens.revoked))[target[0].path][1]

    run(main())


def test_viewer_is_denied_every_mutating_method_and_passes_on_reads(
    engine: Engine, tokens: Tokens
) -> None:
    async def main() -> None:
        async with serve(engine) as served:
            methods = [
                m
                for m in await _methods(served, tokens.viewer)
                if m.path.startswith("/ikasched.v1.")
            ]
            codes = await _codes(served, methods, tokens.viewer)
        reads = [p for p in codes if METHOD_ROLES[p] is Role.VIEWER]
        mutating = [p for p in codes if METHOD_ROLES[p] is not Role.VIEWER]
        assert len(reads) >= 10 and len(mutating) >= 30
        for path in mutating:
            code, details = codes[path]
            assert code == DENIED, (path, code, details)
            assert METHOD_ROLES[path].value in details, details
        for path in reads:
            # Past authentication and authorization: the base servicer answers UNIMPLEMENTED.
            assert codes[path][0] == UNIMPLEMENTED, (path, codes[path])

    run(main())


def test_roles_nest_and_agent_tokens_only_open_links(engine: Engine, tokens: Tokens) -> None:
    async def main() -> None:
        async with serve(engine) as served:
            methods = [
                m
                for m in await _methods(served, tokens.viewer)
                if m.path.startswith("/ikasched.v1.")
                and not m.path.startswith("/ikasched.v1.TokenService/")
            ]
            by_role = {
                Role.OPERATOR: await _codes(served, methods, tokens.operator),
                Role.ADMIN: await _codes(served, methods, tokens.admin),
                Role.AGENT: await _codes(served, methods, tokens.agent_a1),
            }
        for role, codes in by_role.items():
            for path, (code, details) in codes.items():
                allowed = role.includes(METHOD_ROLES[path])
                assert code == (UNIMPLEMENTED if allowed else DENIED), (role, path, details)
        assert by_role[Role.AGENT]["/ikasched.v1.AgentGateway/Connect"][0] == UNIMPLEMENTED
        assert by_role[Role.ADMIN]["/ikasched.v1.AgentGateway/Connect"][0] == DENIED
        assert by_role[Role.OPERATOR]["/ikasched.v1.JobService/HoldJob"][0] == UNIMPLEMENTED
        assert by_role[Role.OPERATOR]["/ikasched.v1.PlanService/ProvisionPlan"][0] == DENIED

    run(main())


def test_health_is_open_and_reflection_follows_the_setting(engine: Engine, tokens: Tokens) -> None:
    async def probe(reflection_open: bool) -> tuple[int, grpc.StatusCode]:
        async with (
            serve(engine, reflection_open=reflection_open) as served,
            grpc.aio.insecure_channel(served.target) as ch,
        ):
            health_stub = stub(health_pb2_grpc.HealthStub, ch)
            answer = await health_stub.Check(health_pb2.HealthCheckRequest())
            try:
                methods = await list_methods(ch, None)
                return answer.status, grpc.StatusCode.OK if methods else grpc.StatusCode.UNKNOWN
            except grpc.aio.AioRpcError as exc:
                return answer.status, exc.code()

    assert run(probe(False)) == (health_pb2.HealthCheckResponse.SERVING, UNAUTHENTICATED)
    assert run(probe(True)) == (health_pb2.HealthCheckResponse.SERVING, OK)


class ScopedPlans(plan_service_pb2_grpc.PlanServiceServicer):
    """Touches the plan each request names, as the real service will."""

    async def GetPlan(
        self, request: plan_service_pb2.GetPlanRequest, context: Any
    ) -> plan_service_pb2.GetPlanResponse:
        require_plan_access(current_principal(), request.name)
        return plan_service_pb2.GetPlanResponse(
            summary=plan_service_pb2.PlanSummary(name=request.name)
        )

    async def DeletePlan(
        self, request: plan_service_pb2.DeletePlanRequest, context: Any
    ) -> plan_service_pb2.DeletePlanResponse:
        require_plan_access(current_principal(), request.name)
        return plan_service_pb2.DeletePlanResponse()


class ScopedInstances(instance_service_pb2_grpc.InstanceServiceServicer):
    async def CreateInstance(
        self, request: instance_service_pb2.CreateInstanceRequest, context: Any
    ) -> instance_pb2.ContextInstance:
        require_plan_access(current_principal(), request.context_name)
        # The actor a verb would record.
        return instance_pb2.ContextInstance(id=current_actor(), context_name=request.context_name)

    async def WatchInstances(
        self, request: instance_service_pb2.WatchInstancesRequest, context: Any
    ) -> AsyncIterator[instance_service_pb2.WatchInstancesResponse]:
        require_plan_access(current_principal(), request.context_name)
        yield instance_service_pb2.WatchInstancesResponse(
            snapshot=instance_pb2.ContextInstance(context_name=request.context_name)
        )


def test_a_token_limited_to_plan_a_cannot_touch_plan_b(engine: Engine, tokens: Tokens) -> None:
    async def main() -> None:
        overrides = {"PlanService": ScopedPlans(), "InstanceService": ScopedInstances()}
        async with (
            serve(engine, overrides=overrides) as served,
            grpc.aio.insecure_channel(served.target) as ch,
        ):
            plans = stub(plan_service_pb2_grpc.PlanServiceStub, ch)
            instances = stub(instance_service_pb2_grpc.InstanceServiceStub, ch)
            limited = bearer_metadata(tokens.plan_a_admin)
            got = await plans.GetPlan(plan_service_pb2.GetPlanRequest(name="A"), metadata=limited)
            assert got.summary.name == "A"
            await plans.DeletePlan(plan_service_pb2.DeletePlanRequest(name="A"), metadata=limited)
            for call in (
                plans.GetPlan(plan_service_pb2.GetPlanRequest(name="B"), metadata=limited),
                plans.DeletePlan(plan_service_pb2.DeletePlanRequest(name="B"), metadata=limited),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await call
                assert err.value.code() == DENIED and "'B'" in (err.value.details() or "")

            op = bearer_metadata(tokens.plan_a_operator)
            made = await instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="A"), metadata=op
            )
            assert made.id == "olga"  # the token's subject is the actor
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await instances.CreateInstance(
                    instance_service_pb2.CreateInstanceRequest(context_name="B"), metadata=op
                )
            assert err.value.code() == DENIED
            # Server streams too.
            seen = [
                r
                async for r in instances.WatchInstances(
                    instance_service_pb2.WatchInstancesRequest(context_name="A"), metadata=op
                )
            ]
            assert [r.snapshot.context_name for r in seen] == ["A"]
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in instances.WatchInstances(
                    instance_service_pb2.WatchInstancesRequest(context_name="B"), metadata=op
                ):
                    pass
            assert err.value.code() == DENIED
            # Unlimited tokens touch any plan; a plan-limited admin cannot manage tokens.
            await plans.GetPlan(
                plan_service_pb2.GetPlanRequest(name="B"), metadata=bearer_metadata(tokens.admin)
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub(admin_service_pb2_grpc.TokenServiceStub, ch).ListTokens(
                    admin_service_pb2.ListTokensRequest(), metadata=limited
                )
            assert err.value.code() == DENIED

    run(main())


class Gateway(agent_pb2_grpc.AgentGatewayServicer):
    """The first-frame check the real gateway makes."""

    async def Connect(
        self, request_iterator: AsyncIterator[agent_pb2.AgentFrame], context: Any
    ) -> AsyncIterator[agent_pb2.DashboardFrame]:
        async for frame in request_iterator:
            check_agent_hello(current_principal(), frame.hello)
            yield agent_pb2.DashboardFrame(
                welcome=agent_pb2.DashboardWelcome(dashboard_id=frame.hello.agent_name)
            )
            return


def test_an_agent_token_for_a1_cannot_open_a_link_as_a2(engine: Engine, tokens: Tokens) -> None:
    async def connect(target: str, name: str, token: str) -> tuple[grpc.StatusCode, str]:
        async with grpc.aio.insecure_channel(target) as ch:
            hello = agent_pb2.AgentFrame(hello=agent_pb2.AgentHello(agent_name=name))
            call = stub(agent_pb2_grpc.AgentGatewayStub, ch).Connect(
                iter([hello]), metadata=bearer_metadata(token), timeout=10
            )
            try:
                frames = [f async for f in call]
            except grpc.aio.AioRpcError as exc:
                return exc.code(), exc.details() or ""
            return OK, frames[0].welcome.dashboard_id

    async def main() -> None:
        async with serve(engine, overrides={"AgentGateway": Gateway()}) as served:
            assert await connect(served.target, "a1", tokens.agent_a1) == (OK, "a1")
            code, details = await connect(served.target, "a2", tokens.agent_a1)
            assert code == DENIED and "'a1'" in details and "'a2'" in details
            # An operator token cannot open a link at all, whatever name it claims.
            code, _ = await connect(served.target, "a1", tokens.admin)
            assert code == DENIED

    run(main())


def test_token_service_creates_lists_and_revokes(engine: Engine, tokens: Tokens) -> None:
    async def main() -> None:
        async with serve(engine) as served, grpc.aio.insecure_channel(served.target) as ch:
            tok = stub(admin_service_pb2_grpc.TokenServiceStub, ch)
            admin = bearer_metadata(tokens.admin)
            made = await tok.CreateToken(
                admin_service_pb2.CreateTokenRequest(
                    subject="ci", role=admin_service_pb2.VIEWER, plan_names=["A"], ttl_seconds=60
                ),
                metadata=admin,
            )
            assert made.secret and token_id_of(made.secret) == made.token.token_id
            assert made.token.role == admin_service_pb2.VIEWER
            assert list(made.token.plan_names) == ["A"]
            assert made.token.expires_time == made.token.created_time + 60_000
            plans = stub(plan_service_pb2_grpc.PlanServiceStub, ch)
            new = bearer_metadata(made.secret)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=new)
            assert err.value.code() == UNIMPLEMENTED  # authenticated
            listed = await tok.ListTokens(admin_service_pb2.ListTokensRequest(), metadata=admin)
            assert made.token.token_id in {t.token_id for t in listed.tokens}
            assert made.secret not in str(listed)
            # A viewer cannot manage tokens.
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await tok.ListTokens(admin_service_pb2.ListTokensRequest(), metadata=new)
            assert err.value.code() == DENIED and "ADMIN" in (err.value.details() or "")

            revoked = await tok.RevokeToken(
                admin_service_pb2.RevokeTokenRequest(token_id=made.token.token_id), metadata=admin
            )
            assert revoked.revoked_time > 0
            # In this process revocation is immediate (the cache entry is dropped).
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=new)
            assert err.value.code() == UNAUTHENTICATED
            listed = await tok.ListTokens(admin_service_pb2.ListTokensRequest(), metadata=admin)
            assert made.token.token_id not in {t.token_id for t in listed.tokens}
            listed = await tok.ListTokens(
                admin_service_pb2.ListTokensRequest(include_inactive=True), metadata=admin
            )
            assert made.token.token_id in {t.token_id for t in listed.tokens}

            for bad, field in (
                (admin_service_pb2.CreateTokenRequest(role=admin_service_pb2.VIEWER), "subject"),
                (admin_service_pb2.CreateTokenRequest(subject="x"), "role"),
                (
                    admin_service_pb2.CreateTokenRequest(subject="x", role=admin_service_pb2.AGENT),
                    "agent_name",
                ),
                (
                    admin_service_pb2.CreateTokenRequest(
                        subject="x", role=admin_service_pb2.VIEWER, agent_name="a1"
                    ),
                    "agent_name",
                ),
                (
                    admin_service_pb2.CreateTokenRequest(
                        subject="x", role=admin_service_pb2.VIEWER, ttl_seconds=-1
                    ),
                    "ttl_seconds",
                ),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await tok.CreateToken(bad, metadata=admin)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert field in (err.value.details() or "")
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await tok.RevokeToken(
                    admin_service_pb2.RevokeTokenRequest(token_id="nope"), metadata=admin
                )
            assert err.value.code() == grpc.StatusCode.NOT_FOUND

    run(main())


class SyncPlans(plan_service_pb2_grpc.PlanServiceServicer):
    """Plain (non-async) handlers run in grpc's executor: the principal must reach them too."""

    def GetPlan(
        self, request: plan_service_pb2.GetPlanRequest, context: Any
    ) -> plan_service_pb2.GetPlanResponse:
        require_plan_access(current_principal(), request.name)
        return plan_service_pb2.GetPlanResponse(
            summary=plan_service_pb2.PlanSummary(name=current_actor())
        )


class SyncJobs(job_service_pb2_grpc.JobServiceServicer):
    def GetJobLogs(
        self, request: job_service_pb2.GetJobLogsRequest, context: Any
    ) -> Iterator[agent_pb2.LogChunk]:
        require_plan_access(current_principal(), request.initiation_id)
        yield agent_pb2.LogChunk(request_id=current_actor(), eof=True)


def test_plain_handlers_see_the_principal_too(engine: Engine, tokens: Tokens) -> None:
    async def main() -> None:
        overrides = {"PlanService": SyncPlans(), "JobService": SyncJobs()}
        async with (
            serve(engine, overrides=overrides) as served,
            grpc.aio.insecure_channel(served.target) as ch,
        ):
            plans = stub(plan_service_pb2_grpc.PlanServiceStub, ch)
            jobs = stub(job_service_pb2_grpc.JobServiceStub, ch)
            op = bearer_metadata(tokens.plan_a_operator)
            got = await plans.GetPlan(plan_service_pb2.GetPlanRequest(name="A"), metadata=op)
            assert got.summary.name == "olga"
            chunks = [
                c
                async for c in jobs.GetJobLogs(
                    job_service_pb2.GetJobLogsRequest(initiation_id="A"), metadata=op
                )
            ]
            assert [c.request_id for c in chunks] == ["olga"]
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await plans.GetPlan(plan_service_pb2.GetPlanRequest(name="B"), metadata=op)
            assert err.value.code() == DENIED
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in jobs.GetJobLogs(
                    job_service_pb2.GetJobLogsRequest(initiation_id="B"), metadata=op
                ):
                    pass
            assert err.value.code() == DENIED
            # Another caller on the same executor threads gets its own principal.
            got = await plans.GetPlan(
                plan_service_pb2.GetPlanRequest(name="B"), metadata=bearer_metadata(tokens.admin)
            )
            assert got.summary.name == "alice"

    run(main())
