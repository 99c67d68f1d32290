"""The overview page's figures: live instances by status, jobs in ERROR across plans, agents
away, missed runs and the last day's alerts; each section from its own call, so one refused
call (a plan-limited token) shows its refusal and leaves the others."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable
from typing import Any

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    common_pb2,
    instance_service_pb2,
    job_service_pb2,
)
from ikasched_common import clock as clocks
from ikasched_web.api import Api, ApiError, stub

DAY_MS = 24 * 3600 * 1000


async def _section(call: Awaitable[Any]) -> tuple[Any, str]:
    try:
        return await call, ""
    except ApiError as exc:
        return None, str(exc)


async def overview(api: Api, token: str, clock: clocks.Clock) -> dict[str, Any]:
    page = common_pb2.PageRequest(page_size=100)
    instances, instances_error = await _section(
        api.call(
            api.instances.ListInstances,
            instance_service_pb2.ListInstancesRequest(page=common_pb2.PageRequest(page_size=1000)),
            token,
        )
    )
    errors, errors_error = await _section(
        api.call(
            api.jobs.ListJobs,
            job_service_pb2.ListJobsRequest(statuses=[common_pb2.ERROR], page=page),
            token,
        )
    )
    agents_stub = stub(admin_service_pb2_grpc.AgentServiceStub, api.channel)
    agents, agents_error = await _section(
        api.call(agents_stub.ListAgents, admin_service_pb2.ListAgentsRequest(), token)
    )
    missed, missed_error = await _section(
        api.call(
            api.instances.ListMissedRuns,
            instance_service_pb2.ListMissedRunsRequest(page=page),
            token,
        )
    )
    alerts, alerts_error = await _section(
        api.call(
            api.instances.ListAudit,
            instance_service_pb2.ListAuditRequest(
                kinds=["alert"], after_time=clock.now_ms() - DAY_MS, page=page
            ),
            token,
        )
    )
    by_status: Counter[int] = (
        Counter(i.status for i in instances.instances) if instances else Counter()
    )
    return {
        "by_status": sorted(by_status.items()),
        "instances_error": instances_error,
        "error_jobs": errors.jobs if errors else [],
        "errors_error": errors_error,
        "agents_away": [a for a in agents.agents if not a.connected] if agents else [],
        "agents_total": len(agents.agents) if agents else 0,
        "agents_error": agents_error,
        "missed": missed.missed_runs if missed else [],
        "missed_error": missed_error,
        "alerts": alerts.records if alerts else [],
        "alerts_error": alerts_error,
    }
