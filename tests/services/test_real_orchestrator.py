"""The services and the lifecycle inside a real Dashboard (real orchestrator, inbox
journal, store), driven through the generated SDK: what the fake stands in for agrees with the
real thing on snapshots, job rows, verbs and the change log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import grpc

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    common_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_common.config import DashboardConfig
from ikasched_dashboard.app import Dashboard

from .support import plan, refused

Code = grpc.StatusCode


@asynccontextmanager
async def dashboard(data_dir: Path) -> AsyncIterator[tuple[Dashboard, grpc.aio.Channel]]:
    config = DashboardConfig(data_dir=data_dir, listen="127.0.0.1:0")
    process = Dashboard(config, security=False, actor=lambda: "bob")
    await process.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{process.port}")
    try:
        yield process, channel
    finally:
        await channel.close(None)
        await process.stop()


async def _until(done: Callable[[], bool]) -> None:
    while not done():
        await asyncio.sleep(0.005)


async def test_services_over_the_real_orchestrator(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (_process, channel):
        plans = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        instances = instance_service_pb2_grpc.InstanceServiceStub(  # type: ignore[no-untyped-call]
            channel
        )
        jobs = job_service_pb2_grpc.JobServiceStub(channel)  # type: ignore[no-untyped-call]
        queues = admin_service_pb2_grpc.QueueServiceStub(channel)  # type: ignore[no-untyped-call]

        out = await plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan()))
        assert out.created and out.plan.updated_by == "bob"
        listed = await instances.ListInstances(
            instance_service_pb2.ListInstancesRequest(include_prepared=True)
        )
        assert [i.status for i in listed.instances] == [common_pb2.PREPARED]

        created = await instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(
                context_name="daily",
                context_parameters=[common_pb2.ContextParameterInstance(name="REGION", value="us")],
            )
        )
        iid = created.id
        assert created.status == common_pb2.WAITING and created.created_by == "bob"
        assert {p.name: p.value for p in created.context_parameters}["REGION"] == "us"
        kinds = {j.identifier: j.job_type for j in created.jobs}
        assert kinds == {
            "a-one": common_pb2.INTERNAL_EVENT_DRIVEN,
            "a-two": common_pb2.INTERNAL_EVENT_DRIVEN,
            "b-tick": common_pb2.QUARTZ_SCHEDULE_DRIVEN,
        }
        assert [c.status for c in created.contexts] == [common_pb2.WAITING]

        seen: list[instance_service_pb2.WatchInstancesResponse] = []
        call = instances.WatchInstances(
            instance_service_pb2.WatchInstancesRequest(context_instance_id=iid, send_initial=True)
        )

        async def collect() -> None:
            async for item in call:
                seen.append(item)
                if any(i.HasField("change") for i in seen):
                    return

        task = asyncio.create_task(collect())
        await _until(lambda: bool(seen))
        held = await jobs.HoldJob(
            job_service_pb2.JobVerbRequest(
                job=common_pb2.JobRef(context_instance_id=iid, job_identifier="a-two")
            )
        )
        assert [(j.identifier, j.status) for j in held.jobs] == [("a-two", common_pb2.ON_HOLD)]
        await asyncio.wait_for(task, 10)
        call.cancel()
        change = next(i.change for i in seen if i.HasField("change"))
        assert (change.job.job_identifier, change.job.new_status) == ("a-two", common_pb2.ON_HOLD)

        ended = await instances.EndInstance(
            instance_service_pb2.EndInstanceRequest(context_instance_id=iid)
        )
        assert ended.status == common_pb2.ENDED
        await refused(
            jobs.HoldJob(
                job_service_pb2.JobVerbRequest(
                    job=common_pb2.JobRef(context_instance_id=iid, job_identifier="a-one")
                )
            ),
            Code.FAILED_PRECONDITION,
            "ENDED",
        )
        qs = await queues.ListQueues(admin_service_pb2.ListQueuesRequest(include_empty=True))
        assert {"inbox", "dlq"} <= {q.name for q in qs.queues}
