"""A client without the generated SDK: it learns the protocol through server reflection (the
protos' descriptors), builds its message types at run time, lists plans and watches an instance
over plain gRPC method paths, as grpcurl or a client in another language would."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import Engine

from ikasched.v1 import common_pb2, instance_service_pb2, job_service_pb2, plan_service_pb2

from .conftest import running
from .support import plan


async def reflected_pool(channel: Any, symbols: list[str]) -> descriptor_pool.DescriptorPool:
    """A fresh pool holding the files that define `symbols` (and their imports)."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo()
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for symbol in symbols:
        await call.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol))
        reply = await call.read()
        for raw in reply.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
            files[fd.name] = fd
    await call.done_writing()
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    while len(added) < len(files):  # imports first
        progress = False
        for name, fd in files.items():
            if name not in added and all(dep in added for dep in fd.dependency):
                pool.Add(fd)
                added.add(name)
                progress = True
        assert progress, f"unresolved imports among {sorted(files)}"
    return pool


def message(pool: descriptor_pool.DescriptorPool, name: str) -> Callable[..., Any]:
    cls: Callable[..., Any] = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return cls


async def test_reflection_only_client_lists_plans_and_watches(engine: Engine) -> None:
    async with running(engine) as d:
        await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan()))
        created = await d.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(context_name="daily")
        )

        pool = await reflected_pool(
            d.channel, ["ikasched.v1.PlanService", "ikasched.v1.InstanceService"]
        )
        service = pool.FindServiceByName("ikasched.v1.PlanService")
        assert "ListPlans" in [m.name for m in service.methods]
        list_request = message(pool, "ikasched.v1.ListPlansRequest")
        list_response = message(pool, "ikasched.v1.ListPlansResponse")
        list_plans = d.channel.unary_unary(
            "/ikasched.v1.PlanService/ListPlans",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=list_response.FromString,  # type: ignore[attr-defined]
        )
        plans = await list_plans(list_request())
        assert [p.name for p in plans.plans] == ["daily"]
        assert type(plans) is not plan_service_pb2.ListPlansResponse  # built from reflection

        watch_request = message(pool, "ikasched.v1.WatchInstancesRequest")
        watch_item = message(pool, "ikasched.v1.WatchInstancesResponse")
        watch = d.channel.unary_stream(
            "/ikasched.v1.InstanceService/WatchInstances",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=watch_item.FromString,  # type: ignore[attr-defined]
        )
        call = watch(watch_request(context_instance_id=created.id, send_initial=True))
        first: Any = await call.read()
        assert first.snapshot.id == created.id
        await d.jobs.HoldJob(
            job_service_pb2.JobVerbRequest(
                job=common_pb2.JobRef(context_instance_id=created.id, job_identifier="a-two")
            )
        )
        change: Any = await asyncio.wait_for(call.read(), 10)
        assert change.change.job.job_identifier == "a-two"
        assert (
            change.change.job.new_status
            == pool.FindEnumTypeByName("ikasched.v1.InstanceStatus")
            .values_by_name["ON_HOLD"]
            .number
        )
        call.cancel()
