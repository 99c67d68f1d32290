"""Revocation and expiry end open streams within seconds: a viewer's WatchInstances and an
agent's link, revoked through TokenService (at once), revoked behind the dashboard's back
(another process: within the cache TTL plus the stream check interval), or expired."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc

from ikasched.v1 import admin_service_pb2, agent_pb2, events_pb2, instance_service_pb2
from ikasched_common.auth import Role, bearer_metadata
from ikasched_dashboard.security import DEFAULT_CACHE_TTL, DEFAULT_STREAM_CHECK_INTERVAL
from ikasched_dashboard.services.tokens import TokenSpec, create_token
from ikasched_dashboard.testing import wait_until

from .conftest import (
    Api,
    make_tokens,
    revoke_in_store,
    sim,
    sim_agents,
    token,
    two_agent_plan,
    wired,
)

# Hang guard for "ends within seconds": the bound plus scheduling slack on a loaded box.
BOUND = DEFAULT_CACHE_TTL + DEFAULT_STREAM_CHECK_INTERVAL
GUARD = BOUND + 10.0


async def _watch_until_end(call: grpc.aio.UnaryStreamCall) -> grpc.aio.AioRpcError:  # type: ignore[type-arg]
    try:
        async with asyncio.timeout(GUARD):
            while await call.read() is not grpc.aio.EOF:  # type: ignore[attr-defined]
                pass
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the stream ended without an error")


async def test_revoked_and_expired_tokens_end_open_watches(tmp_path: Path) -> None:
    async with wired(tmp_path) as app:
        tokens = make_tokens(app)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            admin = Api(channel, tokens.admin)
            by_rpc = token(app, Role.VIEWER, "revoked by rpc")
            by_store = token(app, Role.VIEWER, "revoked elsewhere")
            _rec, expiring = create_token(
                app.engine, TokenSpec("short", Role.VIEWER, ttl_seconds=2)
            )
            await admin.provision(two_agent_plan("pa", "a1", "b1"))
            await admin.instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="pa"), metadata=admin.md
            )
            calls = {}
            for name, secret in (("rpc", by_rpc), ("store", by_store), ("expiry", expiring)):
                call = Api(channel, secret).instances.WatchInstances(
                    instance_service_pb2.WatchInstancesRequest(send_initial=True),
                    metadata=bearer_metadata(secret),
                )
                first = await call.read()  # the instance's snapshot: the stream is open
                assert first.snapshot.context_name == "pa"
                calls[name] = call
            auth = app.authenticator
            assert auth is not None
            ends = {n: asyncio.ensure_future(_watch_until_end(c)) for n, c in calls.items()}

            started = time.monotonic()
            await admin.tokens.RevokeToken(
                admin_service_pb2.RevokeTokenRequest(token_id=by_rpc.split("_")[1]),
                metadata=admin.md,
            )
            err = await ends["rpc"]
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "revoked" in (err.details() or "")
            assert time.monotonic() - started < BOUND  # at once: the revoke wakes the stream

            revoke_in_store(app.engine, by_store)
            err = await ends["store"]
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in str(err.details())

            err = await ends["expiry"]
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "expired" in str(err.details())
            await wait_until(lambda: auth.open_streams == 0)


def _fire(iid: str, n: int) -> bytes:
    ev = events_pb2.ContextualisedScheduledProcessEvent(
        id=f"late-{n}",
        agent_name="a1",
        job_name="start",
        job_identifier="a1-start",
        context_name="pa",
        context_instance_id=iid,
        successful=True,
    )
    return agent_pb2.AgentMessage(id=ev.id, process_event=ev).SerializeToString()


async def test_a_revoked_agent_link_closes_and_delivers_nothing_more(tmp_path: Path) -> None:
    async with wired(tmp_path) as app:
        tokens = make_tokens(app)
        a1 = sim(app, "a1", tokens.agent_a1)
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
            sim_agents(app, a1),
        ):
            admin = Api(channel, tokens.admin)
            await wait_until(lambda: "a1" in app.gateway.connected_agents())
            inbox_before = app.orchestrator.events_processed
            await admin.tokens.RevokeToken(
                admin_service_pb2.RevokeTokenRequest(token_id=tokens.agent_a1.split("_")[1]),
                metadata=admin.md,
            )
            await wait_until(lambda: "a1" not in app.gateway.connected_agents(), GUARD)
            # the agent keeps sending (and redialling): nothing of it is journaled any more
            await a1.outbox.add([_fire("whatever", n) for n in range(5)])
            await asyncio.sleep(BOUND)
            assert "a1" not in app.gateway.connected_agents()
            assert len(app.inbox) == 0
            assert app.orchestrator.events_processed == inbox_before
