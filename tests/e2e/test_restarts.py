"""Crashes and restarts mid-run: the dashboard stopped by SIGTERM, the dashboard killed by
SIGKILL (twice), an agent killed by SIGKILL (twice). Each time the run resumes and completes,
no job runs twice (side-effect files count runs) and the audit trail holds each transition
once."""

from __future__ import annotations

import signal
from pathlib import Path

from .conftest import (
    E2EStack,
    assert_transitions_once,
    job_changes,
    run_count,
    wait_until,
    write_plan,
)

# A relay over both agents; "two" and "three" run long enough to crash something under them.
# Each job appends "run" when it starts; "two" and "three" append "end" to <name>-end last.
RELAY = """
name: relay
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: start
    quartzScheduleDrivenJob: {{cronExpression: "0 0 0 1 1 ? 2099"}}
  - agentName: local
    jobName: one
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/one", timeoutSeconds: 60}}
  - agentName: remote
    jobName: two
    internalEventDrivenJob:
      commandLine: "echo run >> {marks}/two; sleep 3; echo end >> {marks}/two-end"
      timeoutSeconds: 60
  - agentName: local
    jobName: three
    internalEventDrivenJob:
      commandLine: "echo run >> {marks}/three; sleep 3; echo end >> {marks}/three-end"
      timeoutSeconds: 60
  - agentName: remote
    jobName: four
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/four", timeoutSeconds: 60}}
jobDependencies:
  - jobIdentifier: local-start
  - {{jobIdentifier: local-one, logicalGrouping: {{and: [local-start]}}}}
  - {{jobIdentifier: remote-two, logicalGrouping: {{and: [local-one]}}}}
  - {{jobIdentifier: local-three, logicalGrouping: {{and: [remote-two]}}}}
  - {{jobIdentifier: remote-four, logicalGrouping: {{and: [local-three]}}}}
"""
JOBS = ("local-one", "remote-two", "local-three", "remote-four")
# restarts wait for an agent's reconnect backoff (up to 5 s) on top of the jobs' own time
RESUME_TIMEOUT = 60.0


def _start_relay(stack: E2EStack) -> str:
    stack.ok(
        "plan", "apply", "-f", str(write_plan(stack.work, "relay", RELAY.format(marks=stack.marks)))
    )
    iid = stack.ok("instance", "create", "relay").out.strip()
    stack.ok("job", "run", iid, "local-start")
    return iid


def _ended(marks: Path, name: str) -> bool:
    return run_count(marks, f"{name}-end") > 0


def _check_completed_once(stack: E2EStack, iid: str) -> None:
    stack.wait_instance(iid, "COMPLETE", timeout=RESUME_TIMEOUT)
    assert {n: run_count(stack.marks, n) for n in ("one", "two", "three", "four")} == {
        "one": 1,
        "two": 1,
        "three": 1,
        "four": 1,
    }
    jobs = stack.jobs(iid)
    for ident in JOBS:
        job = jobs[(ident, "relay")]
        assert job["status"] == "COMPLETE" and job["attempts"] == 1, job
    changes = stack.audit(iid)
    assert_transitions_once(changes)
    steps = job_changes(changes)
    for ident in JOBS:
        assert steps[(ident, "relay")] == [("WAITING", "RUNNING"), ("RUNNING", "COMPLETE")], (
            ident,
            steps[(ident, "relay")],
        )
    root = [
        c["context"].get("new_status")
        for c in changes
        if "context" in c and c["context"]["context_name"] == "relay"
    ]
    assert root == ["WAITING", "RUNNING", "COMPLETE"], root


def test_dashboard_sigterm_mid_run(fresh_stack: E2EStack) -> None:
    stack = fresh_stack
    iid = _start_relay(stack)
    stack.wait_job(iid, "remote-two", "RUNNING")
    # a graceful stop: exit status 0
    assert stack.signal("dashboard", signal.SIGTERM) == 0
    # the job finishes while the dashboard is away; its completion waits in the agent's outbox
    wait_until("two to end", lambda: _ended(stack.marks, "two"))
    assert run_count(stack.marks, "three") == 0
    stack.start_dashboard()
    _check_completed_once(stack, iid)


def test_dashboard_sigkill_twice_mid_run(fresh_stack: E2EStack) -> None:
    stack = fresh_stack
    iid = _start_relay(stack)
    stack.wait_job(iid, "remote-two", "RUNNING")
    assert stack.signal("dashboard", signal.SIGKILL) == -signal.SIGKILL
    stack.start_dashboard()
    stack.wait_job(iid, "local-three", "RUNNING", timeout=RESUME_TIMEOUT)
    assert stack.signal("dashboard", signal.SIGKILL) == -signal.SIGKILL
    wait_until("three to end", lambda: _ended(stack.marks, "three"))
    stack.start_dashboard()
    _check_completed_once(stack, iid)


def test_agent_sigkill_mid_run(fresh_stack: E2EStack) -> None:
    stack = fresh_stack
    iid = _start_relay(stack)
    stack.wait_job(iid, "remote-two", "RUNNING")
    # the job's wrapper is detached: it outlives its agent, which re-attaches after restart
    assert stack.signal("agent-remote", signal.SIGKILL) == -signal.SIGKILL
    stack.start_agent("remote")
    stack.wait_job(iid, "local-three", "RUNNING", timeout=RESUME_TIMEOUT)
    # killed while idle: the next initiation ("four") waits for it on the dashboard
    assert stack.signal("agent-remote", signal.SIGKILL) == -signal.SIGKILL
    wait_until("three to end", lambda: _ended(stack.marks, "three"))
    stack.wait_job(iid, "local-three", "COMPLETE")
    assert stack.job_status(iid, "remote-four") == "WAITING"
    stack.start_agent("remote")
    _check_completed_once(stack, iid)
    assert _ended(stack.marks, "two")


def test_dashboard_sigkill_right_after_a_verb(fresh_stack: E2EStack) -> None:
    # the verb's effects were committed before it answered: the kill loses none of them
    stack = fresh_stack
    iid = _start_relay(stack)
    assert stack.signal("dashboard", signal.SIGKILL) == -signal.SIGKILL
    stack.start_dashboard()
    _check_completed_once(stack, iid)
