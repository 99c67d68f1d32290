"""DashboardMessages the orchestrator queues for agents (outbox rows), built from domain values."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from ikasched.v1 import agent_pb2, common_pb2, plan_pb2
from ikasched_dashboard.engine.effects import CancelInitiation, KillJob, RaiseInitiation
from ikasched_dashboard.engine.model import VIRTUAL_AGENT_NAMES, Plan
from ikasched_dashboard.engine.state import InstanceState
from ikasched_dashboard.plans.convert import initiation_to_proto
from ikasched_dashboard.store.messages import OutboxMessage

_VIRTUAL = frozenset(VIRTUAL_AGENT_NAMES.values())


def plan_agents(plan: Plan) -> tuple[str, ...]:
    """Real agents with jobs in the plan (virtual jobs resolve inside the dashboard)."""
    return tuple(sorted({j.agent_name for j in plan.jobs.values()} - _VIRTUAL - {""}))


def _row(agent: str, msg: agent_pb2.DashboardMessage, instance_id: str | None) -> OutboxMessage:
    return OutboxMessage(
        agent_name=agent,
        message=msg.SerializeToString(),
        message_id=msg.id,
        type_name=msg.WhichOneof("body") or "",
        instance_id=instance_id,
        created_time=msg.created_time,
    )


def initiation(init: RaiseInitiation, now: int) -> OutboxMessage:
    msg = agent_pb2.DashboardMessage(id=init.initiation_id, created_time=now)
    msg.initiation.CopyFrom(initiation_to_proto(init))
    return _row(init.agent_name, msg, init.instance_id)


def cancel(c: CancelInitiation, instance_id: str, now: int) -> OutboxMessage:
    msg = agent_pb2.DashboardMessage(id=f"cancel:{c.initiation_id}", created_time=now)
    msg.cancel_initiation.initiation_id = c.initiation_id
    msg.cancel_initiation.reason = "job held"
    return _row(c.agent_name, msg, instance_id)


def kill(
    k: KillJob,
    instance_id: str,
    now: int,
    *,
    destroy: bool = False,
    user: str = "",
    reason: str = "",
) -> OutboxMessage:
    msg = agent_pb2.DashboardMessage(
        id=f"kill:{k.initiation_id}:{uuid.uuid4().hex[:8]}", created_time=now
    )
    msg.kill_job.initiation_id = k.initiation_id
    msg.kill_job.context_instance_id = instance_id
    msg.kill_job.job_identifier = k.job_identifier
    msg.kill_job.pid = k.pid
    msg.kill_job.destroy = destroy
    msg.kill_job.user = user
    msg.kill_job.reason = reason
    return _row(k.agent_name, msg, instance_id)


def activation(
    state: InstanceState,
    plan: Plan,
    agent: str,
    *,
    start_time: int,
    projected_end_time: int,
    timezone: str,
) -> agent_pb2.ActivateInstance:
    """What an agent needs to run its jobs of one live instance (triggers, parameters)."""
    act = agent_pb2.ActivateInstance(
        context_instance_id=state.instance_id,
        context_name=state.plan_name,
        start_time=start_time,
        projected_end_time=projected_end_time,
        timezone=timezone,
        quartz_schedule_driven_jobs_disabled=state.quartz_disabled,
        job_identifiers=sorted(i for i, j in plan.jobs.items() if j.agent_name == agent),
        dry_run=state.dry_run,
        child_context_names=list(plan.order),
    )
    for name, value in sorted(state.parameters.items()):
        act.context_parameters.append(common_pb2.ContextParameterInstance(name=name, value=value))
    return act


def activate(act: agent_pb2.ActivateInstance, agent: str, now: int) -> OutboxMessage:
    msg = agent_pb2.DashboardMessage(id=f"activate:{uuid.uuid4().hex}", created_time=now)
    msg.activate_instance.CopyFrom(act)
    return _row(agent, msg, act.context_instance_id)


def remove(instance_id: str, agent: str, now: int, *, kill_running_jobs: bool) -> OutboxMessage:
    msg = agent_pb2.DashboardMessage(id=f"remove:{uuid.uuid4().hex}", created_time=now)
    msg.remove_instance.context_instance_id = instance_id
    msg.remove_instance.kill_running_jobs = kill_running_jobs
    return _row(agent, msg, instance_id)


def sync(acts: list[agent_pb2.ActivateInstance], now: int) -> agent_pb2.DashboardMessage:
    msg = agent_pb2.DashboardMessage(id=f"sync:{uuid.uuid4().hex}", created_time=now)
    msg.sync_instances.instances.extend(acts)
    return msg


def _jobs(ctx: plan_pb2.Context) -> Iterator[plan_pb2.SchedulerJob]:
    yield from ctx.scheduled_jobs
    for child in ctx.contexts:
        yield from _jobs(child)


def provision(
    root: plan_pb2.Context, version: int, agent: str, now: int
) -> agent_pb2.DashboardMessage:
    """ProvisionJobs: the plan's jobs for one agent (each identifier once)."""
    msg = agent_pb2.DashboardMessage(id=f"provision:{uuid.uuid4().hex}", created_time=now)
    p = msg.provision_jobs
    p.context_name = root.name
    p.plan_version = version
    p.timezone = root.timezone
    seen: set[str] = set()
    for job in _jobs(root):
        key = job.identifier or f"{job.agent_name}-{job.job_name}"
        if job.agent_name == agent and key not in seen:
            seen.add(key)
            p.jobs.append(job)
    return msg


def remove_plan(plan_name: str, now: int) -> agent_pb2.DashboardMessage:
    msg = agent_pb2.DashboardMessage(id=f"unprovision:{uuid.uuid4().hex}", created_time=now)
    msg.remove_plan_jobs.context_name = plan_name
    return msg


def as_row(agent: str, msg: agent_pb2.DashboardMessage) -> OutboxMessage:
    return _row(agent, msg, None)
