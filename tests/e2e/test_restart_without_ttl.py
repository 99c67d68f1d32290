"""A plan without a TTL (contextTtlMilliseconds 0: no end) keeps its running job through
dashboard restarts, graceful (SIGTERM) and not (SIGKILL): recovery resumes the instance
instead of ending it, the agent never kills the job, and the job completes once
(docs/semantics.md §9.6)."""

from __future__ import annotations

import signal

from .conftest import E2EStack, run_count, wait_until, write_plan

# "long" runs until the test creates the file "go", so it is surely running across restarts
ENDLESS = """
name: endless
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 0
scheduledJobs:
  - agentName: local
    jobName: long
    internalEventDrivenJob:
      commandLine: >-
        echo run >> {marks}/long; while [ ! -e {marks}/go ]; do sleep 0.2; done;
        echo end >> {marks}/long-end
      timeoutSeconds: 300
"""
RESUME_TIMEOUT = 60.0


def _assert_still_running(stack: E2EStack, iid: str) -> None:
    found = stack.instance(iid)
    assert found["status"] == "RUNNING", found
    assert stack.job_status(iid, "local-long") == "RUNNING"
    # the agent is back and has not killed the wrapper
    stack.wait_agents("local", timeout=RESUME_TIMEOUT)
    assert stack.job_wrappers(), "the job's wrapper is gone"
    assert run_count(stack.marks, "long-end") == 0


def test_dashboard_restarts_keep_a_job_of_a_plan_without_ttl(fresh_stack: E2EStack) -> None:
    stack = fresh_stack
    plan = write_plan(stack.work, "endless", ENDLESS.format(marks=stack.marks))
    stack.ok("plan", "apply", "-f", str(plan))
    iid = stack.ok("instance", "create", "endless").out.strip()
    stack.ok("job", "run", iid, "local-long")
    stack.wait_job(iid, "local-long", "RUNNING")
    assert stack.instance(iid).get("projected_end_time", "0") in ("0", 0)

    assert stack.signal("dashboard", signal.SIGTERM) == 0
    stack.start_dashboard()
    _assert_still_running(stack, iid)

    assert stack.signal("dashboard", signal.SIGKILL) == -signal.SIGKILL
    stack.start_dashboard()
    _assert_still_running(stack, iid)

    (stack.marks / "go").touch()
    stack.wait_instance(iid, "COMPLETE", timeout=RESUME_TIMEOUT)
    job = stack.job(iid, "local-long")
    assert job["status"] == "COMPLETE" and job["attempts"] == 1, job
    wait_until("the job's end mark", lambda: run_count(stack.marks, "long-end") == 1)
    assert run_count(stack.marks, "long") == 1
