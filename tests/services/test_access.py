"""Plan-limited callers: a plan they may not touch is PERMISSION_DENIED, lists leave it out."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine

from ikasched.v1 import common_pb2, instance_service_pb2, job_service_pb2, plan_service_pb2
from ikasched_common.errors import PermissionDenied

from .conftest import running
from .support import plan, refused

Code = grpc.StatusCode
ALLOWED = frozenset({"mine"})


def only_mine(plan_name: str) -> None:
    if plan_name not in ALLOWED:
        raise PermissionDenied(f"may not touch plan {plan_name!r}")


async def test_plan_limited_caller(engine: Engine) -> None:
    async with running(engine) as admin:
        for name in ("mine", "theirs"):
            await admin.plans.ProvisionPlan(
                plan_service_pb2.ProvisionPlanRequest(plan=plan(name=name))
            )
        theirs = await admin.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(context_name="theirs")
        )
    async with running(engine, plan_access=only_mine, visible_plans=lambda: ALLOWED) as d:
        listed = await d.plans.ListPlans(plan_service_pb2.ListPlansRequest())
        assert [p.name for p in listed.plans] == ["mine"]
        await refused(
            d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="theirs")),
            Code.PERMISSION_DENIED,
            "theirs",
        )
        await refused(
            d.plans.ProvisionPlan(
                plan_service_pb2.ProvisionPlanRequest(plan=plan(name="theirs", description="x"))
            ),
            Code.PERMISSION_DENIED,
        )
        await refused(
            d.instances.GetInstance(
                instance_service_pb2.GetInstanceRequest(context_instance_id=theirs.id)
            ),
            Code.PERMISSION_DENIED,
        )
        await refused(
            d.jobs.HoldJob(
                job_service_pb2.JobVerbRequest(
                    job=common_pb2.JobRef(context_instance_id=theirs.id, job_identifier="a-one")
                )
            ),
            Code.PERMISSION_DENIED,
        )
        every = await d.instances.ListInstances(
            instance_service_pb2.ListInstancesRequest(include_prepared=True)
        )
        assert {i.context_name for i in every.instances} == {"mine"}
        mine = await d.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="mine"))
        assert mine.summary.name == "mine"
