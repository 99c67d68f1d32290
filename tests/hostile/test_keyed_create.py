"""A CreateInstance retried after its reply was lost must not make a second instance.

With `request_id`, the same caller, plan and key answer with the instance the first call made
(live or ended); another caller or another key creates. Without a key every call creates, as
before. The chaos suite found the duplicate: a client retrying through a cut link made two.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from ikasched.v1 import instance_service_pb2
from ikasched_common.auth import Role, bearer_metadata

from .conftest import Api, token, two_agent_plan, wired


def _create(key: str, plan: str = "pa") -> instance_service_pb2.CreateInstanceRequest:
    return instance_service_pb2.CreateInstanceRequest(context_name=plan, request_id=key)


async def _count(api: Api, plan: str = "pa") -> int:
    found = await api.instances.ListInstances(
        instance_service_pb2.ListInstancesRequest(context_name=plan, include_ended=True),
        metadata=api.md,
    )
    return len(found.instances)


async def test_a_repeated_key_answers_with_the_first_instance(tmp_path: Path) -> None:
    async with wired(tmp_path) as app:
        admin_secret = token(app, Role.ADMIN, "alice")
        other_secret = token(app, Role.OPERATOR, "olga")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            admin = Api(channel, admin_secret)
            other = Api(channel, other_secret)
            await admin.provision(two_agent_plan("pa", "a1", "a2"))
            # the plan does not run concurrently: without the key, a retry would be refused
            # ("instance(s) ... are live") or, on a concurrent plan, make a second one
            first = await admin.instances.CreateInstance(_create("ticket-1"), metadata=admin.md)
            again = await admin.instances.CreateInstance(_create("ticket-1"), metadata=admin.md)
            assert again.id == first.id
            assert await _count(admin) == 1

            # the key is the caller's: another token with the same key is another creation
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await other.instances.CreateInstance(_create("ticket-1"), metadata=other.md)
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "concurrently" in (refused.value.details() or "")

            # ended, the first instance is still the answer to its key
            await admin.instances.EndInstance(
                instance_service_pb2.EndInstanceRequest(context_instance_id=first.id),
                metadata=admin.md,
            )
            after_end = await admin.instances.CreateInstance(_create("ticket-1"), metadata=admin.md)
            assert after_end.id == first.id
            fresh = await admin.instances.CreateInstance(_create("ticket-2"), metadata=admin.md)
            assert fresh.id != first.id
            assert await _count(admin) == 2


async def test_concurrent_repeats_make_one_instance(tmp_path: Path) -> None:
    async with (
        wired(tmp_path) as app,
        grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
    ):
        admin = Api(channel, token(app, Role.ADMIN, "alice"))
        plan = two_agent_plan("pc", "a1", "a2")
        plan.able_to_run_concurrently = True
        await admin.provision(plan)
        made = await asyncio.gather(
            *(
                admin.instances.CreateInstance(_create("burst", "pc"), metadata=admin.md)
                for _ in range(8)
            )
        )
        assert len({m.id for m in made}) == 1
        assert await _count(admin, "pc") == 1
        # without a key every call creates, as before
        for _ in range(2):
            await admin.instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="pc"),
                metadata=admin.md,
            )
        assert await _count(admin, "pc") == 3


@pytest.mark.parametrize("key", ["has space", "x" * 129, "tab\tkey", "ünï"])
async def test_a_bad_key_is_invalid_argument(tmp_path: Path, key: str) -> None:
    async with wired(tmp_path) as app:
        secret = token(app, Role.ADMIN, "alice")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            admin = Api(channel, secret)
            await admin.provision(two_agent_plan("pa", "a1", "a2"))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await admin.instances.CreateInstance(_create(key), metadata=bearer_metadata(secret))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "request_id" in (refused.value.details() or "")
            assert await _count(admin) == 0
