"""validate_plan, field by field: crons and time zones, time and file jobs, locks, command
jobs, identifiers, ranges, durations, and the size limits (names, depth, jobs, groupings)."""

from __future__ import annotations

import pytest

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans import validation
from ikasched_dashboard.plans.loader import load_plan_text
from ikasched_dashboard.plans.validation import (
    MAX_CONTEXT_DEPTH,
    MAX_JOBS,
    MAX_NAME_LENGTH,
    validate_plan,
)
from tests.test_plan_validation import BASE, E, W, found, paths, with_jobs


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
