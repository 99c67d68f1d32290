"""`ikasched instance ...` and `ikasched job ...` against a live dashboard and agent."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import REPO, Cli, assert_one_line_error, cli_command, write_plan

# A time job (run by hand here) raising: a chain a -> b, a failing job, a slow job.
VERBS = """
name: {name}
timeWindowStart: "0 0 6 ? * * *"
timezone: UTC
contextParameters:
  - {{name: GREETING, defaultValue: hi}}
scheduledJobs:
  - agentName: local
    jobName: tick
    quartzScheduleDrivenJob: {{cronExpression: "0 0 6 ? * * *"}}
  - agentName: local
    jobName: a
    internalEventDrivenJob: {{commandLine: "echo a-$GREETING", timeoutSeconds: 30,
                              contextParameters: [{{name: GREETING}}]}}
  - agentName: local
    jobName: b
    internalEventDrivenJob: {{commandLine: "echo b", timeoutSeconds: 30}}
  - agentName: local
    jobName: fail
    internalEventDrivenJob: {{commandLine: "exit 3", timeoutSeconds: 30}}
  - agentName: local
    jobName: after
    internalEventDrivenJob: {{commandLine: "echo after", timeoutSeconds: 30}}
  - agentName: local
    jobName: slow
    internalEventDrivenJob: {{commandLine: "sleep 60", timeoutSeconds: 120}}
jobDependencies:
  - jobIdentifier: local-tick
  - {{jobIdentifier: local-a, logicalGrouping: {{and: [local-tick]}}}}
  - {{jobIdentifier: local-b, logicalGrouping: {{and: [local-a]}}}}
  - {{jobIdentifier: local-fail, logicalGrouping: {{and: [local-tick]}}}}
  - {{jobIdentifier: local-slow, logicalGrouping: {{and: [local-tick]}}}}
  - {{jobIdentifier: local-after, logicalGrouping: {{and: [local-fail]}}}}
"""


def _job(stack: Cli, iid: str, ident: str) -> dict[str, Any]:
    jobs = stack.json("instance", "get", iid)["jobs"]
    found: dict[str, Any] = next(j for j in jobs if j["identifier"] == ident)
    return found


def _plan(stack: Cli, name: str) -> None:
    stack.ok("plan", "apply", "-f", str(write_plan(stack.cwd, name, VERBS.format(name=name))))


@pytest.fixture
def verbs_instance(stack: Cli, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "v-" + request.node.name.removeprefix("test_").replace("_", "-")[:40]
    _plan(stack, name)
    iid = stack.ok("instance", "create", name, "--param", "GREETING=there").out.strip()
    yield iid
    stack.run("instance", "end", iid)


def test_create_get_list(stack: Cli, verbs_instance: str) -> None:
    iid = verbs_instance
    found = stack.json("instance", "get", iid)
    assert found["id"] == iid
    params = {p["name"]: p.get("value", "") for p in found.get("context_parameters", [])}
    assert params["GREETING"] == "there"
    human = stack.ok("instance", "get", iid).out
    assert "local-slow" in human and "JOB" in human
    listed = stack.json("instance", "list", "--plan", found["context_name"])
    assert [i["id"] for i in listed] == [iid]
    # a plan name stands for its newest live instance
    by_plan = stack.json("instance", "get", found["context_name"])
    assert by_plan["id"] == iid
    assert_one_line_error(stack.run("instance", "get", "no-such-instance"), contains="not found")
    assert_one_line_error(stack.run("instance", "create", "no-such-plan"), contains="not found")


def test_create_with_a_request_id_is_safe_to_repeat(stack: Cli) -> None:
    _plan(stack, "keyed")  # not concurrent: a second creation would be refused
    first = stack.ok("instance", "create", "keyed", "--request-id", "change-4711").out.strip()
    try:
        again = stack.ok("instance", "create", "keyed", "--request-id", "change-4711").out.strip()
        assert again == first
        assert [i["id"] for i in stack.json("instance", "list", "--plan", "keyed")] == [first]
        assert_one_line_error(
            stack.run("instance", "create", "keyed", "--request-id", "no spaces"),
            contains="request_id",
        )
    finally:
        stack.run("instance", "end", first)


def test_job_verbs_through_a_run(stack: Cli, verbs_instance: str) -> None:
    iid = verbs_instance
    held = stack.json("job", "hold", iid, "local-b")
    assert held["jobs"][0]["held"] is True
    assert stack.job_status(iid, "local-b") == "ON_HOLD"
    stack.ok("job", "run", iid, "local-tick")
    stack.wait_job(iid, "local-a", "COMPLETE")
    stack.wait_job(iid, "local-fail", "ERROR")
    stack.wait_job(iid, "local-slow", "RUNNING")
    assert stack.job_status(iid, "local-b") == "ON_HOLD"

    # a verb in a wrong state: the dashboard's reason, one line
    assert_one_line_error(stack.run("job", "hold", iid, "local-slow"), contains="refused")
    assert_one_line_error(stack.run("job", "hold", iid, "local-nope"), contains="not found")

    stack.ok("job", "kill", iid, "local-slow", "--destroy")
    stack.wait_job(iid, "local-slow", "KILLED", "ERROR")

    stack.ok("job", "release", iid, "local-b")
    stack.wait_job(iid, "local-b", "COMPLETE")

    # resubmission raises what the failed job would have raised, as if it had succeeded
    assert stack.job_status(iid, "local-after") == "WAITING"
    stack.ok("job", "resubmit", iid, "local-fail")
    stack.wait_job(iid, "local-after", "COMPLETE")
    assert stack.job_status(iid, "local-fail") == "ERROR"
    acked = stack.json("job", "ack", iid, "local-fail", "--message", "known", "--ticket", "T-1")
    assert acked["jobs"][0]["error_acknowledged"] is True
    assert _job(stack, iid, "local-fail")["error_acknowledged"] is True
    assert_one_line_error(stack.run("job", "resubmit", iid, "local-a"), contains="ERROR")

    stack.ok("job", "reset", iid, "local-b")
    assert stack.job_status(iid, "local-b") in ("WAITING", "RUNNING", "COMPLETE")

    logs = stack.run("job", "logs", iid, "local-a")
    if logs.rc == 0:
        assert "a-there" in logs.out
    else:  # a dashboard without a log route refuses in one line
        assert_one_line_error(logs, contains="logs")


def test_skip_unskip_and_bulk_by_child_context(stack: Cli) -> None:
    stack.ok("plan", "apply", "-f", str(REPO / "examples" / "nightly-batch.yaml"))
    iid = stack.ok("instance", "create", "nightly-batch").out.strip()
    try:
        skipped = stack.json("job", "skip", iid, "local-quick-stats", "--child", "warehouse")
        assert skipped["jobs"][0]["skip"] is True
        stack.ok("job", "unskip", iid, "local-quick-stats", "--child", "warehouse")
        assert stack.json("instance", "get", iid)  # still readable
        held = stack.json("job", "hold", iid, "--all", "--child", "extract")
        idents = {j["identifier"] for j in held["jobs"] if j.get("held")}
        assert "local-extract-customers" in idents
        released = stack.json("job", "release", iid, "--all", "--child", "extract")
        assert not any(j.get("held") for j in released["jobs"])
        # a single release of a job no longer held is refused; release --all stays lenient
        again = stack.run("job", "release", iid, "local-extract-customers", "--child", "extract")
        assert_one_line_error(again, rc=1, contains="is not held (it is WAITING)")
        lenient = stack.ok("job", "release", iid, "--all", "--child", "extract")
        assert lenient.out.startswith("release --all: 0 job(s) changed")
        stack.ok("job", "skip", iid, "--all", "--child", "warehouse")
        stack.ok("job", "unskip", iid, "--all", "--child", "warehouse")
        bad = stack.run("job", "hold", iid, "local-x", "--all")
        assert_one_line_error(bad, rc=2, contains="not both")
        bad_child = stack.run("job", "hold", iid, "--all", "--child", "no-such-context")
        assert_one_line_error(bad_child, rc=1)
    finally:
        stack.run("instance", "end", iid)


def test_watch_until_ended_follows_a_chain(stack: Cli) -> None:
    stack.ok("plan", "apply", "-f", str(REPO / "examples" / "hello.yaml"))
    live = stack.json("instance", "list", "--plan", "hello")
    for instance in live:
        stack.ok("instance", "end", instance["id"])
    iid = stack.ok("instance", "create", "hello").out.strip()
    watch = subprocess.Popen(
        cli_command("instance", "watch", iid, "--until-ended", "--for", "40"),
        cwd=stack.cwd,
        env=stack.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        first = watch.stdout.readline()  # the snapshot: the watch follows from here on
        stack.ok("job", "run", iid, "local-morning")
        rest, err = watch.communicate(timeout=60)
        out = first + rest
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert watch.returncode == 0, (out, err)
    assert "local-say-done" in out and "-> COMPLETE" in out
    lines = out.splitlines()
    assert lines[0].startswith(f"hello {iid}")
    # the instance is named once, by its snapshot line, not on every change
    assert all(iid not in line for line in lines[1:]), out
    assert stack.json("instance", "get", iid)["status"] == "COMPLETE"


def test_end_reset_run_until_ended(stack: Cli, verbs_instance: str) -> None:
    iid = verbs_instance
    on = stack.json("instance", "run-until-ended", iid)
    assert on["run_context_until_manually_ended"] is True
    off = stack.json("instance", "run-until-ended", iid, "--off")
    assert off.get("run_context_until_manually_ended", False) is False
    reset = stack.json("instance", "reset", iid, "--same-parameters")
    assert reset["context_name"].startswith("v-")
    new_id = reset["id"]
    ended = stack.json("instance", "end", new_id)
    assert ended["status"] == "ENDED"
    assert_one_line_error(stack.run("job", "hold", new_id, "local-b"), rc=1)
    assert new_id not in [i["id"] for i in stack.json("instance", "list")]
    assert new_id in [i["id"] for i in stack.json("instance", "list", "--all")]


def test_watch_everything_for_a_while(stack: Cli, verbs_instance: str) -> None:
    result = stack.ok("instance", "watch", "--for", "1")
    assert verbs_instance in result.out  # the initial snapshot of every live instance
    as_json = stack.ok("instance", "watch", verbs_instance, "--for", "1", "-o", "json")
    assert '"snapshot"' in as_json.out
    assert_one_line_error(
        stack.run("instance", "watch", "--until-ended"), rc=2, contains="needs an instance"
    )


def test_cron_job_next_fires(stack: Cli, verbs_instance: str) -> None:
    plan = stack.json("instance", "get", verbs_instance)["context_name"]
    fires = stack.json("plan", "next-fires", plan, "--job", "local-tick", "-n", "3")
    assert len(fires["fire_times"]) == 3
    assert_one_line_error(stack.run("plan", "next-fires", plan, "--job", "local-nope"))
