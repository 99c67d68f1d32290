"""The instance-wide, job and agent verbs against the live stack: dry run, parameters, cron jobs,
lock queues, kill all, missed runs, events that can run, rerun, an agent's dry-run mode."""

from __future__ import annotations

from pathlib import Path

from .conftest import Cli, assert_one_line_error, write_plan

PLAN = """
name: ops-{n}
timeWindowStart: "0 0 6 ? * * *"
contextTtlMilliseconds: 3600000
contextParameters:
  - name: COLOUR
    defaultValue: red
scheduledJobs:
  - agentName: local
    jobName: tick
    quartzScheduleDrivenJob: {{cronExpression: "0 0 5 ? * * *"}}
  - agentName: local
    jobName: a
    internalEventDrivenJob:
      commandLine: echo "a is $COLOUR"
      contextParameters: [{{name: COLOUR}}]
  - agentName: local
    jobName: b
    internalEventDrivenJob: {{commandLine: "sleep 30"}}
jobDependencies:
  - jobIdentifier: local-tick
  - jobIdentifier: local-a
    logicalGrouping: {{and: [local-tick]}}
  - jobIdentifier: local-b
    logicalGrouping: {{and: [local-a]}}
"""


def _instance(stack: Cli, n: str) -> str:
    path = write_plan(Path(stack.cwd), f"ops-{n}", PLAN.format(n=n))
    stack.ok("plan", "apply", "-f", str(path))
    return stack.ok("instance", "create", f"ops-{n}").out.strip()


def test_instance_verbs(stack: Cli) -> None:
    iid = _instance(stack, "1")
    try:
        on = stack.json("instance", "dry-run", iid, "--fixed", "0.1")
        assert on["dry_run"] is True
        off = stack.ok("instance", "dry-run", iid, "--off")
        assert "dry run off" in off.out
        assert_one_line_error(
            stack.run("instance", "dry-run", iid, "--error-percent", "150"),
            rc=2,
            contains="--error-percent",
        )
        params = stack.ok("instance", "set-params", iid, "--param", "COLOUR=blue")
        assert "COLOUR=blue" in params.out
        assert_one_line_error(
            stack.run("instance", "set-params", iid, "--param", "NOPE=1"), contains="NOPE"
        )
        assert_one_line_error(stack.run("instance", "set-params", iid), rc=2, contains="--param")
        stack.ok("instance", "disable-cron", iid)
        assert stack.job_status(iid, "local-tick") == "DISABLED"
        stack.ok("instance", "enable-cron", iid)
        assert stack.job_status(iid, "local-tick") == "WAITING"
        can = stack.json("job", "can-run", iid, "local-tick")
        assert [i["job_identifier"] for i in can["initiations"]] == ["local-a"]
        stack.ok("job", "run", iid, "local-tick")
        stack.wait_job(iid, "local-b", "RUNNING")
        assert stack.job_status(iid, "local-a") == "COMPLETE"
        released = stack.ok("instance", "release-queued", iid)
        assert "without their lock" in released.out
        killed = stack.ok("instance", "kill-running", iid)
        assert "local-b" in killed.out
        stack.wait_job(iid, "local-b", "ERROR")
        again = stack.ok("job", "rerun", iid, "local-a")
        assert "reset and run again" in again.out
        stack.wait_job(iid, "local-a", "COMPLETE")
        logs = stack.run("job", "logs", iid, "local-a")
        if logs.rc == 0:
            assert "a is blue" in logs.out  # the new value reached the rerun
        missed = stack.ok("instance", "missed-runs", "--plan", "ops-1")
        assert missed.out.startswith("PLAN")
    finally:
        stack.run("instance", "end", iid)


def test_agent_dry_run_and_get(stack: Cli) -> None:
    shown = stack.ok("agent", "dry-run", "local", "--job", "ops-x=on")
    assert "dry run on" in shown.out and "ops-x=on" in shown.out
    off = stack.ok("agent", "dry-run", "local", "--off")
    assert "dry run off" in off.out
    assert_one_line_error(stack.run("agent", "dry-run", "nobody"), contains="nobody")
    assert_one_line_error(
        stack.run("agent", "dry-run", "local", "--job", "x=maybe"), rc=2, contains="--job"
    )
    info = stack.json("agent", "get", "local")
    assert info["agent_name"] == "local" and info["connected"] is True


def test_plan_check_on_the_dashboard(stack: Cli) -> None:
    good = write_plan(Path(stack.cwd), "ops-check", PLAN.format(n="check"))
    result = stack.ok("plan", "check", "-f", str(good))
    assert "is valid" in result.out
    bad = write_plan(
        Path(stack.cwd),
        "ops-bad",
        PLAN.format(n="bad").replace("and: [local-a]", "and: [local-nowhere]"),
    )
    failed = stack.run("plan", "check", "-f", str(bad))
    assert failed.rc == 1 and "local-nowhere" in failed.out
