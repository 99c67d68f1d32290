"""Check a job plan and report every problem at once.

Paths name the offending element in the JSON names json_format emits (lowerCamelCase, with
``and``/``or``/``not`` for the grouping lists), from the plan root, e.g.
``contexts[1].jobDependencies[3].logicalGrouping.and[0]``; fields of the plan itself have no
prefix (``name``, ``timeWindowStart``); ``""`` names the whole plan.

Order of problems: size limits first; then, context by context (the plan, then its child
contexts depth-first in document order), the context's own fields, parameters, jobs,
dependencies, locks and context dependencies; then dependency cycles; then jobs no event can
reach.

Rules the engine's compiler (plans.convert / engine.model) also enforces are ERRORs here, so
a plan without errors compiles: a dependency's target and every operand (``not`` included)
must be jobs of the dependency's own context (list them there; an occurrence giving only the
identifier is enough, the full definition may sit in any context); a job defined in full more
than once must be defined identically, field for field (``ordinal`` included).

Job identifiers default to ``<agentName>-<jobName>``; a virtual job without an agent name uses
its type's Ikasan constant (``GLOBAL_EVENT``, ``CONTEXT_START_JOB``, ``CONTEXT_TERMINAL_JOB``,
``LOCAL_EVENT_JOB``, ``BRIDGING_JOB``). A lock participant without ``childContextName`` takes
part wherever the job resides.

How reachability is computed (warning "runs only by a manual run"): the engine raises a command
job (``internalEventDrivenJob``) only as the target of a job dependency that has a logical
grouping which can fire, i.e. every level of it has at least one ``and``/``or`` operand that
can hold (a job, or a nested grouping that can fire itself). A dependency without a grouping
marks a root job, which only an external event starts; agents fire only time and file jobs, and
global events arrive from outside, so a command job that is only a root job, the target of no
dependency, or the target only of groupings that cannot fire, can be started only by an
operator's manual run. Time, file and virtual jobs are not checked.

Dependency cycles follow ``and``/``or`` operands (at any depth) to the target, across contexts;
``not`` operands only hold a job back, so they are not edges. A cycle is an ERROR.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from ikasched.v1 import common_pb2, plan_pb2
from ikasched_common.errors import InvalidArgument

#: Most job occurrences (entries of scheduledJobs, all contexts together) in one plan.
MAX_JOBS = 10_000
#: Most contexts (the plan and all its child contexts) in one plan.
MAX_CONTEXTS = 10_000
#: Deepest nesting of contexts; the plan itself is depth 1.
MAX_CONTEXT_DEPTH = 32
#: Deepest nesting of logical groupings inside one dependency.
MAX_GROUPING_DEPTH = 32
#: Longest name (plan, context, job identifier, agent, job name, lock, parameter).
MAX_NAME_LENGTH = 200
#: Exit statuses a process can return on the platforms agents support.
MIN_RETURN_CODE, MAX_RETURN_CODE = 0, 255

# Fields of Context meaningful only on the plan (the root context).
ROOT_ONLY_FIELDS: frozenset[str] = frozenset(
    {
        "time_window_start",
        "context_ttl_milliseconds",
        "timezone",
        "blackout_window_cron_expressions",
        "blackout_window_date_time_ranges",
        "environment_group",
        "quartz_schedule_driven_jobs_disabled_for_context",
        "able_to_run_concurrently",
        "end_job_plan_upon_completion",
        "custom_week_day_of_month",
        "disabled",
        "delay_agent_synchronisation_until_next_instance",
        "requires_agent_synchronisation",
        "misfire_grace_seconds",
    }
)

_AGENT_RUN_TYPES = frozenset(
    {
        "internal_event_driven_job",
        "quartz_schedule_driven_job",
        "file_event_driven_job",
    }
)


class Severity(enum.Enum):
    """ERROR refuses the plan; WARNING is reported and the plan accepted."""

    ERROR = "ERROR"
    WARNING = "WARNING"


_PROTO_SEVERITY: dict[Severity, common_pb2.ValidationProblem.Severity] = {
    Severity.ERROR: common_pb2.ValidationProblem.ERROR,
    Severity.WARNING: common_pb2.ValidationProblem.WARNING,
}


@dataclass(frozen=True, slots=True)
class ValidationProblem:
    """One problem: the path of the offending element, what is wrong, how serious."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.severity.value} {where}{self.message}"

    def to_proto(self) -> common_pb2.ValidationProblem:
        """The protocol's ValidationProblem."""
        return common_pb2.ValidationProblem(
            path=self.path,
            message=self.message,
            severity=_PROTO_SEVERITY[self.severity],
        )


def problems_to_proto(problems: Iterable[ValidationProblem]) -> list[common_pb2.ValidationProblem]:
    """Convert problems to the protocol's messages, in order."""
    return [p.to_proto() for p in problems]


def has_errors(problems: Iterable[ValidationProblem]) -> bool:
    """True when any problem refuses the plan."""
    return any(p.severity is Severity.ERROR for p in problems)


# --------------------------------------------------------------------------- Quartz time


def cron_problem(expression: str) -> str | None:
    """Why a Quartz cron expression is invalid, or None when it is valid."""
    from ikasched_common import quartz  # lazily: the CLI imports this module at start-up

    try:
        quartz.parse_cron(expression)
    except InvalidArgument as exc:
        return f"invalid Quartz cron {expression!r}: {exc}"
    return None


def zone_problem(name: str) -> str | None:
    """Why a timezone name is invalid, or None when it names an IANA zone."""
    from ikasched_common import quartz

    try:
        quartz.zone(name)
    except InvalidArgument as exc:
        return f"{exc.reason} (expected an IANA name such as 'Europe/London')"
    return None


# --------------------------------------------------------------------------- plan walk


# Ikasan's agent-name constants of the virtual jobs, used when a virtual job gives no agent.
VIRTUAL_AGENT_NAMES: dict[str, str] = {
    "global_event_job": "GLOBAL_EVENT",
    "context_start_job": "CONTEXT_START_JOB",
    "context_terminal_job": "CONTEXT_TERMINAL_JOB",
    "local_event_job": "LOCAL_EVENT_JOB",
    "bridging_job": "BRIDGING_JOB",
}


def job_identifier(job: plan_pb2.SchedulerJob) -> str:
    """The job's identifier; by default "<agent_name>-<job_name>", where a virtual job's agent
    defaults to its type's constant (e.g. CONTEXT_START_JOB); "" when it cannot be formed."""
    if job.identifier:
        return job.identifier
    agent = job.agent_name or VIRTUAL_AGENT_NAMES.get(job.WhichOneof("job_type") or "", "")
    if agent and job.job_name:
        return f"{agent}-{job.job_name}"
    return ""


def _at(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


@dataclass(frozen=True, slots=True)
class _ContextAt:
    path: str  # prefix of the context's fields; "" for the plan
    context: plan_pb2.Context
    depth: int


@dataclass(frozen=True, slots=True)
class _JobAt:
    path: str
    job: plan_pb2.SchedulerJob
    identifier: str
    context: str  # name of the context it resides in


@dataclass(slots=True)
class _Index:
    contexts: list[_ContextAt] = field(default_factory=list)
    jobs: list[_JobAt] = field(default_factory=list)
    definitions: dict[str, _JobAt] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    context_names: set[str] = field(default_factory=set)
    residence: dict[str, set[str]] = field(default_factory=dict)  # context -> job identifiers
    parameters: set[str] = field(default_factory=set)


def _index(plan: plan_pb2.Context, out: list[ValidationProblem]) -> _Index:
    index = _Index()
    stack: list[_ContextAt] = [_ContextAt("", plan, 1)]
    too_deep_reported = False
    while stack:
        at = stack.pop()
        if len(index.contexts) == MAX_CONTEXTS:
            out.append(
                ValidationProblem(
                    "", f"the plan has more than {MAX_CONTEXTS} contexts (limit MAX_CONTEXTS)"
                )
            )
            break
        index.contexts.append(at)
        ctx = at.context
        index.context_names.add(ctx.name)
        resident = index.residence.setdefault(ctx.name, set())
        index.parameters.update(p.name for p in ctx.context_parameters)
        for i, job in enumerate(ctx.scheduled_jobs):
            ident = job_identifier(job)
            job_at = _JobAt(_at(at.path, f"scheduledJobs[{i}]"), job, ident, ctx.name)
            index.jobs.append(job_at)
            if ident:
                index.known.add(ident)
                resident.add(ident)
                if job.WhichOneof("job_type") and ident not in index.definitions:
                    index.definitions[ident] = job_at
        if ctx.contexts and at.depth >= MAX_CONTEXT_DEPTH:
            if not too_deep_reported:
                out.append(
                    ValidationProblem(
                        _at(at.path, "contexts"),
                        f"child contexts nest deeper than {MAX_CONTEXT_DEPTH} levels "
                        "(limit MAX_CONTEXT_DEPTH); deeper contexts were not checked",
                    )
                )
                too_deep_reported = True
            continue
        stack.extend(
            _ContextAt(_at(at.path, f"contexts[{i}]"), child, at.depth + 1)
            for i, child in reversed(list(enumerate(ctx.contexts)))
        )
    if len(index.jobs) > MAX_JOBS:
        out.insert(
            0,
            ValidationProblem(
                "",
                f"the plan has {len(index.jobs)} job occurrences; at most {MAX_JOBS} "
                "(limit MAX_JOBS)",
            ),
        )
    return index


def _positive_operands(grouping: plan_pb2.LogicalGrouping, depth: int = 1) -> Iterator[str]:
    """Job identifiers whose completion can help release the grouping (not under `not`)."""
    if depth > MAX_GROUPING_DEPTH:
        return  # reported as too deep already
    for operand in (*grouping.all_of, *grouping.any_of):
        if operand.WhichOneof("operand") == "identifier":
            yield operand.identifier
        elif operand.WhichOneof("operand") == "logical_grouping":
            yield from _positive_operands(operand.logical_grouping, depth + 1)
    if grouping.HasField("logical_grouping"):
        yield from _positive_operands(grouping.logical_grouping, depth + 1)


def _can_fire(grouping: plan_pb2.LogicalGrouping, depth: int = 1) -> bool:
    """Whether some statuses of the operands could make the grouping true (Ikasan's rule)."""
    if depth > MAX_GROUPING_DEPTH or not (grouping.all_of or grouping.any_of):
        return False
    nested = grouping.logical_grouping
    if grouping.HasField("logical_grouping") and not _can_fire(nested, depth + 1):
        return False

    def operand_can_hold(operand: plan_pb2.LogicalOperator) -> bool:
        if operand.WhichOneof("operand") == "identifier":
            return bool(operand.identifier)
        return operand.WhichOneof("operand") == "logical_grouping" and _can_fire(
            operand.logical_grouping, depth + 1
        )

    return (bool(grouping.all_of) and all(map(operand_can_hold, grouping.all_of))) or any(
        map(operand_can_hold, grouping.any_of)
    )


class _Checker:
    def __init__(self, plan: plan_pb2.Context) -> None:
        self.plan = plan
        self.out: list[ValidationProblem] = []
        self.index = _index(plan, self.out)
        self.context_seen: dict[str, str] = {}
        self.lock_seen: dict[str, str] = {}
        self.agent_job_seen: dict[tuple[str, str], str] = {}

    # -- reporting
    def error(self, path: str, message: str) -> None:
        self.out.append(ValidationProblem(path, message, Severity.ERROR))

    def warning(self, path: str, message: str) -> None:
        self.out.append(ValidationProblem(path, message, Severity.WARNING))

    def name_length(self, path: str, name: str, what: str) -> None:
        if len(name) > MAX_NAME_LENGTH:
            self.error(
                path,
                f"{what} is {len(name)} characters long; at most {MAX_NAME_LENGTH} "
                "(limit MAX_NAME_LENGTH)",
            )

    def cron(self, path: str, expression: str) -> None:
        problem = cron_problem(expression)
        if problem:
            self.error(path, problem)

    def zone(self, path: str, name: str) -> None:
        if name:
            problem = zone_problem(name)
            if problem:
                self.error(path, problem)

    def not_negative(self, path: str, value: int, what: str) -> None:
        if value < 0:
            self.error(path, f"{what} must not be negative, got {value}")

    # -- walk
    def run(self) -> list[ValidationProblem]:
        for at in self.index.contexts:
            self.context(at)
        self.cycles()
        self.reachability()
        self.completion_blockers()
        return self.out

    def context(self, at: _ContextAt) -> None:
        ctx, prefix, is_root = at.context, at.path, at.path == ""
        name_path = _at(prefix, "name")
        if not ctx.name:
            self.error(
                name_path, "a plan needs a name" if is_root else "a child context needs a name"
            )
        else:
            self.name_length(name_path, ctx.name, "the name")
            if ctx.name in self.context_seen:
                first = self.context_seen[ctx.name]
                self.error(
                    name_path,
                    f"context name {ctx.name!r} is already used by "
                    f"{first or 'the plan'}; names must be unique in the plan",
                )
            else:
                self.context_seen[ctx.name] = prefix
        if not is_root:
            for fd, _ in ctx.ListFields():
                if fd.name in ROOT_ONLY_FIELDS:
                    self.warning(
                        _at(prefix, fd.json_name),
                        "only meaningful on the plan (the root context); "
                        "ignored on a child context",
                    )
        if ctx.time_window_start:
            self.cron(_at(prefix, "timeWindowStart"), ctx.time_window_start)
        self.zone(_at(prefix, "timezone"), ctx.timezone)
        self.not_negative(
            _at(prefix, "contextTtlMilliseconds"), ctx.context_ttl_milliseconds, "the TTL"
        )
        self.not_negative(
            _at(prefix, "misfireGraceSeconds"), ctx.misfire_grace_seconds, "the misfire grace"
        )
        self.blackouts(
            prefix, ctx.blackout_window_cron_expressions, ctx.blackout_window_date_time_ranges
        )
        self.parameters(_at(prefix, "contextParameters"), ctx.context_parameters)
        seen_here: dict[str, str] = {}
        for i, job in enumerate(ctx.scheduled_jobs):
            self.job(_at(prefix, f"scheduledJobs[{i}]"), job, seen_here)
        for i, dependency in enumerate(ctx.job_dependencies):
            self.dependency(_at(prefix, f"jobDependencies[{i}]"), dependency, ctx.name)
        for i, lock in enumerate(ctx.job_locks):
            self.lock(_at(prefix, f"jobLocks[{i}]"), lock)
        if ctx.context_dependencies:
            self.warning(
                _at(prefix, "contextDependencies"),
                "context dependencies are never evaluated (as in Ikasan); order "
                "contexts with job dependencies on context start/terminal jobs instead",
            )

    def blackouts(
        self, prefix: str, crons: Iterable[str], ranges: Iterable[common_pb2.DateTimeRange]
    ) -> None:
        for i, expression in enumerate(crons):
            self.cron(_at(prefix, f"blackoutWindowCronExpressions[{i}]"), expression)
        for i, window in enumerate(ranges):
            path = _at(prefix, f"blackoutWindowDateTimeRanges[{i}]")
            if window.start < 0 or window.end < 0:
                self.error(path, "start and end are epoch milliseconds and not negative")
            elif window.end < window.start:
                self.error(path, f"end {window.end} is before start {window.start}")

    def parameters(self, prefix: str, parameters: Iterable[common_pb2.ContextParameter]) -> None:
        seen: dict[str, int] = {}
        for i, parameter in enumerate(parameters):
            path = f"{prefix}[{i}]"
            if not parameter.name:
                self.error(_at(path, "name"), "a parameter needs a name")
                continue
            self.name_length(_at(path, "name"), parameter.name, "the parameter name")
            if parameter.name in seen:
                first = f"{prefix}[{seen[parameter.name]}]"
                self.error(
                    _at(path, "name"),
                    f"parameter {parameter.name!r} is declared twice "
                    f"at this level (first at {first})",
                )
            else:
                seen[parameter.name] = i

    def job(self, path: str, job: plan_pb2.SchedulerJob, seen_here: dict[str, str]) -> None:
        ident = job_identifier(job)
        if not ident:
            self.error(path, "a job needs an identifier, or an agentName and a jobName")
            return
        self.name_length(_at(path, "identifier"), ident, "the job identifier")
        if ident in seen_here:
            self.warning(
                path,
                f"job {ident!r} is listed twice in this context (first at "
                f"{seen_here[ident]}); one listing is enough",
            )
        else:
            seen_here[ident] = path
        kind = job.WhichOneof("job_type")
        definition = self.index.definitions.get(ident)
        if kind is None:
            if definition is None:
                self.error(
                    path,
                    f"job {ident!r} is not defined anywhere in the plan: this "
                    "occurrence sets no job type and no other occurrence defines it",
                )
            return
        if definition is not None and definition.path != path:
            # Field for field, as the engine's compiler compares them (ordinal included).
            if definition.job.SerializeToString(deterministic=True) != job.SerializeToString(
                deterministic=True
            ):
                self.error(
                    path,
                    f"job {ident!r} is defined twice with different definitions "
                    f"(first at {definition.path}); define it once in full",
                )
            return  # an identical repeat: already checked at its first definition
        self.name_length(_at(path, "agentName"), job.agent_name, "the agent name")
        self.name_length(_at(path, "jobName"), job.job_name, "the job name")
        for which, keys in (
            ("skippedContexts", job.skipped_contexts),
            ("heldContexts", job.held_contexts),
        ):
            for key in sorted(keys):
                if key not in self.index.context_names:
                    self.warning(_at(path, f"{which}.{key}"), f"no context is named {key!r}")
        if kind in _AGENT_RUN_TYPES:
            if not job.agent_name:
                self.error(_at(path, "agentName"), "a job run by an agent needs the agent's name")
            if not job.job_name:
                self.error(_at(path, "jobName"), "a job run by an agent needs a job name")
            if job.agent_name and job.job_name:
                pair = (job.agent_name, job.job_name)
                other = self.agent_job_seen.setdefault(pair, ident)
                if other != ident:
                    self.error(
                        _at(path, "jobName"),
                        f"job name {job.job_name!r} on agent {job.agent_name!r} is already "
                        f"used by job {other!r}; job names are unique per agent",
                    )
        check: Callable[[str, plan_pb2.SchedulerJob], None] = getattr(self, kind)
        check(_at(path, _JSON_NAMES[kind]), job)

    def internal_event_driven_job(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        command = job.internal_event_driven_job
        if not command.command_line.strip():
            self.error(_at(path, "commandLine"), "a command job needs a command line")
        for i, code in enumerate(command.successful_return_codes):
            if not MIN_RETURN_CODE <= code <= MAX_RETURN_CODE:
                self.error(
                    _at(path, f"successfulReturnCodes[{i}]"),
                    f"return code {code} is out of range ({MIN_RETURN_CODE}..{MAX_RETURN_CODE})",
                )
        for key, value in (
            ("minExecutionTime", command.min_execution_time),
            ("maxExecutionTime", command.max_execution_time),
        ):
            if value < -1:
                self.error(_at(path, key), f"must be -1 or 0 (unset) or positive, got {value}")
        if 0 < command.max_execution_time < command.min_execution_time:
            self.warning(
                _at(path, "maxExecutionTime"),
                f"is below minExecutionTime ({command.min_execution_time})",
            )
        self.days(_at(path, "daysOfWeekToRun"), command.days_of_week_to_run)
        self.parameters(_at(path, "contextParameters"), command.context_parameters)
        self.not_negative(_at(path, "timeoutSeconds"), command.timeout_seconds, "the timeout")
        self.not_negative(_at(path, "retry.count"), command.retry.count, "the retry count")
        self.not_negative(
            _at(path, "retry.delaySeconds"), command.retry.delay_seconds, "the retry delay"
        )

    def days(self, path: str, days: Iterable[int]) -> None:
        for i, day in enumerate(days):
            if day == common_pb2.DAY_OF_WEEK_UNSPECIFIED:
                self.error(f"{path}[{i}]", "a day of week must be SUN..SAT (1..7)")

    def quartz_schedule_driven_job(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        timed = job.quartz_schedule_driven_job
        self.timed(path, timed)
        self.days(_at(path, "daysOfWeekToRun"), timed.days_of_week_to_run)

    def timed(
        self,
        path: str,
        timed: plan_pb2.QuartzScheduleDrivenJob | plan_pb2.FileEventDrivenJob,
    ) -> None:
        if not timed.cron_expression:
            self.error(_at(path, "cronExpression"), "a time or file job needs a cron expression")
        else:
            self.cron(_at(path, "cronExpression"), timed.cron_expression)
        self.zone(_at(path, "timeZone"), timed.time_zone)
        self.blackouts(
            path, timed.blackout_window_cron_expressions, timed.blackout_window_date_time_ranges
        )
        self.not_negative(
            _at(path, "maxEagerCallbacks"), timed.max_eager_callbacks, "maxEagerCallbacks"
        )
        self.not_negative(
            _at(path, "recoveryTolerance"), timed.recovery_tolerance, "the recovery tolerance"
        )
        self.not_negative(
            _at(path, "misfireGraceSeconds"), timed.misfire_grace_seconds, "the misfire grace"
        )

    def file_event_driven_job(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        watcher = job.file_event_driven_job
        self.timed(path, watcher)
        if not watcher.file_path:
            self.error(_at(path, "filePath"), "a file job needs the directory to watch")
        if not watcher.filenames:
            self.error(_at(path, "filenames"), "a file job needs at least one filename pattern")
        for i, pattern in enumerate(watcher.filenames):
            if not pattern:
                self.error(_at(path, f"filenames[{i}]"), "an empty pattern matches nothing")
        if watcher.sla_cron_expression:
            self.cron(_at(path, "slaCronExpression"), watcher.sla_cron_expression)
        self.not_negative(
            _at(path, "minFileAgeSeconds"), watcher.min_file_age_seconds, "the minimum file age"
        )
        self.not_negative(
            _at(path, "directoryDepth"), watcher.directory_depth, "the directory depth"
        )
        for i, pair in enumerate(watcher.replacement_pairs):
            where = _at(path, f"replacementPairs[{i}]")
            if not pair.replacement_token:
                self.error(_at(where, "replacementToken"), "a replacement needs a token")
            if not pair.job_plan_parameter_name:
                self.error(_at(where, "jobPlanParameterName"), "a replacement needs a parameter")
            elif pair.job_plan_parameter_name not in self.index.parameters:
                self.warning(
                    _at(where, "jobPlanParameterName"),
                    f"no context declares parameter {pair.job_plan_parameter_name!r}",
                )

    def _virtual(self, path: str, job: plan_pb2.SchedulerJob) -> None:
        """Virtual jobs resolve inside the dashboard; nothing of their own to check."""

    global_event_job = context_start_job = context_terminal_job = _virtual
    local_event_job = bridging_job = _virtual

    def dependency(self, path: str, dependency: plan_pb2.JobDependency, context: str) -> None:
        target = dependency.job_identifier
        target_path = _at(path, "jobIdentifier")
        if not target:
            self.error(target_path, "a dependency needs the identifier of the job it raises")
        elif target not in self.index.known:
            self.error(target_path, f"unknown job {target!r}")
        elif target not in self.index.residence.get(context, set()):
            self.error(target_path, _not_here(target))
        if dependency.HasField("logical_grouping"):
            self.grouping(_at(path, "logicalGrouping"), dependency.logical_grouping, 1, context)

    def grouping(
        self, path: str, grouping: plan_pb2.LogicalGrouping, depth: int, context: str
    ) -> None:
        if depth > MAX_GROUPING_DEPTH:
            self.error(
                path,
                f"logical groupings nest deeper than {MAX_GROUPING_DEPTH} levels "
                "(limit MAX_GROUPING_DEPTH); deeper levels were not checked",
            )
            return
        if not (grouping.all_of or grouping.any_of):
            if grouping.none_of and grouping.HasField("logical_grouping"):
                what = "holds only 'not' operands and a nested grouping"
            elif grouping.none_of:
                what = "holds only 'not' operands"
            elif grouping.HasField("logical_grouping"):
                what = "holds only a nested grouping"
            else:
                what = "is empty"
            self.warning(
                path,
                f"this grouping {what}, so it never fires: a level is "
                "(and || or) && !not and needs an 'and' or 'or' operand",
            )
        for key, operands in (
            ("and", grouping.all_of),
            ("or", grouping.any_of),
            ("not", grouping.none_of),
        ):
            for i, operand in enumerate(operands):
                where = _at(path, f"{key}[{i}]")
                which = operand.WhichOneof("operand")
                if which == "identifier":
                    if not operand.identifier:
                        self.error(where, "an operand needs a job identifier")
                    elif operand.identifier not in self.index.known:
                        self.error(where, f"unknown job {operand.identifier!r}")
                    elif operand.identifier not in self.index.residence.get(context, set()):
                        self.error(where, _not_here(operand.identifier))
                elif which == "logical_grouping":
                    self.grouping(
                        _at(where, "logicalGrouping"), operand.logical_grouping, depth + 1, context
                    )
                else:
                    self.error(where, "an operand needs an identifier or a logicalGrouping")
        if grouping.HasField("logical_grouping"):
            self.grouping(
                _at(path, "logicalGrouping"), grouping.logical_grouping, depth + 1, context
            )

    def lock(self, path: str, lock: plan_pb2.JobLock) -> None:
        name_path = _at(path, "name")
        if not lock.name:
            self.error(name_path, "a lock needs a name")
        else:
            self.name_length(name_path, lock.name, "the lock name")
            if lock.name in self.lock_seen:
                self.error(
                    name_path,
                    f"lock name {lock.name!r} is already used at {self.lock_seen[lock.name]}",
                )
            else:
                self.lock_seen[lock.name] = path
        if lock.lock_count < 1:
            self.error(
                _at(path, "lockCount"),
                f"a lock's capacity must be at least 1, got {lock.lock_count}",
            )
        if not lock.jobs:
            self.warning(_at(path, "jobs"), "the lock has no participating jobs")
        for i, participant in enumerate(lock.jobs):
            where = _at(path, f"jobs[{i}]")
            ident = participant.identifier
            if not ident:
                self.error(_at(where, "identifier"), "a lock participant needs a job identifier")
            elif ident not in self.index.known:
                self.error(_at(where, "identifier"), f"unknown job {ident!r}")
            child = participant.child_context_name
            if child:
                if child not in self.index.context_names:
                    self.error(_at(where, "childContextName"), f"unknown context {child!r}")
                elif (
                    ident
                    and ident in self.index.known
                    and (ident not in self.index.residence.get(child, set()))
                ):
                    self.error(
                        _at(where, "childContextName"),
                        f"job {ident!r} does not reside in context {child!r}",
                    )
            if participant.lock_count < 0:
                self.error(
                    _at(where, "lockCount"),
                    f"a weight must not be negative, got {participant.lock_count}",
                )
            elif lock.lock_count >= 1 and participant.lock_count > lock.lock_count:
                self.error(
                    _at(where, "lockCount"),
                    f"weight {participant.lock_count} exceeds the lock's capacity "
                    f"{lock.lock_count}: the job could never take the lock",
                )

    # -- whole-plan checks
    def _dependencies(self) -> Iterator[tuple[str, str, plan_pb2.JobDependency]]:
        for at in self.index.contexts:
            for i, dependency in enumerate(at.context.job_dependencies):
                yield _at(at.path, f"jobDependencies[{i}]"), at.context.name, dependency

    def cycles(self) -> None:
        graph: dict[str, list[str]] = {}
        first_path: dict[str, str] = {}
        for path, _, dependency in self._dependencies():
            target = dependency.job_identifier
            if not target or not dependency.HasField("logical_grouping"):
                continue
            first_path.setdefault(target, path)
            graph.setdefault(target, [])
            for source in _positive_operands(dependency.logical_grouping):
                successors = graph.setdefault(source, [])
                if target not in successors:
                    successors.append(target)
        for component in _strongly_connected(graph):
            start = component[0]
            if len(component) == 1 and start not in graph[start]:
                continue
            cycle = _cycle_through(graph, start, set(component))
            self.error(
                first_path.get(start, ""),
                "dependency cycle: "
                + " -> ".join(repr(j) for j in cycle)
                + " (each job waits for the one before it)",
            )

    def reachability(self) -> None:
        raised: set[str] = set()
        for _, context, dependency in self._dependencies():
            target = dependency.job_identifier
            if (
                dependency.HasField("logical_grouping")
                and target in self.index.residence.get(context, set())
                and _can_fire(dependency.logical_grouping)
            ):
                raised.add(target)
        for ident, definition in self.index.definitions.items():
            if definition.job.WhichOneof("job_type") == "internal_event_driven_job" and (
                ident not in raised
            ):
                self.warning(
                    definition.path,
                    f"command job {ident!r} is raised by no event (it is not the target "
                    "of a dependency whose logic can fire, in a context where it "
                    "resides): it runs only by a manual run",
                )

    def completion_blockers(self) -> None:
        """A `not` over a job the engine raises in the same context turns that dependency false
        for good once the job completes; Ikasan's context rule needs every dependency's logic
        true, so the context (and the plan) never becomes COMPLETE."""
        raised: dict[str, set[str]] = {}
        for _, context, dependency in self._dependencies():
            if dependency.HasField("logical_grouping") and _can_fire(dependency.logical_grouping):
                raised.setdefault(context, set()).add(dependency.job_identifier)
        for path, context, dependency in self._dependencies():
            # a grouping that never fires has its own warning already
            if not (
                dependency.HasField("logical_grouping") and _can_fire(dependency.logical_grouping)
            ):
                continue
            for where, ident in _not_operands(
                _at(path, "logicalGrouping"), dependency.logical_grouping
            ):
                if ident in raised.get(context, set()):
                    self.warning(
                        where,
                        f"{ident!r} is raised in context {context!r} too: once it "
                        "completes this dependency stays false, so the context "
                        "can never become COMPLETE (every dependency's logic "
                        "must hold for a context to complete)",
                    )


def _not_operands(path: str, grouping: plan_pb2.LogicalGrouping) -> Iterator[tuple[str, str]]:
    for i, operand in enumerate(grouping.none_of):
        if operand.WhichOneof("operand") == "identifier":
            yield _at(path, f"not[{i}]"), operand.identifier
    if grouping.HasField("logical_grouping"):
        yield from _not_operands(_at(path, "logicalGrouping"), grouping.logical_grouping)


def _not_here(ident: str) -> str:
    return (
        f"job {ident!r} is not a job of this context: list it in this context's "
        "scheduledJobs (an occurrence giving only its identifier is enough)"
    )


_JSON_NAMES: dict[str, str] = {
    f.name: f.json_name for f in plan_pb2.SchedulerJob.DESCRIPTOR.oneofs_by_name["job_type"].fields
}


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively, in a deterministic order (members in graph order)."""
    order = {node: i for i, node in enumerate(graph)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, [])
            if next_edge < len(successors):
                work.append((node, next_edge + 1))
                succ = successors[next_edge]
                if succ not in index:
                    work.append((succ, 0))
                elif succ in on_stack:
                    low[node] = min(low[node], index[succ])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                components.append(sorted(members, key=order.__getitem__))
    components.sort(key=lambda c: order[c[0]])
    return components


def _cycle_through(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """A shortest cycle from start back to start within one component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for succ in graph.get(node, []):
                if succ not in members:
                    continue
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if succ not in previous:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    return [start, start]  # pragma: no cover - a component always has a cycle


def validate_plan(plan: plan_pb2.Context) -> list[ValidationProblem]:
    """Every problem of the plan, in a deterministic order (see the module doc)."""
    return _Checker(plan).run()
