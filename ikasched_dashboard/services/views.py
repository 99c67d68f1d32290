"""Store rows and snapshots -> the protocol's messages (plans, instances, jobs, changes).

Secret parameter values never leave through these views: they are shown as "***".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from ikasched.v1 import common_pb2, instance_pb2, plan_pb2
from ikasched_common.secrets import is_sealed
from ikasched_dashboard.plans.validation import job_identifier
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store

MASK = "***"
_SATISFIED = frozenset({"COMPLETE", "SKIPPED_COMPLETE"})


_STATUS_NAMES = frozenset(common_pb2.InstanceStatus.keys())
_JOB_TYPE_NAMES = frozenset(common_pb2.JobType.keys())


def status_value(name: str) -> str:
    """The proto InstanceStatus name of a stored status (unknown -> unspecified)."""
    return name if name in _STATUS_NAMES else "INSTANCE_STATUS_UNSPECIFIED"


# The orchestrator stores the engine's JobKind values; proto names are accepted too.
_JOB_KIND_TYPES = {
    "COMMAND": "INTERNAL_EVENT_DRIVEN",
    "QUARTZ": "QUARTZ_SCHEDULE_DRIVEN",
    "FILE": "FILE_EVENT_DRIVEN",
    "GLOBAL": "GLOBAL_EVENT",
    "START": "CONTEXT_START",
    "TERMINAL": "CONTEXT_TERMINAL",
    "LOCAL": "LOCAL_EVENT",
    "BRIDGING": "BRIDGING",
}
AGENT_JOB_TYPES = frozenset(
    {"INTERNAL_EVENT_DRIVEN", "QUARTZ_SCHEDULE_DRIVEN", "FILE_EVENT_DRIVEN"}
)


def job_type_value(name: str) -> str:
    """The proto JobType name of a stored job type (engine kind or proto name)."""
    name = _JOB_KIND_TYPES.get(name, name)
    return name if name in _JOB_TYPE_NAMES else "JOB_TYPE_UNSPECIFIED"


def masked_plan(plan: plan_pb2.Context) -> plan_pb2.Context:
    """A copy with every secret parameter default shown as "***"."""
    copy = plan_pb2.Context()
    copy.CopyFrom(plan)
    for param in _plan_parameters(copy):
        if param.secret and param.default_value:
            param.default_value = MASK
    return copy


def _plan_parameters(plan: plan_pb2.Context) -> Iterator[Any]:
    yield from plan.context_parameters
    for job in plan.scheduled_jobs:
        if job.HasField("internal_event_driven_job"):
            yield from job.internal_event_driven_job.context_parameters
    for child in plan.contexts:
        yield from _plan_parameters(child)


def _parameter_keys(plan: plan_pb2.Context, prefix: str = "") -> Iterator[tuple[str, Any]]:
    here = f"{prefix}/{plan.name}"
    for p in plan.context_parameters:
        yield f"{here}#{p.name}", p
    for job in plan.scheduled_jobs:
        if job.HasField("internal_event_driven_job"):
            for p in job.internal_event_driven_job.context_parameters:
                yield f"{here}@{job_identifier(job)}#{p.name}", p
    for child in plan.contexts:
        yield from _parameter_keys(child, here)


def unmask_secrets(plan: plan_pb2.Context, previous: plan_pb2.Context | None) -> None:
    """In place: a secret default given as "***" (an exported plan sent back) keeps the
    previous version's value, so export -> provision changes nothing."""
    if previous is None:
        return
    old = dict(_parameter_keys(previous))
    for key, p in _parameter_keys(plan):
        if p.secret and p.default_value == MASK and key in old:
            p.default_value = old[key].default_value


def plan_jobs(plan: plan_pb2.Context) -> dict[str, plan_pb2.SchedulerJob]:
    """Every job's full definition by identifier (first definition wins)."""
    out: dict[str, plan_pb2.SchedulerJob] = {}

    def walk(c: plan_pb2.Context) -> None:
        for job in c.scheduled_jobs:
            ident = job_identifier(job)
            if ident and (
                ident not in out
                or (job.WhichOneof("job_type") and not out[ident].WhichOneof("job_type"))
            ):
                out[ident] = job
        for child in c.contexts:
            walk(child)

    walk(plan)
    return out


def agent_names(plan: plan_pb2.Context) -> list[str]:
    """Agents that run jobs of the plan (virtual jobs need none)."""
    kinds = {"internal_event_driven_job", "quartz_schedule_driven_job", "file_event_driven_job"}
    return sorted(
        {
            j.agent_name
            for j in plan_jobs(plan).values()
            if j.WhichOneof("job_type") in kinds and j.agent_name
        }
    )


def _walk_contexts(
    plan: plan_pb2.Context, parent: str = "", depth: int = 0
) -> Iterator[tuple[plan_pb2.Context, str, int]]:
    yield plan, parent, depth
    for child in plan.contexts:
        yield from _walk_contexts(child, plan.name, depth + 1)


@dataclass(frozen=True, slots=True)
class PlanIndex:
    """What instance views need of a plan version."""

    plan: plan_pb2.Context
    jobs: Mapping[str, plan_pb2.SchedulerJob]
    # (context name, target identifier) -> its grouping
    groupings: Mapping[tuple[str, str], plan_pb2.LogicalGrouping]
    root_parameters: Sequence[common_pb2.ContextParameter]
    repeating: bool = False
    secret_names: frozenset[str] = field(default_factory=frozenset)
    # job identifier -> the context holding its full definition (else the first listing it)
    residing: Mapping[str, str] = field(default_factory=dict)
    context_names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, plan: plan_pb2.Context) -> PlanIndex:
        groupings: dict[tuple[str, str], plan_pb2.LogicalGrouping] = {}
        residing: dict[str, str] = {}
        defined: dict[str, str] = {}
        names: set[str] = set()
        for ctx, _parent, _depth in _walk_contexts(plan):
            names.add(ctx.name)
            for job in ctx.scheduled_jobs:
                ident = job_identifier(job)
                if job.WhichOneof("job_type"):
                    defined.setdefault(ident, ctx.name)
                residing.setdefault(ident, ctx.name)
            for dep in ctx.job_dependencies:
                if dep.HasField("logical_grouping"):
                    groupings[(ctx.name, dep.job_identifier)] = dep.logical_grouping
        jobs = plan_jobs(plan)
        repeating = any(
            j.internal_event_driven_job.job_repeatable
            for j in jobs.values()
            if j.HasField("internal_event_driven_job")
        )
        secrets = frozenset(p.name for p in _plan_parameters(plan) if p.secret)
        residing.update(defined)
        return cls(
            plan,
            jobs,
            groupings,
            list(plan.context_parameters),
            repeating,
            secrets,
            residing,
            frozenset(names),
        )


def _operands(g: plan_pb2.LogicalGrouping) -> Iterator[str]:
    for op in (*g.all_of, *g.any_of):
        if op.WhichOneof("operand") == "identifier":
            yield op.identifier
        elif op.HasField("logical_grouping"):
            yield from _operands(op.logical_grouping)
    if g.HasField("logical_grouping"):
        yield from _operands(g.logical_grouping)


def _negated(g: plan_pb2.LogicalGrouping) -> Iterator[str]:
    for op in g.none_of:
        if op.WhichOneof("operand") == "identifier":
            yield op.identifier
    for op in (*g.all_of, *g.any_of):
        if op.HasField("logical_grouping"):
            yield from _negated(op.logical_grouping)
    if g.HasField("logical_grouping"):
        yield from _negated(g.logical_grouping)


def status_reason(
    row: instance_store.JobInstanceRow,
    index: PlanIndex | None,
    statuses: Mapping[tuple[str, str], instance_store.JobInstanceRow],
) -> str:
    """Why a job occurrence is where it is, in words (cheap: one look at its grouping)."""
    if row.status_reason:
        return row.status_reason
    status = row.status
    if row.held or status == "ON_HOLD":
        return "held by an operator"
    if status == "LOCK_QUEUED":
        return "waiting for a job lock"
    if status == "DISABLED":
        return "time-based jobs are disabled for this instance"
    if status == "ERROR":
        why = row.outcome_reason or f"failed with return code {row.return_code}"
        return f"{why}; error acknowledged" if row.error_acknowledged else why
    if status == "SKIPPED":
        return "marked to be skipped"
    if status != "WAITING" or index is None:
        return ""
    grouping = index.groupings.get((row.child_context, row.job_identifier))
    if grouping is None:
        return "root job: waits for its trigger or a manual run"

    def satisfied(ident: str) -> bool:
        other = statuses.get((row.child_context, ident))
        return other is not None and (
            other.status in _SATISFIED or (other.status == "ERROR" and other.error_acknowledged)
        )

    blocking = [ident for ident in dict.fromkeys(_negated(grouping)) if satisfied(ident)]
    if blocking:
        return f"blocked: {', '.join(blocking)} happened (a 'not' operand)"
    waiting = []
    for ident in dict.fromkeys(_operands(grouping)):
        other = statuses.get((row.child_context, ident))
        done = other is not None and (
            other.status in _SATISFIED or (other.status == "ERROR" and other.error_acknowledged)
        )
        if not done:
            waiting.append(ident)
    return f"waiting for: {', '.join(waiting)}" if waiting else "ready"


def job_proto(
    row: instance_store.JobInstanceRow,
    index: PlanIndex | None = None,
    statuses: Mapping[tuple[str, str], instance_store.JobInstanceRow] | None = None,
    *,
    with_event: bool = True,
) -> instance_pb2.SchedulerJobInstance:
    """A job occurrence; `with_event`: with its last process event (when one was kept)."""
    job = index.jobs.get(row.job_identifier) if index is not None else None
    repeatable = bool(
        job is not None
        and job.HasField("internal_event_driven_job")
        and job.internal_event_driven_job.job_repeatable
    )
    out = instance_pb2.SchedulerJobInstance(
        identifier=row.job_identifier,
        agent_name=row.agent_name,
        job_name=row.job_name,
        child_context_name=row.child_context,
        context_instance_id=row.instance_id,
        job_type=job_type_value(row.job_type),
        status=status_value(row.status),
        held=row.held,
        skip=row.skip,
        initiation_event_raised=row.initiation_raised,
        error_acknowledged=row.error_acknowledged,
        error_acknowledged_message=row.error_ack_message,
        error_acknowledgment_ticket_id=row.error_ack_ticket,
        error_acknowledge_user=row.error_ack_user,
        error_acknowledge_timestamp=row.error_ack_time,
        killed=row.killed,
        pid=row.pid,
        return_code=row.return_code,
        start_time=row.start_time,
        end_time=row.end_time,
        attempts=row.attempts,
        initiation_id=row.initiation_id,
        display_name=job.display_name if job is not None else "",
        status_reason=status_reason(row, index, statuses or {}),
        job_repeatable=repeatable,
        outcome_reason=row.outcome_reason,
        duration_millis=duration_ms(row),
        agent_hostname=row.agent_hostname,
    )
    if with_event and row.last_event:
        with contextlib.suppress(DecodeError):  # a row is never worth failing a read for
            out.scheduled_process_event.ParseFromString(row.last_event)
    return out


def duration_ms(row: instance_store.JobInstanceRow) -> int:
    """How long the last run took (0 while it runs or before it ran)."""
    if row.start_time and row.end_time >= row.start_time:
        return row.end_time - row.start_time
    return 0


def instance_proto(
    row: instance_store.InstanceRow,
    *,
    index: PlanIndex | None = None,
    snapshot: Mapping[str, Any] | None = None,
    jobs: Sequence[instance_store.JobInstanceRow] | None = None,
    load_error: str = "",
) -> instance_pb2.ContextInstance:
    """A ContextInstance; contexts, parameters and jobs only when their sources are given."""
    out = instance_pb2.ContextInstance(
        id=row.id,
        context_name=row.plan_name,
        plan_version=row.plan_version,
        status=status_value(row.status),
        created_date_time=row.created_time,
        updated_date_time=row.updated_time,
        start_time=row.start_time,
        end_time=row.end_time,
        projected_end_time=row.projected_end_time,
        timezone=row.timezone,
        run_context_until_manually_ended=row.run_until_manually_ended,
        quartz_schedule_driven_jobs_disabled=row.quartz_disabled,
        dry_run=row.dry_run,
        environment_group=row.environment_group,
        created_by=row.created_by,
        reset_from_instance_id=row.reset_from,
        contains_repeating_jobs=index.repeating if index is not None else False,
        load_error=load_error,
    )
    snap = snapshot or {}
    if index is not None:
        contexts = _mapping(snap.get("contexts"))
        for ctx, parent, depth in _walk_contexts(index.plan):
            out.contexts.add(
                context_name=ctx.name,
                parent_context_name=parent,
                status=status_value(str(contexts.get(ctx.name, row.status))),
                depth=depth,
            )
        values = _mapping(snap.get("parameters"))
        declared = {p.name: p for p in index.root_parameters}
        for name in dict.fromkeys([*declared, *values]):
            decl = declared.get(name)
            # sealed: declared secret, or given with secret=true though the plan does not say so
            secret = name in index.secret_names or is_sealed(str(values.get(name, "")))
            default = decl.default_value if decl is not None else ""
            value = str(values.get(name, default))
            out.context_parameters.add(
                name=name,
                default_value=MASK if secret and default else default,
                value=MASK if secret and value else value,
                secret=secret,
            )
    dry = snap.get("dry_run_parameters")
    if isinstance(dry, dict):
        out.dry_run_parameters.CopyFrom(
            common_pb2.DryRunParameters(
                min_execution_time_millis=int(dry.get("min", 0)),
                max_execution_time_millis=int(dry.get("max", 0)),
                fixed_execution_time_millis=int(dry.get("fixed", 0)),
                job_error_percentage=float(dry.get("pct", 0.0)),
                error=bool(dry.get("error")),
            )
        )
    if jobs is not None:
        statuses = {(j.child_context, j.job_identifier): j for j in jobs}
        out.jobs.extend(job_proto(j, index, statuses) for j in jobs)
    return out


def _mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def change_proto(change: change_store.Change) -> instance_pb2.InstanceChange | None:
    """An audit row as a watch item; None for rows that record no status change."""
    e = change.entry
    if not e.to_status:
        return None
    out = instance_pb2.InstanceChange(
        position=change.position,
        time=e.time,
        context_instance_id=e.instance_id,
        context_name=e.plan_name,
    )
    if e.job_identifier:
        out.job.CopyFrom(
            instance_pb2.JobStatusChange(
                job_identifier=e.job_identifier,
                child_context_name=e.child_context,
                previous_status=status_value(e.from_status),
                new_status=status_value(e.to_status),
                cause=e.cause,
                actor=e.actor,
            )
        )
    else:
        out.context.CopyFrom(
            instance_pb2.ContextStatusChange(
                context_name=e.child_context or e.plan_name,
                previous_status=status_value(e.from_status),
                new_status=status_value(e.to_status),
            )
        )
    return out
