"""validate_plan: one test per rule, every problem at once, exact paths, the examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikasched.v1 import common_pb2, plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans import validation
from ikasched_dashboard.plans.convert import plan_from_proto
from ikasched_dashboard.plans.loader import PLAN_SUFFIXES, load_plan_file, load_plan_text
from ikasched_dashboard.plans.validation import (
    Severity,
    ValidationProblem,
    has_errors,
    problems_to_proto,
    validate_plan,
)

EXAMPLES = sorted(
    p
    for p in (Path(__file__).resolve().parent.parent / "examples").iterdir()
    if p.suffix in PLAN_SUFFIXES
)

E, W = Severity.ERROR, Severity.WARNING

# A valid plan to vary: a time job raising two command jobs in a child context.
BASE = """
name: base
time_window_start: "0 0 1 ? * * *"
scheduled_jobs:
  - agent_name: a
    job_name: tick
    quartz_schedule_driven_job: {cron_expression: "0 0 2 ? * * *"}
job_dependencies:
  - job_identifier: a-tick
contexts:
  - name: child
    scheduled_jobs:
      - identifier: a-tick
      - agent_name: a
        job_name: one
        internal_event_driven_job: {command_line: echo one}
      - agent_name: a
        job_name: two
        internal_event_driven_job: {command_line: echo two}
    job_dependencies:
      - job_identifier: a-one
        logical_grouping: {and: [a-tick]}
      - job_identifier: a-two
        logical_grouping: {and: [a-one]}
"""


JOBS_END = "    job_dependencies:\n      - job_identifier: a-one\n"


def with_jobs(extra: str) -> str:
    """BASE with more entries at the end of the child context's scheduled_jobs."""
    return BASE.replace(JOBS_END, extra + JOBS_END)


def found(text: str) -> list[tuple[Severity, str, str]]:
    return [(p.severity, p.path, p.message) for p in validate_plan(load_plan_text(text))]


def paths(text: str) -> list[tuple[Severity, str]]:
    return [(p.severity, p.path) for p in validate_plan(load_plan_text(text))]


def test_the_base_plan_is_clean() -> None:
    assert found(BASE) == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_without_errors(example: Path) -> None:
    problems = validate_plan(load_plan_file(example))
    assert not has_errors(problems), [str(p) for p in problems]


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {"hello.yaml", "nightly-batch.yaml", "file-and-cron.yaml"}


def test_missing_plan_and_child_names() -> None:
    assert found("contexts: [{ordinal: 1}]") == [
        (E, "name", "a plan needs a name"),
        (E, "contexts[0].name", "a child context needs a name"),
    ]


def test_unknown_dependency_target_and_operands_at_any_depth() -> None:
    text = (
        BASE
        + """
      - job_identifier: ghost
        logical_grouping:
          and: [a-one, agentX-load]
          or: [{logical_grouping: {and: [nobody]}}]
          not: [nowhere]
          logical_grouping: {or: [lost]}
"""
    )
    assert found(text) == [
        (E, "contexts[0].jobDependencies[2].jobIdentifier", "unknown job 'ghost'"),
        (E, "contexts[0].jobDependencies[2].logicalGrouping.and[1]", "unknown job 'agentX-load'"),
        (
            E,
            "contexts[0].jobDependencies[2].logicalGrouping.or[0].logicalGrouping.and[0]",
            "unknown job 'nobody'",
        ),
        (E, "contexts[0].jobDependencies[2].logicalGrouping.not[0]", "unknown job 'nowhere'"),
        (
            E,
            "contexts[0].jobDependencies[2].logicalGrouping.logicalGrouping.or[0]",
            "unknown job 'lost'",
        ),
    ]


def test_an_empty_operand_is_an_error() -> None:
    plan = load_plan_text(BASE)
    plan.contexts[0].job_dependencies[1].logical_grouping.any_of.add()
    assert [(p.severity, p.path) for p in validate_plan(plan)] == [
        (E, "contexts[0].jobDependencies[1].logicalGrouping.or[0]"),
    ]


def test_dependency_targets_and_operands_must_be_jobs_of_the_context() -> None:
    text = BASE.replace(
        "  - job_identifier: a-tick\n",
        "  - job_identifier: a-tick\n"
        "  - job_identifier: a-two\n    logical_grouping: {and: [a-tick]}\n"
        "  - job_identifier: a-tick\n"
        "    logical_grouping: {or: [a-one], not: [{logical_grouping: "
        "{and: [a-two]}}]}\n",
    )
    tail = (
        "is not a job of this context: list it in this context's scheduledJobs (an "
        "occurrence giving only its identifier is enough)"
    )
    assert found(text) == [
        (E, "jobDependencies[1].jobIdentifier", f"job 'a-two' {tail}"),
        (E, "jobDependencies[2].logicalGrouping.or[0]", f"job 'a-one' {tail}"),
        (
            E,
            "jobDependencies[2].logicalGrouping.not[0].logicalGrouping.and[0]",
            f"job 'a-two' {tail}",
        ),
        (
            E,
            "jobDependencies[2]",
            "dependency cycle: 'a-tick' -> 'a-one' -> 'a-tick' "
            "(each job waits for the one before it)",
        ),
    ]


def test_job_defined_twice_differently_but_identical_repeats_are_fine() -> None:
    same = (
        BASE
        + """
  - name: other
    scheduled_jobs:
      - agent_name: a
        job_name: one
        internal_event_driven_job: {command_line: echo one}
"""
    )
    assert found(same) == []
    # Field for field, as the engine compares them: display order too.
    head, tail = same.rsplit("job_name: one\n", 1)
    assert paths(f"{head}job_name: one\n        ordinal: 7\n{tail}") == [
        (E, "contexts[1].scheduledJobs[0]")
    ]
    different = same.replace(
        "command_line: echo one}\n  - name: other", "command_line: echo one}\n  - name: other", 1
    )
    different = different[: different.rindex("echo one")] + "echo ONE}\n"
    assert found(different) == [
        (
            E,
            "contexts[1].scheduledJobs[0]",
            "job 'a-one' is defined twice with different "
            "definitions (first at contexts[0].scheduledJobs[1]); define it once in full",
        ),
    ]


def test_a_job_twice_in_one_context_and_job_names_unique_per_agent() -> None:
    text = with_jobs("""
      - identifier: a-one
      - identifier: other-id
        agent_name: a
        job_name: two
        internal_event_driven_job: {command_line: echo again}
""")
    assert found(text)[:2] == [
        (
            W,
            "contexts[0].scheduledJobs[3]",
            "job 'a-one' is listed twice in this context (first "
            "at contexts[0].scheduledJobs[1]); one listing is enough",
        ),
        (
            E,
            "contexts[0].scheduledJobs[4].jobName",
            "job name 'two' on agent 'a' is already used "
            "by job 'a-two'; job names are unique per agent",
        ),
    ]


def test_child_context_names_are_unique_across_the_plan() -> None:
    text = (
        BASE
        + """
  - name: deeper
    contexts: [{name: child}, {name: base}]
"""
    )
    assert found(text) == [
        (
            E,
            "contexts[1].contexts[0].name",
            "context name 'child' is already used by contexts[0]; names must be unique in the plan",
        ),
        (
            E,
            "contexts[1].contexts[1].name",
            "context name 'base' is already used by the plan; names must be unique in the plan",
        ),
    ]


def test_lock_names_are_unique_across_levels() -> None:
    text = (
        BASE
        + """
    job_locks: [{name: L, lock_count: 1, jobs: [{identifier: a-one}]}]
job_locks: [{name: L, lock_count: 2, jobs: [{identifier: a-two}]}]
"""
    )
    assert found(text) == [
        (E, "contexts[0].jobLocks[0].name", "lock name 'L' is already used at jobLocks[0]"),
    ]


def test_parameter_names_unique_per_level_and_required() -> None:
    text = (
        BASE
        + """
    context_parameters: [{name: P}, {default_value: x}]
context_parameters: [{name: P}, {name: Q}, {name: P}]
"""
    )
    text = text.replace(
        "{command_line: echo two}",
        "{command_line: echo two, context_parameters: [{name: P}, {name: P}, {description: d}]}",
    )
    assert found(text) == [
        (
            E,
            "contextParameters[2].name",
            "parameter 'P' is declared twice at this level (first at contextParameters[0])",
        ),
        (E, "contexts[0].contextParameters[1].name", "a parameter needs a name"),
        (
            E,
            "contexts[0].scheduledJobs[2].internalEventDrivenJob.contextParameters[1].name",
            "parameter 'P' is declared twice at this level (first at "
            "contexts[0].scheduledJobs[2].internalEventDrivenJob.contextParameters[0])",
        ),
        (
            E,
            "contexts[0].scheduledJobs[2].internalEventDrivenJob.contextParameters[2].name",
            "a parameter needs a name",
        ),
    ]


def test_dependency_cycles_are_named() -> None:
    text = (
        BASE
        + """
      - job_identifier: a-one
        logical_grouping: {or: [{logical_grouping: {and: [a-two]}}]}
"""
    )
    assert found(text) == [
        (
            E,
            "contexts[0].jobDependencies[0]",
            "dependency cycle: 'a-one' -> 'a-two' -> 'a-one'"
            " (each job waits for the one before it)",
        ),
    ]


def test_self_dependency_is_a_cycle_but_not_operands_are_not_edges() -> None:
    self_loop = BASE.replace("logical_grouping: {and: [a-one]}", "logical_grouping: {and: [a-two]}")
    assert found(self_loop) == [
        (
            E,
            "contexts[0].jobDependencies[1]",
            "dependency cycle: 'a-two' -> 'a-two' (each job waits for the one before it)",
        ),
    ]
    through_not = (
        BASE
        + """
      - job_identifier: a-one
        logical_grouping: {and: [a-tick], not: [a-two]}
"""
    )
    # no cycle; only the warning that the context cannot complete once a-two has run
    assert paths(through_not) == [(W, "contexts[0].jobDependencies[2].logicalGrouping.not[0]")]


def test_every_problem_at_once_in_a_deterministic_order() -> None:
    text = """
description: many problems
time_window_start: "0 0 1 * * * * *"
scheduled_jobs:
  - agent_name: a
    job_name: t
    quartz_schedule_driven_job: {cron_expression: "0 0 2 ? * * *"}
job_dependencies:
  - job_identifier: a-t
job_locks:
  - {name: L, lock_count: 0, jobs: [{identifier: a-missing}]}
contexts:
  - name: one
    timezone: UTC
    scheduled_jobs:
      - identifier: a-t
      - agent_name: a
        job_name: x
        internal_event_driven_job: {command_line: run x, timeout_seconds: -1}
      - agent_name: a
        job_name: y
        internal_event_driven_job: {command_line: run y}
    job_dependencies:
      - job_identifier: a-x
        logical_grouping: {and: [a-t, a-y]}
      - job_identifier: a-y
        logical_grouping: {and: [a-x], not: [agentX-load]}
    contexts:
      - name: one
        context_parameters: [{default_value: v}]
        scheduled_jobs:
          - agent_name: b
            job_name: z
            internal_event_driven_job: {command_line: z}
        context_dependencies: [{context_dependency_name: one}]
"""
    plan = load_plan_text(text)
    expected = [
        (E, "name"),
        (E, "timeWindowStart"),
        (E, "jobLocks[0].lockCount"),
        (E, "jobLocks[0].jobs[0].identifier"),
        (W, "contexts[0].timezone"),
        (E, "contexts[0].scheduledJobs[1].internalEventDrivenJob.timeoutSeconds"),
        (E, "contexts[0].jobDependencies[1].logicalGrouping.not[0]"),
        (E, "contexts[0].contexts[0].name"),
        (E, "contexts[0].contexts[0].contextParameters[0].name"),
        (W, "contexts[0].contexts[0].contextDependencies"),
        (E, "contexts[0].jobDependencies[0]"),
        (W, "contexts[0].contexts[0].scheduledJobs[0]"),
    ]
    problems = validate_plan(plan)
    assert [(p.severity, p.path) for p in problems] == expected
    assert problems[-2].message.startswith("dependency cycle: 'a-x' -> 'a-y' -> 'a-x'")
    assert validate_plan(plan) == problems  # deterministic


def test_problems_convert_to_the_protocol_message() -> None:
    problems = [
        ValidationProblem("name", "a plan needs a name"),
        ValidationProblem("contexts[0].timezone", "ignored", Severity.WARNING),
    ]
    assert problems_to_proto(problems) == [
        common_pb2.ValidationProblem(
            path="name", message="a plan needs a name", severity=common_pb2.ValidationProblem.ERROR
        ),
        common_pb2.ValidationProblem(
            path="contexts[0].timezone",
            message="ignored",
            severity=common_pb2.ValidationProblem.WARNING,
        ),
    ]
    assert has_errors(problems)
    assert not has_errors(problems[1:])
    assert str(problems[0]) == "ERROR name: a plan needs a name"


def test_a_virtual_job_without_an_agent_takes_its_types_constant() -> None:
    text = """
name: p
scheduled_jobs:
  - {job_name: go, context_start_job: {}}
  - {agent_name: a, job_name: run, internal_event_driven_job: {command_line: x}}
job_dependencies:
  - {job_identifier: a-run, logical_grouping: {and: [CONTEXT_START_JOB-go]}}
"""
    assert found(text) == []


# --------------------------------------------------------------------------- agrees with the engine

_NAMES = ["a-1", "a-2", "a-3", "ghost"]


@st.composite
def _plans(draw: st.DrawFn) -> plan_pb2.Context:
    plan = plan_pb2.Context(name=draw(st.sampled_from(["p", ""])))
    contexts = [plan]
    for name in draw(st.lists(st.sampled_from(["c1", "c2", "p"]), max_size=2)):
        contexts.append(draw(st.sampled_from(contexts)).contexts.add(name=name))
    for ctx in contexts:
        for ident in draw(st.lists(st.sampled_from(_NAMES[:3]), max_size=3)):
            job = ctx.scheduled_jobs.add(identifier=ident)
            if draw(st.booleans()):
                job.agent_name, job.job_name = "a", ident[2:]
                job.internal_event_driven_job.command_line = draw(st.sampled_from(["x", "y"]))
        for _ in range(draw(st.integers(0, 2))):
            dep = ctx.job_dependencies.add(job_identifier=draw(st.sampled_from(_NAMES)))
            if draw(st.booleans()):
                level = dep.logical_grouping
                for _ in range(draw(st.integers(0, 2))):
                    operands = draw(st.sampled_from([level.all_of, level.any_of, level.none_of]))
                    operands.add(identifier=draw(st.sampled_from(_NAMES)))
        if draw(st.booleans()):
            lock = ctx.job_locks.add(name="L", lock_count=1)
            lock.jobs.add(identifier=draw(st.sampled_from(_NAMES)))
    return plan


@settings(max_examples=300, deadline=None)
@given(_plans())
def test_plans_without_errors_are_exactly_the_plans_the_engine_compiles(
    plan: plan_pb2.Context,
) -> None:
    problems = validate_plan(plan)
    try:
        plan_from_proto(plan)
    except InvalidArgument:
        assert has_errors(problems)
    else:
        # Stricter than the compiler on purpose: cycles never fire, and the protocol says lock
        # names are unique in a plan (locks are decided by name).
        stricter = [
            p
            for p in problems
            if p.severity is Severity.ERROR
            and not (p.message.startswith("dependency cycle") or p.message.startswith("lock name"))
        ]
        assert stricter == [], [str(p) for p in problems]


def test_not_over_a_job_the_context_runs_warns_that_it_cannot_complete() -> None:
    text = BASE.replace(
        "        logical_grouping: {and: [a-one]}\n",
        "        logical_grouping: {and: [a-tick], not: [a-one]}\n",
    )
    assert found(text) == [
        (
            W,
            "contexts[0].jobDependencies[1].logicalGrouping.not[0]",
            "'a-one' is raised in context 'child' too: once it completes this dependency stays "
            "false, so the context can never become COMPLETE (every dependency's logic must hold "
            "for a context to complete)",
        ),
    ]
    # a `not` over a job nothing in the context raises (e.g. a global event) is fine
    assert found(BASE.replace("{and: [a-one]}", "{and: [a-one], not: [a-tick]}")) == []


def test_fields_ikasched_does_not_act_on_are_refused_by_name() -> None:
    """Validated-but-ignored is not allowed: a plan setting an Ikasan-only field to anything but
    the behaviour ikasched has is refused, naming the field; the default is accepted."""
    text = """
name: p
requiresAgentSynchronisation: true
scheduledJobs:
  - agentName: a
    jobName: tick
    startupControlType: MANUAL
    quartzScheduleDrivenJob: {cronExpression: "0 0 5 ? * * *", ignoreMisfire: true}
  - agentName: a
    jobName: files
    fileEventDrivenJob:
      {filePath: "/in", filenames: ["*.csv"], cronExpression: "0 * * ? * * *", includeHeader: true}
  - agentName: a
    jobName: run
    startupControlType: AUTOMATIC
    internalEventDrivenJob: {commandLine: "true"}
jobDependencies:
  - jobIdentifier: a-tick
  - jobIdentifier: a-files
  - jobIdentifier: a-run
    logicalGrouping: {and: [a-tick, a-files]}
"""
    plan = load_plan_text(text)
    errors = {
        p.path: p.message for p in validation.validate_plan(plan) if p.severity.name == "ERROR"
    }
    assert set(errors) == {
        "requiresAgentSynchronisation",
        "scheduledJobs[0].startupControlType",
        "scheduledJobs[0].quartzScheduleDrivenJob.ignoreMisfire",
        "scheduledJobs[1].fileEventDrivenJob.includeHeader",
    }, errors
    assert (
        "startupControlType MANUAL is not supported"
        in errors["scheduledJobs[0].startupControlType"]
    )
    assert plan.scheduled_jobs[2].startup_control_type == common_pb2.AUTOMATIC
