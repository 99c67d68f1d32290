"""Watch output is in commit order: on nightly-batch (three levels of contexts, a lock, a global
event job at the end) every job's and context's changes form one chain (each change starts from
the status the previous one ended in), and nothing changes after the instance ended."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc

from ikasched.v1 import (
    common_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_common.auth import bearer_metadata
from ikasched_dashboard.plans.loader import load_plan_file

from .test_wired_dashboard import EXAMPLES, agent_token, start_agent, wired


async def test_nightly_batch_changes_come_in_commit_order(tmp_path: Path) -> None:
    async with wired(tmp_path) as (app, token):
        md = bearer_metadata(token)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        plans = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        instances = instance_service_pb2_grpc.InstanceServiceStub(  # type: ignore[no-untyped-call]
            channel
        )
        jobs = job_service_pb2_grpc.JobServiceStub(channel)  # type: ignore[no-untyped-call]
        agent = start_agent(tmp_path, app.port, "local", agent_token(app, "local"))
        await agent.start()
        try:
            plan = load_plan_file(EXAMPLES / "nightly-batch.yaml")
            await plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan), metadata=md)
            watch = instances.WatchInstances(
                instance_service_pb2.WatchInstancesRequest(context_name="nightly-batch"),
                metadata=md,
                timeout=60,
            )
            created = await instances.CreateInstance(
                instance_service_pb2.CreateInstanceRequest(context_name="nightly-batch"),
                metadata=md,
            )
            await jobs.RunJob(
                job_service_pb2.RunJobRequest(
                    job=common_pb2.JobRef(
                        context_instance_id=created.id, job_identifier="local-kickoff"
                    )
                ),
                metadata=md,
            )
            seen: list[Any] = []
            ended = False
            while True:
                # once the root ended, whatever the same commit holds arrives at once
                try:
                    item = await asyncio.wait_for(watch.read(), 2.0 if ended else 60.0)
                except TimeoutError:
                    break
                change = item.change
                if change.context_instance_id != created.id:
                    continue
                seen.append(change)
                ended = ended or (
                    change.WhichOneof("change") == "context"
                    and change.context.context_name == "nightly-batch"
                    and change.context.new_status == common_pb2.ENDED
                )
            watch.cancel()
        finally:
            await agent.stop()
            await channel.close(None)

    positions = [c.position for c in seen]
    assert positions == sorted(positions)
    last: dict[tuple[str, str], int] = {}
    for c in seen:
        kind = c.WhichOneof("change")
        if kind == "job":
            key = ("job", f"{c.job.job_identifier}/{c.job.child_context_name}")
            before, after = c.job.previous_status, c.job.new_status
        else:
            key = ("context", c.context.context_name)
            before, after = c.context.previous_status, c.context.new_status
        if key in last:
            assert before == last[key], (key, before, last[key], positions)
        last[key] = after
    assert ended, "the instance never ended"
    root_end = next(
        i
        for i, c in enumerate(seen)
        if c.WhichOneof("change") == "context"
        and c.context.context_name == "nightly-batch"
        and c.context.new_status == common_pb2.ENDED
    )
    after = seen[root_end + 1 :]
    # after the root ended only its child contexts end with it: no job changes any more
    assert all(
        c.WhichOneof("change") == "context" and c.context.new_status == common_pb2.ENDED
        for c in after
    ), [str(c) for c in after]
    assert {c.context.context_name for c in after} == {"extract", "load", "warehouse"}
