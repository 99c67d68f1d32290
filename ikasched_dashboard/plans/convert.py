"""Protocol <-> engine: proto plan -> compiled domain Plan, domain initiation -> proto
SchedulerJobInitiationEvent, proto process event <-> domain ProcessEvent.

The only module between the engine and protobuf; the engine itself never imports protobuf.
"""

from __future__ import annotations

from collections.abc import Iterator

from ikasched.v1 import common_pb2, events_pb2, plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.inputs import DryRunParams, ProcessEvent
from ikasched_dashboard.engine.model import (
    VIRTUAL_AGENT_NAMES,
    CommandSpec,
    ContextSpec,
    Dependency,
    Grouping,
    JobDef,
    JobKind,
    LockDef,
    LockParticipant,
    Operand,
    Parameter,
    Plan,
    PlanFlags,
    Status,
    compile_plan,
    default_identifier,
)

_KIND_BY_FIELD: dict[str, JobKind] = {
    "internal_event_driven_job": JobKind.COMMAND,
    "quartz_schedule_driven_job": JobKind.QUARTZ,
    "file_event_driven_job": JobKind.FILE,
    "global_event_job": JobKind.GLOBAL,
    "context_start_job": JobKind.START,
    "context_terminal_job": JobKind.TERMINAL,
    "local_event_job": JobKind.LOCAL,
    "bridging_job": JobKind.BRIDGING,
}


def _parameters(params: Iterator[common_pb2.ContextParameter] | list[common_pb2.ContextParameter]
                ) -> tuple[Parameter, ...]:  # fmt: skip
    return tuple(Parameter(p.name, p.default_value, p.secret) for p in params)


def _command(job: plan_pb2.InternalEventDrivenJob) -> CommandSpec:
    return CommandSpec(
        command_line=job.command_line,
        working_directory=job.working_directory,
        successful_return_codes=tuple(job.successful_return_codes),
        min_execution_time=job.min_execution_time,
        max_execution_time=job.max_execution_time,
        days_of_week_to_run=tuple(int(d) for d in job.days_of_week_to_run),
        participates_in_lock=job.participates_in_lock,
        execution_environment_properties=job.execution_environment_properties,
        timeout_seconds=job.timeout_seconds,
        retry_count=job.retry.count if job.HasField("retry") else 0,
        retry_delay_seconds=job.retry.delay_seconds if job.HasField("retry") else 0,
        run_as_user=job.run_as_user,
    )


def _grouping(g: plan_pb2.LogicalGrouping, path: str) -> Grouping:
    def ops(items: list[plan_pb2.LogicalOperator], name: str) -> tuple[Operand, ...]:
        out: list[Operand] = []
        for n, op in enumerate(items):
            which = op.WhichOneof("operand")
            if which == "identifier":
                out.append(op.identifier)
            elif which == "logical_grouping":
                out.append(_grouping(op.logical_grouping, f"{path}.{name}[{n}].logical_grouping"))
            else:
                raise InvalidArgument("operand sets neither identifier nor logical_grouping",
                                      field=f"{path}.{name}[{n}]")  # fmt: skip
        return tuple(out)

    return Grouping(
        all_of=ops(list(g.all_of), "and"),
        any_of=ops(list(g.any_of), "or"),
        none_of=ops(list(g.none_of), "not"),
        nested=(
            _grouping(g.logical_grouping, f"{path}.logical_grouping")
            if g.HasField("logical_grouping")
            else None
        ),
    )


class _Jobs:
    """Collects full job definitions and resolves bare occurrences to them."""

    def __init__(self) -> None:
        self.defs: dict[str, plan_pb2.SchedulerJob] = {}
        self.held: dict[str, set[str]] = {}
        self.skipped: dict[str, set[str]] = {}

    @staticmethod
    def identifier(job: plan_pb2.SchedulerJob) -> str:
        if job.identifier:
            return job.identifier
        agent = job.agent_name
        which = job.WhichOneof("job_type")
        if not agent and which is not None and _KIND_BY_FIELD[which] in VIRTUAL_AGENT_NAMES:
            agent = VIRTUAL_AGENT_NAMES[_KIND_BY_FIELD[which]]
        return default_identifier(agent, job.job_name)

    def add(self, job: plan_pb2.SchedulerJob, path: str) -> str:
        ident = self.identifier(job)
        if not job.identifier and not job.job_name:
            raise InvalidArgument("a job needs an identifier or a job_name", field=path)
        if job.WhichOneof("job_type") is not None:
            known = self.defs.get(ident)
            if known is not None and known.SerializeToString(
                deterministic=True
            ) != job.SerializeToString(deterministic=True):
                raise InvalidArgument(
                    f"job {ident!r} is defined twice with different definitions", field=path
                )
            self.defs[ident] = job
        for ctx, flag in job.held_contexts.items():
            if flag:
                self.held.setdefault(ident, set()).add(ctx)
        for ctx, flag in job.skipped_contexts.items():
            if flag:
                self.skipped.setdefault(ident, set()).add(ctx)
        return ident

    def build(self, ident: str) -> JobDef:
        job = self.defs[ident]
        which = job.WhichOneof("job_type")
        assert which is not None
        kind = _KIND_BY_FIELD[which]
        agent = job.agent_name or VIRTUAL_AGENT_NAMES.get(kind, "")
        command = None
        repeatable = trco = ignore_group = False
        params: tuple[Parameter, ...] = ()
        if kind is JobKind.COMMAND:
            spec = job.internal_event_driven_job
            command = _command(spec)
            repeatable = spec.job_repeatable
            trco = spec.target_residing_context_only
            params = _parameters(list(spec.context_parameters))
        elif kind is JobKind.GLOBAL:
            ignore_group = job.global_event_job.ignore_environment_group
        return JobDef(
            identifier=ident,
            agent_name=agent,
            job_name=job.job_name,
            kind=kind,
            description=job.job_description,
            display_name=job.display_name,
            priority=job.priority,
            owner=job.owner,
            parameters=params,
            repeatable=repeatable,
            target_residing_context_only=trco,
            held_contexts=frozenset(self.held.get(ident, ())),
            skipped_contexts=frozenset(self.skipped.get(ident, ())),
            command=command,
            ignore_environment_group=ignore_group,
        )


def plan_from_proto(root: plan_pb2.Context, *, version: str = "1") -> Plan:
    """Compile a proto plan; InvalidArgument names the offending field."""
    jobs = _Jobs()

    def spec(c: plan_pb2.Context, path: str) -> ContextSpec:
        idents = tuple(
            jobs.add(j, f"{path}.scheduled_jobs[{n}]") for n, j in enumerate(c.scheduled_jobs)
        )
        deps = tuple(
            Dependency(
                d.job_identifier,
                _grouping(d.logical_grouping, f"{path}.job_dependencies[{n}].logical_grouping")
                if d.HasField("logical_grouping")
                else None,
            )
            for n, d in enumerate(c.job_dependencies)
        )
        locks = tuple(
            LockDef(
                name=lk.name,
                capacity=lk.lock_count,
                participants=tuple(
                    LockParticipant(p.identifier, p.child_context_name, p.lock_count or 1)
                    for p in lk.jobs
                ),
                exclusive=lk.exclusive_job_lock,
            )
            for lk in c.job_locks
        )
        children = tuple(spec(child, f"{path}.contexts[{n}]") for n, child in enumerate(c.contexts))
        return ContextSpec(
            name=c.name,
            jobs=idents,
            dependencies=deps,
            contexts=children,
            parameters=_parameters(list(c.context_parameters)),
            locks=locks,
        )

    if not root.name:
        raise InvalidArgument("a plan needs a name", field="name")
    tree = spec(root, "context")
    missing = sorted({i for i in _all_idents(tree) if i not in jobs.defs})
    if missing:
        raise InvalidArgument(
            f"jobs listed without a definition anywhere in the plan: {missing}",
            field="scheduled_jobs",
        )
    flags = PlanFlags(
        environment_group=root.environment_group,
        quartz_jobs_disabled=root.quartz_schedule_driven_jobs_disabled_for_context,
        end_upon_completion=root.end_job_plan_upon_completion,
    )
    return compile_plan(tree, [jobs.build(i) for i in jobs.defs], version=version, flags=flags)


def _all_idents(spec: ContextSpec) -> Iterator[str]:
    yield from spec.jobs
    for child in spec.contexts:
        yield from _all_idents(child)


def status_to_proto(status: Status) -> int:
    return common_pb2.InstanceStatus.Value(status.value)


def status_from_proto(value: int) -> Status:
    return Status(common_pb2.InstanceStatus.Name(value))


def _outcome(name: str) -> str:
    """Outcome enum by name (the engine keeps names; protobuf takes them as they are)."""
    return name or "OUTCOME_UNSPECIFIED"


def _dry_to_proto(p: DryRunParams | None) -> common_pb2.DryRunParameters | None:
    if p is None:
        return None
    return common_pb2.DryRunParameters(
        min_execution_time_millis=p.min_execution_time_millis,
        max_execution_time_millis=p.max_execution_time_millis,
        fixed_execution_time_millis=p.fixed_execution_time_millis,
        job_error_percentage=p.job_error_percentage,
        error=p.error,
    )


def dry_run_from_proto(p: common_pb2.DryRunParameters) -> DryRunParams:
    return DryRunParams(
        p.min_execution_time_millis,
        p.max_execution_time_millis,
        p.fixed_execution_time_millis,
        p.job_error_percentage,
        p.error,
    )


def _command_to_proto(job: JobDef) -> plan_pb2.InternalEventDrivenJob | None:
    c = job.command
    if c is None:
        return None
    out = plan_pb2.InternalEventDrivenJob(
        command_line=c.command_line,
        working_directory=c.working_directory,
        successful_return_codes=list(c.successful_return_codes),
        min_execution_time=c.min_execution_time,
        max_execution_time=c.max_execution_time,
        days_of_week_to_run=[common_pb2.DayOfWeek.Name(d) for d in c.days_of_week_to_run],
        context_parameters=[
            common_pb2.ContextParameter(name=p.name, default_value=p.default_value, secret=p.secret)
            for p in job.parameters
        ],
        target_residing_context_only=job.target_residing_context_only,
        participates_in_lock=c.participates_in_lock,
        execution_environment_properties=c.execution_environment_properties,
        job_repeatable=job.repeatable,
        timeout_seconds=c.timeout_seconds,
        run_as_user=c.run_as_user,
    )
    if c.retry_count:
        out.retry.count = c.retry_count
        out.retry.delay_seconds = c.retry_delay_seconds
    return out


def catalyst_to_proto(ev: ProcessEvent) -> events_pb2.ScheduledProcessEvent:
    return events_pb2.ScheduledProcessEvent(
        id=ev.id,
        outcome=_outcome(ev.outcome),
        agent_name=ev.agent_name,
        job_name=ev.job_name,
        job_group=ev.job_group,
        return_code=ev.return_code,
        successful=ev.successful,
        pid=ev.pid,
        fire_time=ev.time_ms,
        job_starting=ev.job_starting,
        dry_run=ev.dry_run,
    )


def initiation_to_proto(init: RaiseInitiation) -> events_pb2.SchedulerJobInitiationEvent:
    """The domain initiation as the agent receives it."""
    secrets = {p.name for p in init.job.parameters if p.secret}
    defaults = {p.name: p.default_value for p in init.job.parameters}
    out = events_pb2.SchedulerJobInitiationEvent(
        id=init.initiation_id,
        agent_name=init.agent_name,
        job_name=init.job_name,
        context_name=init.plan_name,
        child_context_names=list(init.child_context_names),
        context_instance_id=init.instance_id,
        context_parameters=[
            common_pb2.ContextParameterInstance(
                name=k, default_value=defaults.get(k, ""), value=v, secret=k in secrets
            )
            for k, v in init.parameters
        ],
        dry_run=init.dry_run,
        skipped=init.skipped,
        job_identifier=init.job_identifier,
        child_context_name=init.child_context_name,
        priority=init.priority,
        attempt=init.attempt,
        raised_time=init.raised_time,
        job_description=init.job.description,
        job_execution_output_parameters=dict(init.output_parameters),
        manually_submitted_by=init.manually_submitted_by,
    )
    command = _command_to_proto(init.job)
    if command is not None:
        out.internal_event_driven_job.CopyFrom(command)
    dry = _dry_to_proto(init.dry_run_parameters)
    if dry is not None:
        out.dry_run_parameters.CopyFrom(dry)
    if init.catalyst is not None:
        out.catalyst_event.CopyFrom(catalyst_to_proto(init.catalyst))
    return out


def event_from_proto(ev: events_pb2.ContextualisedScheduledProcessEvent) -> ProcessEvent:
    """A process event from an agent (or the dashboard) as the machine takes it."""
    return ProcessEvent(
        id=ev.id,
        agent_name=ev.agent_name,
        job_name=ev.job_name,
        job_identifier=ev.job_identifier,
        child_context_names=tuple(ev.child_context_names),
        successful=ev.successful,
        job_starting=ev.job_starting,
        skipped=ev.skipped,
        outcome=common_pb2.Outcome.Name(ev.outcome) if ev.outcome else "",
        job_group=ev.job_group,
        raised_due_to_failure_resubmission=ev.raised_due_to_failure_resubmission,
        output_parameters=tuple(sorted(ev.job_execution_output_parameters.items())),
        pid=ev.pid,
        return_code=ev.return_code,
        time_ms=ev.completion_time or ev.fire_time,
        initiation_id=ev.initiation_id,
        attempt=ev.attempt,
        manual=ev.manual,
        dry_run=ev.dry_run,
    )


def event_to_proto(
    ev: ProcessEvent, *, context_name: str, context_instance_id: str
) -> events_pb2.ContextualisedScheduledProcessEvent:
    """A domain event (e.g. a global event delivery) in its journaled protocol form."""
    return events_pb2.ContextualisedScheduledProcessEvent(
        id=ev.id,
        outcome=_outcome(ev.outcome),
        agent_name=ev.agent_name,
        job_name=ev.job_name,
        job_group=ev.job_group,
        return_code=ev.return_code,
        successful=ev.successful,
        pid=ev.pid,
        fire_time=ev.time_ms,
        job_starting=ev.job_starting,
        dry_run=ev.dry_run,
        context_name=context_name,
        child_context_names=list(ev.child_context_names),
        context_instance_id=context_instance_id,
        skipped=ev.skipped,
        raised_due_to_failure_resubmission=ev.raised_due_to_failure_resubmission,
        job_execution_output_parameters=dict(ev.output_parameters),
        initiation_id=ev.initiation_id,
        job_identifier=ev.job_identifier,
        attempt=ev.attempt,
        manual=ev.manual,
    )
