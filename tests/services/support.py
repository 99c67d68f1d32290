"""Plans and assertions shared by the service tests."""

from __future__ import annotations

from collections.abc import Awaitable

import grpc
import pytest

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.loader import load_plan_text

PLAN = """
name: daily
description: two jobs in a chain
timeWindowStart: "0 0 6 ? * * *"
timezone: Europe/London
contextTtlMilliseconds: 28800000
owner: ops-team
contextParameters:
  - {name: REGION, defaultValue: eu}
  - {name: PASSWORD, defaultValue: hunter2, secret: true}
scheduledJobs:
  - agentName: a
    jobName: one
    internalEventDrivenJob: {commandLine: "true"}
  - agentName: a
    jobName: two
    internalEventDrivenJob: {commandLine: "true"}
  - agentName: b
    jobName: tick
    quartzScheduleDrivenJob: {cronExpression: "0 30 7 ? * MON-FRI", timeZone: America/New_York}
jobDependencies:
  - jobIdentifier: a-one
  - jobIdentifier: a-two
    logicalGrouping: {and: [a-one]}
"""


def plan(**fields: object) -> plan_pb2.Context:
    p = load_plan_text(PLAN)
    for name, value in fields.items():
        setattr(p, name, value)
    return p


async def refused(call: Awaitable[object], code: grpc.StatusCode, *needles: str) -> str:
    """Await a call that must fail with `code`; its details must contain every needle."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    details = info.value.details() or ""
    for needle in needles:
        assert needle in details, details
    return details
