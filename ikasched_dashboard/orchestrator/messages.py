"""DashboardMessages the orchestrator queues for agents (outbox rows), built from domain values."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from ikasched.v1 import agent_pb2, common_pb2, plan_pb2
from ikasched_dashboard.engine.effects import CancelInitiation, KillJob, RaiseInitiation
from ikasched_dashboard.engine.model import VIRTUAL_AGENT_NAMES, Plan
from ikasched_dashboard.engine.state import InstanceState
from ikasched_dashboard.plans.convert import initiation_to_proto
from ikasched_dashboard.store.messages import SYNC_MESSAGE_PREFIX, OutboxMessage

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


#: Message ids of the rows a reconnect sync queues start with this; a newer sync for the same
#: agent deletes the older one's unsent rows (docs/architecture.md §4.11).
SYNC_ID_PREFIX = SYNC_MESSAGE_PREFIX
#: Room kept in every part for the message's own fields (id, time, part numbers, plan name).
_HEADER_ROOM = 1024


def _entry_cost(size: int) -> int:
    """Bytes one repeated entry of `size` takes in its message (tag and length prefix)."""
    return size + 1 + (size.bit_length() + 6) // 7


def _packed(sizes: list[int], budget: int) -> list[list[int]]:
    """Indexes of `sizes` in order, cut into runs whose costs fit `budget` (an entry over
    the budget on its own is left out: the caller reports it)."""
    runs: list[list[int]] = [[]]
    used = 0
    for n, size in enumerate(sizes):
        cost = _entry_cost(size)
        if cost > budget:
            continue
        if runs[-1] and used + cost > budget:
            runs.append([])
            used = 0
        runs[-1].append(n)
        used += cost
    return runs


@dataclass(frozen=True, slots=True)
class Oversized:
    """An entry a link message could not carry even alone (never queued; reported)."""

    what: str
    size: int


def sync(
    acts: list[agent_pb2.ActivateInstance], now: int, limit: int, sync_id: str
) -> tuple[list[agent_pb2.DashboardMessage], list[Oversized]]:
    """SyncInstances in as many parts as `limit` (bytes per message) needs, one part at
    least; an activation that cannot fit a message alone is left out and returned."""
    sizes = [a.ByteSize() for a in acts]
    runs = _packed(sizes, limit - _HEADER_ROOM)
    out: list[agent_pb2.DashboardMessage] = []
    for n, run in enumerate(runs, start=1):
        msg = agent_pb2.DashboardMessage(id=f"{sync_id}:{n}", created_time=now)
        body = msg.sync_instances
        body.instances.extend(acts[i] for i in run)
        if len(runs) > 1:
            body.sync_id, body.part, body.parts = sync_id, n, len(runs)
        out.append(msg)
    skipped = [
        Oversized(f"instance {acts[i].context_instance_id}", size)
        for i, size in enumerate(sizes)
        if _entry_cost(size) > limit - _HEADER_ROOM
    ]
    return out, skipped


def superseded(message_id: str) -> bytes:
    """What an older sync's already-sent row becomes once a newer sync replaced it: the same
    id, no body (the agent ignores it; the link's order is kept)."""
    return agent_pb2.DashboardMessage(id=message_id).SerializeToString()


def new_sync_id() -> str:
    return f"{SYNC_ID_PREFIX}{uuid.uuid4().hex}"


def _jobs(ctx: plan_pb2.Context) -> Iterator[plan_pb2.SchedulerJob]:
    yield from ctx.scheduled_jobs
    for child in ctx.contexts:
        yield from _jobs(child)


def provision(
    root: plan_pb2.Context,
    version: int,
    agent: str,
    now: int,
    limit: int,
    id_prefix: str = "",
) -> tuple[list[agent_pb2.DashboardMessage], list[Oversized]]:
    """ProvisionJobs: the plan's jobs for one agent (each identifier once), in as many parts
    as `limit` (bytes per message) needs; a job that cannot fit a message alone is left out
    and returned. `id_prefix` names the messages (default: a new `provision:<uuid>`)."""
    prefix = id_prefix or f"provision:{uuid.uuid4().hex}"
    jobs: list[plan_pb2.SchedulerJob] = []
    seen: set[str] = set()
    for job in _jobs(root):
        key = job.identifier or f"{job.agent_name}-{job.job_name}"
        if job.agent_name == agent and key not in seen:
            seen.add(key)
            jobs.append(job)
    sizes = [j.ByteSize() for j in jobs]
    budget = limit - _HEADER_ROOM - len(root.name.encode()) - len(root.timezone.encode())
    runs = _packed(sizes, budget)
    out: list[agent_pb2.DashboardMessage] = []
    for n, run in enumerate(runs, start=1):
        msg = agent_pb2.DashboardMessage(id=f"{prefix}:{n}", created_time=now)
        p = msg.provision_jobs
        p.context_name = root.name
        p.plan_version = version
        p.timezone = root.timezone
        p.jobs.extend(jobs[i] for i in run)
        if len(runs) > 1:
            p.sync_id, p.part, p.parts = prefix, n, len(runs)
        out.append(msg)
    skipped = [
        Oversized(f"job {j.identifier or j.job_name} of plan {root.name}", size)
        for j, size in zip(jobs, sizes, strict=True)
        if _entry_cost(size) > budget
    ]
    return out, skipped


def remove_plan(plan_name: str, now: int) -> agent_pb2.DashboardMessage:
    msg = agent_pb2.DashboardMessage(id=f"unprovision:{uuid.uuid4().hex}", created_time=now)
    msg.remove_plan_jobs.context_name = plan_name
    return msg


def as_row(agent: str, msg: agent_pb2.DashboardMessage) -> OutboxMessage:
    return _row(agent, msg, None)
