"""Rules declared in a plan file (services/plan_rules.py): where each entry applies (the
plan, a child context, a job), who an entry without recipients mails, and how a bad entry is
refused naming its path in the plan."""

from __future__ import annotations

import pytest

from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.loader import load_plan_text
from ikasched_dashboard.services.plan_rules import plan_rules
from ikasched_dashboard.store.notifications import NotificationEvent

PLAN = """
name: nested
owner: plan-owner@example.com
notifications:
  - {on: [INSTANCE_ENDED], webhook: "https://hooks.example.com/plan"}
scheduledJobs:
  - {agentName: a, jobName: top, internalEventDrivenJob: {commandLine: "true"}}
contexts:
  - name: inner
    notifications:
      - on: [ERROR]
      - {on: [OVERDUE], by: "06:30", webhook: "https://hooks.example.com/late"}
    scheduledJobs:
      - agentName: a
        jobName: deep
        owner: job-owner@example.com
        internalEventDrivenJob: {commandLine: "true"}
        notifications:
          - {on: [START], email: {to: [a@example.com], cc: [b@example.com]}}
          - {on: [RUNNING_TIME], p95: {factor: 2.5, runs: 10}}
"""


def _event(kind: str, job: str = "", context: str = "") -> NotificationEvent:
    return NotificationEvent(
        kind=kind,
        plan_name="nested",
        instance_id="i1",
        time=1,
        status="",
        job_identifier=job,
        child_context=context,
    )


def test_each_entry_applies_where_it_is_declared() -> None:
    rules = {r.name: r for r in plan_rules(load_plan_text(PLAN), "alice", 5)}
    assert set(rules) == {
        "nested:notifications[0]",
        "nested:contexts[0].notifications[0]",
        "nested:contexts[0].notifications[1]",
        "nested:contexts[0].scheduledJobs[0].notifications[0]",
        "nested:contexts[0].scheduledJobs[0].notifications[1]",
    }
    assert rules["nested:contexts[0].notifications[1]"].deadline == "06:30:00"
    slow = rules["nested:contexts[0].scheduledJobs[0].notifications[1]"]
    assert (slow.p95_factor, slow.p95_runs) == (2.5, 10)
    assert slow.webhook_url == "mailto:job-owner@example.com"
    plan = rules["nested:notifications[0]"]
    inner = rules["nested:contexts[0].notifications[0]"]
    deep = rules["nested:contexts[0].scheduledJobs[0].notifications[0]"]
    assert all(r.source_plan == "nested" and r.plan_name == "nested" for r in rules.values())
    assert plan.webhook_url == "https://hooks.example.com/plan" and plan.updated_by == "alice"
    assert inner.webhook_url == "mailto:plan-owner@example.com"  # the plan's owner
    assert deep.webhook_url == "mailto:a@example.com?cc=b@example.com"
    assert plan.matches(_event("INSTANCE_ENDED"))
    # the child context's rule: that context's jobs only
    assert inner.matches(_event("ERROR", "a-deep", "inner"))
    assert not inner.matches(_event("ERROR", "a-top", ""))
    assert not inner.matches(_event("ERROR", "a-deep", "other"))
    # the job's rule: that job in that context only
    assert deep.matches(_event("START", "a-deep", "inner"))
    assert not deep.matches(_event("START", "a-top", "inner"))


def test_a_job_entry_without_recipients_mails_the_jobs_owner() -> None:
    text = PLAN.replace(
        "          - {on: [START], email: {to: [a@example.com], cc: [b@example.com]}}",
        "          - {on: [START]}",
    )
    rules = {r.name: r for r in plan_rules(load_plan_text(text), "alice", 5)}
    deep = rules["nested:contexts[0].scheduledJobs[0].notifications[0]"]
    assert deep.webhook_url == "mailto:job-owner@example.com"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("on: [ERROR]", "on: [ERRORS]", "contexts[0].notifications[0].on[0]"),
        (
            '{on: [INSTANCE_ENDED], webhook: "https://hooks.example.com/plan"}',
            '{on: [INSTANCE_ENDED], webhook: "ftp://x"}',
            "notifications[0].webhook",
        ),
        ("to: [a@example.com]", "to: [nobody]", "contexts[0].scheduledJobs[0].notifications[0]"),
        ("owner: plan-owner@example.com", "owner: team-x", "contexts[0].notifications[0]"),
        ("factor: 2.5", "factor: 0.5", "contexts[0].scheduledJobs[0].notifications[1].p95.factor"),
        ('by: "06:30"', 'by: "6 am"', "contexts[0].notifications[1].by"),
        (
            "{on: [START], email:",
            "{on: [START], webhook: 'https://h.example.com', email:",
            "contexts[0].scheduledJobs[0].notifications[0].webhook",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_its_path(old: str, new: str, field: str) -> None:
    assert old in PLAN
    with pytest.raises(InvalidArgument) as caught:
        plan_rules(load_plan_text(PLAN.replace(old, new)), "alice", 5)
    assert caught.value.field.startswith(field), caught.value
