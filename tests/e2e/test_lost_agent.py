"""A lost agent shows on its jobs (docs/semantics.md §10): an agent stopped (SIGSTOP) past
the dashboard's liveness timeout turns `agent list` to "away", and each of its RUNNING jobs
gets the status reason "agent NAME unreachable since HH:MM:SSZ" and an alert audit row. When
it comes back (SIGCONT) its word wins: a job still running loses the reason and completes
later; a job that ended meanwhile ends with its return code."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
from typing import Any

from .conftest import E2EStack, StackFactory, run_count, wait_until, write_plan

# "stays" runs until the file "go-stays" exists, "ends" until "go-ends" and then exits 3
PLAN = """
name: far
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: remote
    jobName: stays
    internalEventDrivenJob:
      commandLine: >-
        echo run >> {marks}/stays; while [ ! -e {marks}/go-stays ]; do sleep 0.2; done
      timeoutSeconds: 300
  - agentName: remote
    jobName: ends
    internalEventDrivenJob:
      commandLine: >-
        echo run >> {marks}/ends; while [ ! -e {marks}/go-ends ]; do sleep 0.2; done;
        echo end >> {marks}/ends-end; exit 3
      timeoutSeconds: 300
"""
# the dashboard declares the agent lost 2 s after it last heard from it
FLAGS = ("--heartbeat-interval-ms", "500", "--liveness-timeout-ms", "2000")
REASON = re.compile(r"^agent remote unreachable since \d\d:\d\d:\d\dZ$")


def _reason(stack: E2EStack, iid: str, ident: str) -> str:
    return str(stack.job(iid, ident).get("status_reason", ""))


def _alerts(stack: E2EStack, iid: str) -> list[tuple[str, str]]:
    """The instance's alert audit rows (job, detail), read from the dashboard's SQLite."""
    with sqlite3.connect(stack.data_dir / "dashboard.sqlite") as db:
        rows = db.execute(
            "SELECT job_identifier, detail FROM audit WHERE instance_id = ?"
            " AND detail LIKE 'alert: %' ORDER BY position",
            (iid,),
        ).fetchall()
    return [(str(job), str(detail)) for job, detail in rows]


def _remote(stack: E2EStack) -> dict[str, Any]:
    agents: list[dict[str, Any]] = stack.json("agent", "list")
    (found,) = [a for a in agents if a["agent_name"] == "remote"]
    return found


def test_a_stopped_agent_shows_on_its_jobs_until_it_returns(stack_factory: StackFactory) -> None:
    stack = stack_factory("e2e-lost", dashboard_flags=FLAGS)
    stack.ok(
        "plan", "apply", "-f", str(write_plan(stack.work, "far", PLAN.format(marks=stack.marks)))
    )
    iid = stack.ok("instance", "create", "far").out.strip()
    for job in ("stays", "ends"):
        stack.ok("job", "run", iid, f"remote-{job}")
    stack.wait_job(iid, "remote-stays", "RUNNING")
    stack.wait_job(iid, "remote-ends", "RUNNING")
    assert _reason(stack, iid, "remote-stays") == ""

    agent = stack.procs["agent-remote"]
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        wait_until("remote to be away", lambda: not _remote(stack).get("connected"))
        wait_until(
            "the unreachable reason on both jobs",
            lambda: all(
                REASON.match(_reason(stack, iid, f"remote-{j}")) for j in ("stays", "ends")
            ),
        )
        assert stack.job_status(iid, "remote-stays") == "RUNNING"
        shown = stack.ok("instance", "get", iid).out
        assert re.search(r"^remote-stays: agent remote unreachable since ", shown, re.M), shown
        alerts = _alerts(stack, iid)
        assert sorted(job for job, _ in alerts) == ["remote-ends", "remote-stays"], alerts
        assert all(REASON.match(detail.removeprefix("alert: ")) for _, detail in alerts), alerts
        # "ends" finishes while its agent is stopped: only the agent can tell
        (stack.marks / "go-ends").touch()
        wait_until("ends to finish", lambda: run_count(stack.marks, "ends-end") == 1)
        assert stack.job_status(iid, "remote-ends") == "RUNNING"
    finally:
        os.kill(agent.pid, signal.SIGCONT)

    stack.wait_agents("remote")
    stack.wait_job(iid, "remote-ends", "ERROR")
    ended = stack.job(iid, "remote-ends")
    assert ended["return_code"] == 3 and "unreachable" not in ended.get("status_reason", ""), ended
    wait_until("the reason of stays to clear", lambda: _reason(stack, iid, "remote-stays") == "")
    assert stack.job_status(iid, "remote-stays") == "RUNNING"
    # one alert per job and loss, none on the return
    assert len(_alerts(stack, iid)) == 2

    (stack.marks / "go-stays").touch()
    stack.wait_job(iid, "remote-stays", "COMPLETE")
    done = stack.job(iid, "remote-stays")
    assert done["attempts"] == 1 and done.get("status_reason", "") == "", done
    assert run_count(stack.marks, "stays") == 1 and run_count(stack.marks, "ends") == 1
