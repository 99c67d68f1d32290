"""Execution history through the real stack: each ended run is one record with the facts the
job showed (duration, return code, reason, agent, host, log paths), filters work, a
plan-limited viewer sees only its plans, the records outlive the instance's end, and dashboard
restarts (SIGTERM and SIGKILL, one while a job runs) neither lose nor duplicate a record."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
from typing import Any

from .conftest import E2EStack, assert_one_line_error, cli_command, wait_until, write_plan

PLAN = """
name: hist
owner: team-hist
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 0
scheduledJobs:
  - agentName: local
    jobName: ok
    internalEventDrivenJob: {{commandLine: "echo hello", timeoutSeconds: 30}}
  - agentName: local
    jobName: fails
    internalEventDrivenJob: {{commandLine: "exit 3", timeoutSeconds: 30}}
  - agentName: remote
    jobName: long
    internalEventDrivenJob:
      commandLine: "while [ ! -e {marks}/go ]; do sleep 0.2; done"
      timeoutSeconds: 300
jobDependencies:
  - jobIdentifier: local-ok
  - jobIdentifier: local-fails
  - jobIdentifier: remote-long
"""


def _runs(stack: E2EStack, *args: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = stack.json("history", *args)["runs"]
    return runs


def _restart(stack: E2EStack, sig: signal.Signals) -> None:
    stack.signal("dashboard", sig)
    stack.start_dashboard()
    stack.wait_agents("local", "remote")


def test_history_records_each_run_once_across_restarts(fresh_stack: E2EStack) -> None:
    stack = fresh_stack
    plan = write_plan(stack.work, "hist", PLAN.format(marks=stack.marks))
    stack.ok("plan", "apply", "-f", str(plan))
    iid = stack.ok("instance", "create", "hist").out.strip()
    for job in ("local-ok", "local-fails", "remote-long"):
        stack.ok("job", "run", iid, job)
    stack.wait_job(iid, "local-ok", "COMPLETE")
    stack.wait_job(iid, "local-fails", "ERROR")
    stack.wait_job(iid, "remote-long", "RUNNING")

    # a record per ended run, with exactly the facts the job shows
    runs = {r["job_identifier"]: r for r in _runs(stack, "--plan", "hist")}
    assert set(runs) == {"local-ok", "local-fails"}
    for ident, run in runs.items():
        shown = stack.job(iid, ident)
        assert run["context_instance_id"] == iid and run["context_name"] == "hist"
        assert run["owner"] == "team-hist" and run["agent_name"] == "local"
        assert run["agent_hostname"] == shown["agent_hostname"]
        assert int(run["start_time"]) == int(shown["start_time"]) > 0
        assert int(run["end_time"]) == int(shown["end_time"])
        assert int(run["duration_ms"]) == int(shown["duration_millis"])
        assert run["attempt"] == 1 and run["status"] == shown["status"]
        assert run.get("output_path") and run.get("pid"), run
    assert runs["local-fails"]["return_code"] == 3
    assert runs["local-fails"]["outcome_reason"] == "failed with return code 3"
    assert "return_code" not in runs["local-ok"]  # 0: proto JSON leaves it out

    # SIGTERM while a job runs, then SIGKILL: the running job's record comes once, when it ends
    _restart(stack, signal.SIGTERM)
    _restart(stack, signal.SIGKILL)
    assert len(_runs(stack, "--plan", "hist")) == 2
    (stack.marks / "go").touch()
    stack.wait_job(iid, "remote-long", "COMPLETE", timeout=60)
    _restart(stack, signal.SIGKILL)
    every = _runs(stack, "--plan", "hist")
    assert sorted(r["job_identifier"] for r in every) == ["local-fails", "local-ok", "remote-long"]
    long = next(r for r in every if r["job_identifier"] == "remote-long")
    assert long["agent_name"] == "remote"
    assert int(long["duration_ms"]) == int(stack.job(iid, "remote-long")["duration_millis"])

    # a second run of a job is a second record, attempt 2
    stack.ok("job", "reset", iid, "local-fails")
    stack.ok("job", "run", iid, "local-fails")
    wait_until(
        "a second record of local-fails",
        lambda: len(_runs(stack, "--job", "local-fails")) == 2,
    )
    fails = _runs(stack, "--job", "local-fails")
    assert [r["attempt"] for r in fails] == [2, 1]  # newest first

    # filters, limit and the human table
    assert {r["job_identifier"] for r in _runs(stack, "--status", "ERROR")} == {"local-fails"}
    assert len(_runs(stack, "--limit", "1")) == 1
    assert _runs(stack, "--agent", "nobody") == []
    table = stack.ok("history", "--plan", "hist").out
    assert "failed with return code 3" in table and "ENDED" in table.splitlines()[0]

    # the records outlive the instance's end
    stack.ok("instance", "end", iid)
    stack.wait_instance(iid, "ENDED")
    assert len(_runs(stack, "--instance", iid)) == 4

    # a viewer limited to another plan sees none; bad input is one line naming the flag
    made = stack.json(
        "token", "create", "--subject", "viewer-x", "--role", "viewer", "--plan", "other-plan"
    )
    done = subprocess.run(
        cli_command("history", "-o", "json"),
        env={**stack.env(), "IKASCHED_TOKEN": str(made["secret"])},
        cwd=stack.work,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and json.loads(done.stdout)["runs"] == [], done
    assert_one_line_error(stack.run("history", "--status", "RUNNING"), rc=2, contains="--status")
    assert_one_line_error(stack.run("history", "--since", "yesterday"), rc=2, contains="--since")

    # the report over the same history
    report = stack.json("report", "--since", "1h")["plans"]
    assert [(p["plan"], p["runs"], p["failures"]) for p in report] == [("hist", 4, 2)]
    assert "hist: 4 run(s), 2 failed" in stack.ok("report", "--since", "1h").out

    # per-job statistics over the same records, as JSON, YAML and a table
    stats = {s["job_identifier"]: s for s in stack.json("history-stats", "--plan", "hist")["stats"]}
    assert stats["local-fails"]["runs"] == 2 and stats["local-fails"]["failures"] == 2
    durations = sorted(int(r["duration_ms"]) for r in _runs(stack, "--job", "local-fails"))
    assert int(stats["local-fails"]["p95_ms"]) == durations[-1]
    assert int(stats["remote-long"]["p50_ms"]) == int(long["duration_ms"])
    only_last = stack.json("history-stats", "--job", "local-fails", "--last", "1")["stats"]
    assert only_last[0]["runs"] == 1
    assert "job_identifier: local-ok" in stack.ok("history-stats", "-o", "yaml").out
    assert "P95" in stack.ok("history-stats").out.splitlines()[0]
    assert_one_line_error(stack.run("history-stats", "--last", "-1"), rc=2, contains="--last")

    # purge removes what ended before the time, nothing else
    assert stack.json("history-purge", "--before", "2000-01-01T00:00Z")["deleted"] == 0
    oldest = min(_runs(stack), key=lambda r: int(r["end_time"]))
    cutoff = dt.datetime.fromtimestamp((int(oldest["end_time"]) + 1) / 1000, dt.UTC)
    assert stack.json("history-purge", "--before", cutoff.isoformat())["deleted"] == 1
    left = _runs(stack)
    assert len(left) == 3 and oldest["id"] not in {r["id"] for r in left}
