"""Check a job plan and report every problem at once.

Paths name the offending element in the JSON names json_format emits (lowerCamelCase, with
``and``/``or``/``not`` for the grouping lists), from the plan root, e.g.
``contexts[1].jobDependencies[3].logicalGrouping.and[0]``; fields of the plan itself have no
prefix (``name``, ``timeWindowStart``); ``""`` names the whole plan.

Order of problems: size limits first; then every number out of the range the dashboard can
use, enum value no version defines and name holding control characters (plans.field_ranges);
then, context by context (the plan, then its child
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

from collections.abc import Callable, Iterator

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.field_checks import FieldChecks, cron_problem, zone_problem
from ikasched_dashboard.plans.field_ranges import range_problems
from ikasched_dashboard.plans.graph import cycle_through, strongly_connected
from ikasched_dashboard.plans.limits import (
    MAX_CONTEXT_DEPTH,
    MAX_CONTEXTS,
    MAX_GROUPING_DEPTH,  # read here at check time, so a test can lower it on this module
    MAX_JOB_BYTES,
    MAX_JOBS,
    MAX_NAME_LENGTH,
    MAX_PARAMETER_BYTES,
    MAX_PLAN_BYTES,
    MAX_RETURN_CODE,
    MIN_RETURN_CODE,
)
from ikasched_dashboard.plans.plan_index import (
    VIRTUAL_AGENT_NAMES,
    ContextAt,
    index_plan,
    job_identifier,
    join_path,
)
from ikasched_dashboard.plans.problems import (
    Severity,
    ValidationProblem,
    has_errors,
    problems_to_proto,
)
from ikasched_dashboard.plans.unsupported import unsupported_problems

__all__ = [
    "MAX_CONTEXTS",
    "MAX_CONTEXT_DEPTH",
    "MAX_GROUPING_DEPTH",
    "MAX_JOBS",
    "MAX_NAME_LENGTH",
    "MAX_RETURN_CODE",
    "MIN_RETURN_CODE",
    "ROOT_ONLY_FIELDS",
    "VIRTUAL_AGENT_NAMES",
    "Severity",
    "ValidationProblem",
    "cron_problem",
    "has_errors",
    "job_identifier",
    "problems_to_proto",
    "validate_plan",
    "zone_problem",
]

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


class _Checker(FieldChecks):
    """The structural checks: contexts, jobs, dependencies, groupings, locks, whole plan."""

    def __init__(self, plan: plan_pb2.Context) -> None:
        self.plan = plan
        self.out: list[ValidationProblem] = []
        self.index = index_plan(plan, self.out)
        self.context_seen: dict[str, str] = {}
        self.lock_seen: dict[str, str] = {}
        self.agent_job_seen: dict[tuple[str, str], str] = {}

    # -- reporting
    # -- walk
    def run(self) -> list[ValidationProblem]:
        self.out.extend(range_problems(self.plan))
        self.out.extend(unsupported_problems(self.plan))
        self.sizes()
        for at in self.index.contexts:
            self.context(at)
        self.cycles()
        self.reachability()
        self.completion_blockers()
        return self.out

    def sizes(self) -> None:
        """The whole plan's size and its parameter defaults together (docs/architecture.md
        §4.9: what reaches an agent must fit its link's messages)."""
        size = self.plan.ByteSize()
        if size > MAX_PLAN_BYTES:
            self.error(
                "",
                f"the plan is {size} bytes serialized; at most {MAX_PLAN_BYTES}"
                " (limit MAX_PLAN_BYTES)",
            )
        defaults = sum(len(v.encode("utf-8")) for v in _defaults(self.plan))
        if defaults > MAX_PARAMETER_BYTES:
            self.error(
                "contextParameters",
                f"parameter default values come to {defaults} bytes together; at most"
                f" {MAX_PARAMETER_BYTES} (limit MAX_PARAMETER_BYTES)",
            )

    def context(self, at: ContextAt) -> None:
        ctx, prefix, is_root = at.context, at.path, at.path == ""
        name_path = join_path(prefix, "name")
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
                        join_path(prefix, fd.json_name),
                        "only meaningful on the plan (the root context); "
                        "ignored on a child context",
                    )
        if ctx.time_window_start:
            self.cron(join_path(prefix, "timeWindowStart"), ctx.time_window_start)
        self.zone(join_path(prefix, "timezone"), ctx.timezone)
        self.not_negative(
            join_path(prefix, "contextTtlMilliseconds"), ctx.context_ttl_milliseconds, "the TTL"
        )
        self.not_negative(
            join_path(prefix, "misfireGraceSeconds"), ctx.misfire_grace_seconds, "the misfire grace"
        )
        self.blackouts(
            prefix, ctx.blackout_window_cron_expressions, ctx.blackout_window_date_time_ranges
        )
        self.parameters(join_path(prefix, "contextParameters"), ctx.context_parameters)
        seen_here: dict[str, str] = {}
        for i, job in enumerate(ctx.scheduled_jobs):
            self.job(join_path(prefix, f"scheduledJobs[{i}]"), job, seen_here)
        for i, dependency in enumerate(ctx.job_dependencies):
            self.dependency(join_path(prefix, f"jobDependencies[{i}]"), dependency, ctx.name)
        for i, lock in enumerate(ctx.job_locks):
            self.lock(join_path(prefix, f"jobLocks[{i}]"), lock)
        if ctx.context_dependencies:
            self.warning(
                join_path(prefix, "contextDependencies"),
                "context dependencies are never evaluated (as in Ikasan); order "
                "contexts with job dependencies on context start/terminal jobs instead",
            )

    def job(self, path: str, job: plan_pb2.SchedulerJob, seen_here: dict[str, str]) -> None:
        ident = job_identifier(job)
        if not ident:
            self.error(path, "a job needs an identifier, or an agentName and a jobName")
            return
        self.name_length(join_path(path, "identifier"), ident, "the job identifier")
        if ident in seen_here:
            self.warning(
                path,
                f"job {ident!r} is listed twice in this context (first at "
                f"{seen_here[ident]}); one listing is enough",
            )
        else:
            seen_here[ident] = path
        size = job.ByteSize()
        if size > MAX_JOB_BYTES:
            self.error(
                path,
                f"job {ident!r} is {size} bytes serialized; at most {MAX_JOB_BYTES}"
                " (limit MAX_JOB_BYTES)",
            )
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
        self.name_length(join_path(path, "agentName"), job.agent_name, "the agent name")
        self.name_length(join_path(path, "jobName"), job.job_name, "the job name")
        for which, keys in (
            ("skippedContexts", job.skipped_contexts),
            ("heldContexts", job.held_contexts),
        ):
            for key in sorted(keys):
                if key not in self.index.context_names:
                    self.warning(join_path(path, f"{which}.{key}"), f"no context is named {key!r}")
        if kind in _AGENT_RUN_TYPES:
            if not job.agent_name:
                self.error(
                    join_path(path, "agentName"), "a job run by an agent needs the agent's name"
                )
            if not job.job_name:
                self.error(join_path(path, "jobName"), "a job run by an agent needs a job name")
            if job.agent_name and job.job_name:
                pair = (job.agent_name, job.job_name)
                other = self.agent_job_seen.setdefault(pair, ident)
                if other != ident:
                    self.error(
                        join_path(path, "jobName"),
                        f"job name {job.job_name!r} on agent {job.agent_name!r} is already "
                        f"used by job {other!r}; job names are unique per agent",
                    )
        check: Callable[[str, plan_pb2.SchedulerJob], None] = getattr(self, kind)
        check(join_path(path, _JSON_NAMES[kind]), job)

    def dependency(self, path: str, dependency: plan_pb2.JobDependency, context: str) -> None:
        target = dependency.job_identifier
        target_path = join_path(path, "jobIdentifier")
        if not target:
            self.error(target_path, "a dependency needs the identifier of the job it raises")
        elif target not in self.index.known:
            self.error(target_path, f"unknown job {target!r}")
        elif target not in self.index.residence.get(context, set()):
            self.error(target_path, _not_here(target))
        if dependency.HasField("logical_grouping"):
            self.grouping(
                join_path(path, "logicalGrouping"), dependency.logical_grouping, 1, context
            )

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
                where = join_path(path, f"{key}[{i}]")
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
                        join_path(where, "logicalGrouping"),
                        operand.logical_grouping,
                        depth + 1,
                        context,
                    )
                else:
                    self.error(where, "an operand needs an identifier or a logicalGrouping")
        if grouping.HasField("logical_grouping"):
            self.grouping(
                join_path(path, "logicalGrouping"), grouping.logical_grouping, depth + 1, context
            )

    def lock(self, path: str, lock: plan_pb2.JobLock) -> None:
        name_path = join_path(path, "name")
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
                join_path(path, "lockCount"),
                f"a lock's capacity must be at least 1, got {lock.lock_count}",
            )
        if not lock.jobs:
            self.warning(join_path(path, "jobs"), "the lock has no participating jobs")
        for i, participant in enumerate(lock.jobs):
            where = join_path(path, f"jobs[{i}]")
            ident = participant.identifier
            if not ident:
                self.error(
                    join_path(where, "identifier"), "a lock participant needs a job identifier"
                )
            elif ident not in self.index.known:
                self.error(join_path(where, "identifier"), f"unknown job {ident!r}")
            child = participant.child_context_name
            if child:
                if child not in self.index.context_names:
                    self.error(join_path(where, "childContextName"), f"unknown context {child!r}")
                elif (
                    ident
                    and ident in self.index.known
                    and (ident not in self.index.residence.get(child, set()))
                ):
                    self.error(
                        join_path(where, "childContextName"),
                        f"job {ident!r} does not reside in context {child!r}",
                    )
            if participant.lock_count < 0:
                self.error(
                    join_path(where, "lockCount"),
                    f"a weight must not be negative, got {participant.lock_count}",
                )
            elif lock.lock_count >= 1 and participant.lock_count > lock.lock_count:
                self.error(
                    join_path(where, "lockCount"),
                    f"weight {participant.lock_count} exceeds the lock's capacity "
                    f"{lock.lock_count}: the job could never take the lock",
                )

    # -- whole-plan checks
    def _dependencies(self) -> Iterator[tuple[str, str, plan_pb2.JobDependency]]:
        for at in self.index.contexts:
            for i, dependency in enumerate(at.context.job_dependencies):
                yield join_path(at.path, f"jobDependencies[{i}]"), at.context.name, dependency

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
        for component in strongly_connected(graph):
            start = component[0]
            if len(component) == 1 and start not in graph[start]:
                continue
            cycle = cycle_through(graph, start, set(component))
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
                join_path(path, "logicalGrouping"), dependency.logical_grouping
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
            yield join_path(path, f"not[{i}]"), operand.identifier
    if grouping.HasField("logical_grouping"):
        yield from _not_operands(join_path(path, "logicalGrouping"), grouping.logical_grouping)


def _not_here(ident: str) -> str:
    return (
        f"job {ident!r} is not a job of this context: list it in this context's "
        "scheduledJobs (an occurrence giving only its identifier is enough)"
    )


_JSON_NAMES: dict[str, str] = {
    f.name: f.json_name for f in plan_pb2.SchedulerJob.DESCRIPTOR.oneofs_by_name["job_type"].fields
}


def _defaults(ctx: plan_pb2.Context) -> Iterator[str]:
    for p in ctx.context_parameters:
        yield p.default_value
    for job in ctx.scheduled_jobs:
        if job.HasField("internal_event_driven_job"):
            for p in job.internal_event_driven_job.context_parameters:
                yield p.default_value
    for child in ctx.contexts:
        yield from _defaults(child)


def validate_plan(plan: plan_pb2.Context) -> list[ValidationProblem]:
    """Every problem of the plan, in a deterministic order (see the module doc)."""
    return _Checker(plan).run()
