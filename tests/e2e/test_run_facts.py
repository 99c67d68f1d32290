"""Why a job failed, through the real stack: a real agent times a job out, a kill names who
asked, a bad runAsUser says why it never ran, and a reset clears the previous run's facts. The
facts are read back with `ikasched instance get`, the cross-plan `ikasched job list` and the
audit trail `ikasched audit` (-o json and the human tables)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from .conftest import E2EStack, assert_one_line_error, write_plan

PLAN = """
name: {name}
owner: team-{name}
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
scheduledJobs:
  - agentName: local
    jobName: slow
    internalEventDrivenJob: {{commandLine: "sleep 30", timeoutSeconds: 1}}
  - agentName: remote
    jobName: victim
    internalEventDrivenJob: {{commandLine: "exec sleep 120", timeoutSeconds: 300}}
  - agentName: local
    jobName: fails
    internalEventDrivenJob: {{commandLine: "exit 3", timeoutSeconds: 30}}
  - agentName: local
    jobName: stranger
    internalEventDrivenJob: {{commandLine: "true", runAsUser: no-such-user-ik,
                              timeoutSeconds: 30}}
jobDependencies:
  - jobIdentifier: local-slow
  - jobIdentifier: remote-victim
  - jobIdentifier: local-fails
  - jobIdentifier: local-stranger
"""


@pytest.fixture(scope="module")
def failed(module_stack: E2EStack) -> tuple[str, dict[str, dict[str, Any]]]:
    """An instance whose jobs failed each its own way; its jobs as `instance get` shows them."""
    stack = module_stack
    plan = write_plan(stack.work, "facts", PLAN.format(name="facts"))
    stack.ok("plan", "apply", "-f", str(plan))
    iid = stack.ok("instance", "create", "facts").out.strip()
    for job in ("local-slow", "remote-victim", "local-fails"):
        stack.ok("job", "run", iid, job)
    if os.geteuid() == 0:
        stack.ok("job", "run", iid, "local-stranger")
    stack.wait_job(iid, "remote-victim", "RUNNING")
    stack.ok("job", "kill", iid, "remote-victim")
    for job in ("local-slow", "remote-victim", "local-fails"):
        stack.wait_job(iid, job, "ERROR")
    if os.geteuid() == 0:
        stack.wait_job(iid, "local-stranger", "ERROR")
    jobs = {ident: j for (ident, _), j in stack.jobs(iid).items()}
    return iid, jobs


def test_a_timeout_and_a_kill_tell_apart(
    module_stack: E2EStack, failed: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    _, jobs = failed
    slow, victim = jobs["local-slow"], jobs["remote-victim"]
    # both end with 143 (128 + SIGTERM); only the reason tells them apart
    assert slow["return_code"] == victim["return_code"] == 143
    assert slow["outcome_reason"] == "timed out after 1 s"
    assert slow["status_reason"] == "timed out after 1 s"
    assert victim["outcome_reason"].startswith("killed by "), victim
    assert victim["status_reason"] == victim["outcome_reason"]
    for job in (slow, victim):
        # the facts of the run: where, when, how long, and the last event itself
        assert job["agent_hostname"], job
        assert int(job["end_time"]) > int(job["start_time"]) > 0
        assert int(job["duration_millis"]) == int(job["end_time"]) - int(job["start_time"])
        assert job["attempts"] == 1
        event = job["scheduled_process_event"]
        assert event["outcome_reason"] == job["outcome_reason"]
        assert event["return_code"] == 143 and event.get("successful", False) is False
    assert int(slow["duration_millis"]) >= 1000
    assert jobs["local-fails"]["status_reason"] == "failed with return code 3"


@pytest.mark.skipif(os.geteuid() != 0, reason="runAsUser needs an agent running as root")
def test_a_bad_run_as_user_says_why_it_never_ran(
    failed: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _, jobs = failed
    stranger = jobs["local-stranger"]
    assert stranger["return_code"] == -1
    assert stranger["outcome_reason"] == (
        "refused by the agent: internal_event_driven_job.run_as_user: "
        "no such OS user 'no-such-user-ik'"
    )
    assert stranger["status_reason"] == stranger["outcome_reason"]


def test_a_reset_clears_the_previous_run_and_a_new_run_counts(
    module_stack: E2EStack, failed: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    stack = module_stack
    iid, _ = failed
    stack.ok("job", "reset", iid, "local-fails")
    after = stack.job(iid, "local-fails")
    assert after["status"] == "WAITING"
    for cleared in ("return_code", "start_time", "end_time", "duration_millis"):
        assert int(after.get(cleared, 0)) == 0, (cleared, after)
    for cleared in ("outcome_reason", "agent_hostname", "scheduled_process_event"):
        assert not after.get(cleared), (cleared, after)
    assert after["attempts"] == 1  # the run count stays
    stack.ok("job", "run", iid, "local-fails")
    stack.wait_job(iid, "local-fails", "ERROR")
    again = stack.job(iid, "local-fails")
    assert again["attempts"] == 2
    assert again["outcome_reason"] == "failed with return code 3"
    table = stack.ok("instance", "get", iid).out
    line = next(row for row in table.splitlines() if row.startswith("local-slow"))
    assert "timed out after 1 s" in line and "143" in line, line


def test_job_list_finds_errors_across_plans(
    module_stack: E2EStack, failed: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    stack = module_stack
    iid, _ = failed
    found = stack.json("job", "list", "--status", "ERROR")["jobs"]
    mine = {j["job"]["identifier"]: j for j in found if j["job"]["context_instance_id"] == iid}
    assert {"local-slow", "remote-victim", "local-fails"} <= set(mine), found
    slow = mine["local-slow"]
    assert slow["context_name"] == "facts" and slow["job"]["agent_name"] == "local"
    assert slow["job"]["status_reason"] == "timed out after 1 s"
    assert int(slow["since"]) == int(slow["job"]["end_time"])
    assert all(j["job"]["status"] == "ERROR" for j in found)
    # the filters: agent, owner, plan, paging through --limit
    remote = stack.json("job", "list", "--status", "ERROR", "--agent", "remote")["jobs"]
    assert {j["job"]["identifier"] for j in remote if j["context_name"] == "facts"} == {
        "remote-victim"
    }
    owned = stack.json("job", "list", "--owner", "team-facts")["jobs"]
    assert owned and {j["context_name"] for j in owned} == {"facts"}
    assert stack.json("job", "list", "--owner", "team-nobody")["jobs"] == []
    assert len(stack.json("job", "list", "--plan", "facts", "--limit", "2")["jobs"]) == 2
    # the human table: plan, instance, job, agent, since, reason
    table = stack.ok("job", "list", "--status", "ERROR", "--plan", "facts", "--utc").out
    head, *rows = table.splitlines()
    assert head.split()[:6] == ["PLAN", "INSTANCE", "CONTEXT", "JOB", "STATUS", "AGENT"]
    line = next(r for r in rows if "local-slow" in r)
    assert iid in line and "timed out after 1 s" in line and "Z" in line, line
    # bad input: one line naming the flag
    assert_one_line_error(stack.run("job", "list", "--status", "BROKEN"), rc=2, contains="--status")


def test_a_plan_limited_viewer_sees_only_its_plans(
    module_stack: E2EStack, failed: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    stack = module_stack
    iid, _ = failed
    made = stack.json(
        "token", "create", "--subject", "viewer-x", "--role", "viewer", "--plan", "other-plan"
    )
    viewer = {**stack.env(), "IKASCHED_TOKEN": str(made["secret"])}
    import json
    import subprocess

    from .conftest import cli_command

    def as_viewer(*args: str) -> Any:
        done = subprocess.run(
            cli_command(*args, "-o", "json"),
            env=viewer,
            cwd=stack.work,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done
        return json.loads(done.stdout)

    assert as_viewer("job", "list", "--status", "ERROR")["jobs"] == []
    assert as_viewer("audit", "--plan", "other-plan")["records"] == []
    full = stack.json("job", "list", "--status", "ERROR", "--plan", "facts")["jobs"]
    assert full  # the admin sees them
    unlimited = stack.json("token", "create", "--subject", "viewer-all", "--role", "viewer")
    viewer["IKASCHED_TOKEN"] = str(unlimited["secret"])
    seen = as_viewer("job", "list", "--status", "ERROR", "--plan", "facts")["jobs"]
    assert {j["job"]["identifier"] for j in seen} == {j["job"]["identifier"] for j in full}
    assert iid in {j["job"]["context_instance_id"] for j in seen}


def test_the_audit_trail_is_queryable(
    module_stack: E2EStack, failed: tuple[str, dict[str, dict[str, Any]]]
) -> None:
    stack = module_stack
    iid, _ = failed
    stack.ok("job", "ack", iid, "local-slow", "--ticket", "INC-42", "--message", "known slow disk")
    rows = stack.json("audit", iid)["records"]
    kinds = {r["kind"] for r in rows}
    assert {"context", "job", "verb", "ack"} <= kinds, kinds
    positions = [int(r["position"]) for r in rows]
    assert positions == sorted(positions)
    ack = [r for r in rows if r["kind"] == "ack"]
    assert len(ack) == 1 and "INC-42" in ack[0]["detail"] and "known slow disk" in ack[0]["detail"]
    kill = [r for r in rows if r["kind"] == "verb" and r["detail"].startswith("kill")]
    assert kill and kill[0]["job_identifier"] == "remote-victim"
    actor = kill[0]["actor"]
    assert actor and not actor.startswith("agent:")
    victim = stack.job(iid, "remote-victim")
    assert victim["outcome_reason"] == f"killed by {actor}"
    # filters: job, kind, actor, time
    slow = stack.json("audit", iid, "--job", "local-slow", "--kind", "job")["records"]
    assert [(r.get("previous_status"), r["new_status"]) for r in slow][-1] == (
        "RUNNING",
        "ERROR",
    )
    assert {r["actor"] for r in stack.json("audit", iid, "--actor", actor)["records"]} == {actor}
    assert stack.json("audit", iid, "--since", "2099-01-01T00:00Z")["records"] == []
    assert len(stack.json("audit", iid, "--limit", "3")["records"]) == 3
    # the human table shows local times (or UTC), not epoch ms
    table = stack.ok("audit", iid, "--kind", "ack", "--utc").out
    head, line = table.splitlines()
    assert head.split()[:3] == ["TIME", "KIND", "PLAN"]
    assert line.split()[1].endswith("Z") and "ticket INC-42: known slow disk" in line, line
    assert_one_line_error(stack.run("audit", iid, "--kind", "nonsense"), contains="kinds[0]")
    assert_one_line_error(stack.run("audit", "--since", "yesterday"), rc=2, contains="--since")
