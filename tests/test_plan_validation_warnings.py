"""validate_plan's warnings: root-only fields on a child, groupings that can never fire,
command jobs no event reaches, ignored context dependencies, held and skipped contexts."""

from __future__ import annotations

from ikasched_dashboard.plans.loader import load_plan_text
from ikasched_dashboard.plans.validation import (
    validate_plan,
)
from tests.test_plan_validation import BASE, W, found, paths, with_jobs


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
