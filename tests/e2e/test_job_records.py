"""Job records follow what happened to the job: a single-job kill marks it killed, and every
run of a repeatable job updates its times, return code and run count."""

from __future__ import annotations

from .conftest import E2EStack, run_count, wait_until, write_plan
from .test_cross_agent import CROSS


def test_killed_job_is_marked_killed(module_stack: E2EStack) -> None:
    stack = module_stack
    plan = CROSS.format(name="cross-kill", marks=stack.marks)
    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "cross-kill", plan)))
    iid = stack.ok("instance", "create", "cross-kill").out.strip()
    try:
        stack.ok("job", "run", iid, "local-start")
        stack.wait_job(iid, "remote-long", "RUNNING")
        stack.ok("job", "kill", iid, "remote-long")
        stack.wait_job(iid, "remote-long", "ERROR", "KILLED")
        job = stack.job(iid, "remote-long")
        assert job.get("killed") is True, job
    finally:
        stack.run("instance", "end", iid)


def test_repeat_runs_of_a_repeatable_job_update_its_record(module_stack: E2EStack) -> None:
    stack = module_stack
    plan = f"""
name: repeat
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
scheduledJobs:
  - agentName: local
    jobName: tick
    quartzScheduleDrivenJob: {{cronExpression: "0/2 * * ? * * *"}}
  - agentName: local
    jobName: report
    internalEventDrivenJob:
      commandLine: "echo run >> {stack.marks}/repeat-report"
      jobRepeatable: true
jobDependencies:
  - jobIdentifier: local-tick
  - {{jobIdentifier: local-report, logicalGrouping: {{and: [local-tick]}}}}
"""
    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "repeat", plan)))
    iid = stack.ok("instance", "create", "repeat").out.strip()
    try:
        wait_until("a first run", lambda: run_count(stack.marks, "repeat-report") >= 1)
        first = stack.job(iid, "local-report")
        wait_until("two more runs", lambda: run_count(stack.marks, "repeat-report") >= 3)
        later = stack.job(iid, "local-report")
        assert later["initiation_id"] != first["initiation_id"]  # holds today
        assert int(later["start_time"]) > int(first["start_time"]), (first, later)
        assert int(later["end_time"]) > int(first["end_time"]), (first, later)
        assert later["attempts"] > first["attempts"], (first, later)
    finally:
        stack.run("instance", "end", iid)
