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
    MAX_CONTEXT_DEPTH,
    MAX_JOBS,
    MAX_NAME_LENGTH,
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


def test_invalid_crons_and_timezones_everywhere() -> None:
    text = """
name: p
time_window_start: "0 0 25 * * ?"
timezone: Mars/Olympus
blackout_window_cron_expressions: ["0 0 1 * *"]
scheduled_jobs:
  - agent_name: a
    job_name: t
    quartz_schedule_driven_job:
      cron_expression: "not a cron"
      time_zone: Nowhere/Town
      blackout_window_cron_expressions: ["0 0 0 ? * MON-FRI", "0 0 0 ? * FUNDAY"]
  - agent_name: a
    job_name: f
    file_event_driven_job:
      file_path: /in
      filenames: ["*"]
      cron_expression: "0 * * ? * *"
      sla_cron_expression: "0 0 9 ? *"
"""
    got = paths(text)
    assert got == [
        (E, "timeWindowStart"),
        (E, "timezone"),
        (E, "blackoutWindowCronExpressions[0]"),
        (E, "scheduledJobs[0].quartzScheduleDrivenJob.cronExpression"),
        (E, "scheduledJobs[0].quartzScheduleDrivenJob.timeZone"),
        (E, "scheduledJobs[0].quartzScheduleDrivenJob.blackoutWindowCronExpressions[1]"),
        (E, "scheduledJobs[1].fileEventDrivenJob.slaCronExpression"),
    ]
    messages = [p.message for p in validate_plan(load_plan_text(text))]
    assert messages[0].startswith("invalid Quartz cron '0 0 25 * * ?'")
    assert messages[1].startswith("unknown time zone 'Mars/Olympus'")


def test_time_and_file_jobs_need_their_essentials() -> None:
    text = """
name: p
scheduled_jobs:
  - {agent_name: a, job_name: t, quartz_schedule_driven_job: {}}
  - {agent_name: a, job_name: f, file_event_driven_job: {cron_expression: "0 * * ? * *",
     filenames: [""], directory_depth: -1, min_file_age_seconds: -2,
     replacement_pairs: [{replacement_token: "{D}", job_plan_parameter_name: DATE}, {}]}}
"""
    assert found(text) == [
        (
            E,
            "scheduledJobs[0].quartzScheduleDrivenJob.cronExpression",
            "a time or file job needs a cron expression",
        ),
        (
            E,
            "scheduledJobs[1].fileEventDrivenJob.filePath",
            "a file job needs the directory to watch",
        ),
        (E, "scheduledJobs[1].fileEventDrivenJob.filenames[0]", "an empty pattern matches nothing"),
        (
            E,
            "scheduledJobs[1].fileEventDrivenJob.minFileAgeSeconds",
            "the minimum file age must not be negative, got -2",
        ),
        (
            E,
            "scheduledJobs[1].fileEventDrivenJob.directoryDepth",
            "the directory depth must not be negative, got -1",
        ),
        (
            W,
            "scheduledJobs[1].fileEventDrivenJob.replacementPairs[0].jobPlanParameterName",
            "no context declares parameter 'DATE'",
        ),
        (
            E,
            "scheduledJobs[1].fileEventDrivenJob.replacementPairs[1].replacementToken",
            "a replacement needs a token",
        ),
        (
            E,
            "scheduledJobs[1].fileEventDrivenJob.replacementPairs[1].jobPlanParameterName",
            "a replacement needs a parameter",
        ),
    ]


def test_lock_capacity_weights_and_participants() -> None:
    text = (
        BASE
        + """
    job_locks:
      - name: zero
        jobs: [{identifier: a-one}]
      - name: heavy
        lock_count: 2
        jobs:
          - {identifier: a-one, lock_count: 3}
          - {identifier: ghost}
          - {identifier: a-two, child_context_name: nowhere}
          - {identifier: a-two, child_context_name: base}
          - {identifier: a-two, lock_count: -1}
      - name: empty
        lock_count: 1
      - lock_count: 1
        jobs: [{child_context_name: child}]
"""
    )
    assert found(text) == [
        (E, "contexts[0].jobLocks[0].lockCount", "a lock's capacity must be at least 1, got 0"),
        (
            E,
            "contexts[0].jobLocks[1].jobs[0].lockCount",
            "weight 3 exceeds the lock's capacity 2: the job could never take the lock",
        ),
        (E, "contexts[0].jobLocks[1].jobs[1].identifier", "unknown job 'ghost'"),
        (E, "contexts[0].jobLocks[1].jobs[2].childContextName", "unknown context 'nowhere'"),
        (
            E,
            "contexts[0].jobLocks[1].jobs[3].childContextName",
            "job 'a-two' does not reside in context 'base'",
        ),
        (E, "contexts[0].jobLocks[1].jobs[4].lockCount", "a weight must not be negative, got -1"),
        (W, "contexts[0].jobLocks[2].jobs", "the lock has no participating jobs"),
        (E, "contexts[0].jobLocks[3].name", "a lock needs a name"),
        (
            E,
            "contexts[0].jobLocks[3].jobs[0].identifier",
            "a lock participant needs a job identifier",
        ),
    ]


def test_command_jobs_need_a_command_line_and_an_agent() -> None:
    text = BASE.replace("{command_line: echo one}", "{command_line: '  '}")
    text = text.replace(
        "      - agent_name: a\n        job_name: two\n", "      - identifier: a-two\n"
    )
    assert found(text) == [
        (
            E,
            "contexts[0].scheduledJobs[1].internalEventDrivenJob.commandLine",
            "a command job needs a command line",
        ),
        (
            E,
            "contexts[0].scheduledJobs[2].agentName",
            "a job run by an agent needs the agent's name",
        ),
        (E, "contexts[0].scheduledJobs[2].jobName", "a job run by an agent needs a job name"),
    ]


def test_a_job_needs_an_identifier_and_an_occurrence_needs_a_definition() -> None:
    text = with_jobs("""
      - identifier: a-undefined
      - agent_name: a
""")
    assert found(text) == [
        (
            E,
            "contexts[0].scheduledJobs[3]",
            "job 'a-undefined' is not defined anywhere in the "
            "plan: this occurrence sets no job type and no other occurrence defines it",
        ),
        (
            E,
            "contexts[0].scheduledJobs[4]",
            "a job needs an identifier, or an agentName and a jobName",
        ),
    ]


def test_return_codes_timeouts_retry_and_execution_times_are_range_checked() -> None:
    text = BASE.replace(
        "{command_line: echo one}",
        """
          command_line: echo one
          successful_return_codes: [0, -1, 255, 256]
          timeout_seconds: -5
          retry: {count: -1, delay_seconds: -10}
          min_execution_time: 5000
          max_execution_time: 1000
          days_of_week_to_run: [MON, 0]""",
    )
    text = text.replace("{command_line: echo two}", "{command_line: x, min_execution_time: -2}")
    prefix = "contexts[0].scheduledJobs[1].internalEventDrivenJob."
    assert found(text) == [
        (E, prefix + "successfulReturnCodes[1]", "return code -1 is out of range (0..255)"),
        (E, prefix + "successfulReturnCodes[3]", "return code 256 is out of range (0..255)"),
        (W, prefix + "maxExecutionTime", "is below minExecutionTime (5000)"),
        (E, prefix + "daysOfWeekToRun[1]", "a day of week must be SUN..SAT (1..7)"),
        (E, prefix + "timeoutSeconds", "the timeout must not be negative, got -5"),
        (E, prefix + "retry.count", "the retry count must not be negative, got -1"),
        (E, prefix + "retry.delaySeconds", "the retry delay must not be negative, got -10"),
        (
            E,
            "contexts[0].scheduledJobs[2].internalEventDrivenJob.minExecutionTime",
            "must be -1 or 0 (unset) or positive, got -2",
        ),
    ]


def test_negative_plan_durations_and_backwards_blackout_ranges() -> None:
    text = (
        BASE
        + """
context_ttl_milliseconds: -1
misfire_grace_seconds: -3
blackout_window_date_time_ranges: [{start: 10, end: 5}, {start: -1, end: 5}]
"""
    )
    assert found(text) == [
        (E, "contextTtlMilliseconds", "the TTL must not be negative, got -1"),
        (E, "misfireGraceSeconds", "the misfire grace must not be negative, got -3"),
        (E, "blackoutWindowDateTimeRanges[0]", "end 5 is before start 10"),
        (
            E,
            "blackoutWindowDateTimeRanges[1]",
            "start and end are epoch milliseconds and not negative",
        ),
    ]


def test_name_length_limit() -> None:
    long_name = "x" * (MAX_NAME_LENGTH + 1)
    assert found(BASE.replace("name: child", f"name: {long_name}")) == [
        (
            E,
            "contexts[0].name",
            f"the name is {MAX_NAME_LENGTH + 1} characters long; at most "
            f"{MAX_NAME_LENGTH} (limit MAX_NAME_LENGTH)",
        ),
    ]
    assert found(BASE.replace("name: child", f"name: {'x' * MAX_NAME_LENGTH}")) == []


def test_context_depth_limit() -> None:
    def nested(levels: int) -> plan_pb2.Context:
        plan = plan_pb2.Context(name="c1")
        ctx = plan
        for level in range(2, levels + 1):
            ctx = ctx.contexts.add(name=f"c{level}")
        return plan

    assert validate_plan(nested(MAX_CONTEXT_DEPTH)) == []
    deep = nested(MAX_CONTEXT_DEPTH + 1)
    assert [(p.severity, p.path) for p in validate_plan(deep)] == [
        (E, ".".join(["contexts[0]"] * (MAX_CONTEXT_DEPTH - 1)) + ".contexts"),
    ]


def test_job_count_limit() -> None:
    plan = plan_pb2.Context(name="big")
    for i in range(MAX_JOBS + 1):
        job = plan.scheduled_jobs.add(agent_name="GLOBAL_EVENT", job_name=f"g{i}")
        job.global_event_job.SetInParent()
    problems = validate_plan(plan)
    assert [(p.severity, p.path, p.message) for p in problems] == [
        (
            E,
            "",
            f"the plan has {MAX_JOBS + 1} job occurrences; at most {MAX_JOBS} (limit MAX_JOBS)",
        ),
    ]
    del plan.scheduled_jobs[-1]
    assert validate_plan(plan) == []


def test_grouping_depth_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "MAX_GROUPING_DEPTH", 3)
    plan = load_plan_text(BASE)
    level = plan.contexts[0].job_dependencies[1].logical_grouping
    for _ in range(3):
        level = level.all_of.add().logical_grouping
        level.all_of.add(identifier="a-one")
    assert [(p.severity, p.path) for p in validate_plan(plan)] == [
        (E, "contexts[0].jobDependencies[1].logicalGrouping" + ".and[1].logicalGrouping" * 3),
        (W, "contexts[0].scheduledJobs[2]"),  # deeper than the limit cannot fire
    ]


def test_root_only_fields_on_a_child_context_warn() -> None:
    text = (
        BASE
        + """
    time_window_start: "0 0 1 ? * * *"
    disabled: true
    environment_group: g
"""
    )
    assert found(text) == [
        (
            W,
            "contexts[0].timeWindowStart",
            "only meaningful on the plan (the root context); ignored on a child context",
        ),
        (
            W,
            "contexts[0].environmentGroup",
            "only meaningful on the plan (the root context); ignored on a child context",
        ),
        (
            W,
            "contexts[0].disabled",
            "only meaningful on the plan (the root context); ignored on a child context",
        ),
    ]


def test_groupings_that_can_never_fire_warn() -> None:
    text = (
        BASE
        + """
      - job_identifier: a-one
        logical_grouping: {not: [a-two]}
      - job_identifier: a-one
        logical_grouping: {logical_grouping: {and: [a-tick]}}
      - job_identifier: a-one
        logical_grouping: {}
      - job_identifier: a-one
        logical_grouping: {not: [a-tick], logical_grouping: {and: [a-tick]}}
      - job_identifier: a-one
        logical_grouping: {and: [a-tick], logical_grouping: {or: [{logical_grouping: {}}]}}
"""
    )
    tail = ", so it never fires: a level is (and || or) && !not and needs an 'and' or 'or' operand"
    assert found(text) == [
        (
            W,
            "contexts[0].jobDependencies[2].logicalGrouping",
            "this grouping holds only 'not' operands" + tail,
        ),
        (
            W,
            "contexts[0].jobDependencies[3].logicalGrouping",
            "this grouping holds only a nested grouping" + tail,
        ),
        (W, "contexts[0].jobDependencies[4].logicalGrouping", "this grouping is empty" + tail),
        (
            W,
            "contexts[0].jobDependencies[5].logicalGrouping",
            "this grouping holds only 'not' operands and a nested grouping" + tail,
        ),
        (
            W,
            "contexts[0].jobDependencies[6].logicalGrouping.logicalGrouping.or[0].logicalGrouping",
            "this grouping is empty" + tail,
        ),
    ]


def test_command_jobs_no_event_reaches_warn() -> None:
    text = with_jobs("""
      - agent_name: a
        job_name: orphan
        internal_event_driven_job: {command_line: echo}
      - agent_name: a
        job_name: rooted
        internal_event_driven_job: {command_line: echo}
      - agent_name: a
        job_name: never
        internal_event_driven_job: {command_line: echo}
      - agent_name: a
        job_name: elsewhere
        internal_event_driven_job: {command_line: echo}
""")
    plan = load_plan_text(text)
    child = plan.contexts[0]
    child.job_dependencies.add(job_identifier="a-rooted")  # a root job: no grouping
    never = child.job_dependencies.add(job_identifier="a-never")
    never.logical_grouping.none_of.add(identifier="a-one")
    plan.job_dependencies.add(job_identifier="a-elsewhere").logical_grouping.all_of.add(
        identifier="a-tick"
    )
    got = [(p.severity, p.path, p.message) for p in validate_plan(plan)]
    tail = (
        "is raised by no event (it is not the target of a dependency whose logic can fire, "
        "in a context where it resides): it runs only by a manual run"
    )
    assert [g for g in got if "manual run" in g[2]] == [
        (W, "contexts[0].scheduledJobs[3]", f"command job 'a-orphan' {tail}"),
        (W, "contexts[0].scheduledJobs[4]", f"command job 'a-rooted' {tail}"),
        (W, "contexts[0].scheduledJobs[5]", f"command job 'a-never' {tail}"),
        (W, "contexts[0].scheduledJobs[6]", f"command job 'a-elsewhere' {tail}"),
    ]


def test_context_dependencies_warn_that_they_are_ignored() -> None:
    text = (
        BASE
        + """
    context_dependencies: [{context_identifier: child, context_dependency_name: base}]
"""
    )
    assert paths(text) == [(W, "contexts[0].contextDependencies")]


def test_held_and_skipped_contexts_must_name_contexts() -> None:
    text = BASE.replace(
        "job_name: one\n",
        "job_name: one\n        skipped_contexts: {child: true, nope: true}\n"
        "        held_contexts: {nope: true, base: true, gone: false}\n",
    )
    assert found(text) == [
        (W, "contexts[0].scheduledJobs[1].skippedContexts.nope", "no context is named 'nope'"),
        (W, "contexts[0].scheduledJobs[1].heldContexts.gone", "no context is named 'gone'"),
        (W, "contexts[0].scheduledJobs[1].heldContexts.nope", "no context is named 'nope'"),
    ]


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
