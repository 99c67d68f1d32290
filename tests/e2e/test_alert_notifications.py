"""Notifications from what used to be audit rows nobody saw, through the real stack and a real
HTTP server on 127.0.0.1: a file job's file not arrived by its SLA cron (OVERDUE), an agent
lost with a job on it (AGENT_LOST), and a window start missed while the dashboard was down
(MISSED_RUN). Each audit row is posted once per rule, and a dashboard restart re-reads the
rows without posting any of them again."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from .conftest import StackFactory, wait_until, write_plan
from .test_notifications import Hook, _server

PLAN = """
name: alerts
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: watch
    fileEventDrivenJob:
      cronExpression: "0/2 * * ? * * *"
      filePath: {inbox}
      filenames: ["*.csv"]
      slaCronExpression: "0/2 * * ? * * *"
  - agentName: remote
    jobName: stays
    internalEventDrivenJob:
      commandLine: "while [ ! -e {marks}/go ]; do sleep 0.2; done"
      timeoutSeconds: 300
jobDependencies:
  - jobIdentifier: local-watch
  - jobIdentifier: remote-stays
"""

# a window start every 2 s: a dashboard down for 5 s misses some (recorded as superseded)
WINDOWED = """
name: windowed
timeWindowStart: "0/2 * * ? * * *"
timezone: UTC
contextTtlMilliseconds: 1000
scheduledJobs:
  - agentName: local
    jobName: noop
    internalEventDrivenJob: {commandLine: "true", timeoutSeconds: 30}
jobDependencies:
  - jobIdentifier: local-noop
"""
FLAGS = ("--heartbeat-interval-ms", "500", "--liveness-timeout-ms", "2000")


@pytest.fixture
def hook() -> Iterator[tuple[Hook, int]]:
    h = Hook()
    server = _server(h)
    yield h, int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_overdue_file_lost_agent_and_missed_runs_notify_once(
    stack_factory: StackFactory, hook: tuple[Hook, int]
) -> None:
    h, port = hook
    stack = stack_factory("alerts", dashboard_flags=FLAGS)
    base = f"http://127.0.0.1:{port}"
    rules = stack.work / "rules"
    rules.mkdir()
    (rules / "late.yaml").write_text(
        f"name: late\nplan: alerts\njob: local-watch\non: [OVERDUE]\nwebhook: {base}/late\n"
    )
    (rules / "lost.yaml").write_text(f"name: lost\non: [AGENT_LOST]\nwebhook: {base}/lost\n")
    (rules / "missed.yaml").write_text(
        f"name: missed\nplan: windowed\njob: anything\non: [MISSED_RUN]\nwebhook: {base}/missed\n"
    )
    for name in ("late", "lost", "missed"):
        stack.ok("notify", "apply", "-f", str(rules / f"{name}.yaml"))
    inbox = stack.base / "inbox"
    inbox.mkdir()
    text = PLAN.format(inbox=inbox, marks=stack.marks)
    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "alerts", text)))
    iid = stack.ok("instance", "create", "alerts").out.strip()
    for job in ("local-watch", "remote-stays"):
        stack.run("job", "run", iid, job)  # may be running already
    stack.wait_job(iid, "remote-stays", "RUNNING")

    # OVERDUE: no file arrives, so each SLA fire's alert is posted, naming the job and why
    wait_until("an OVERDUE notification", lambda: len(h.delivered("/late")) >= 2, timeout=40)
    late = h.delivered("/late")[0]
    assert late["kind"] == "OVERDUE" and late["instance_id"] == iid, late
    assert late["job_identifier"] == "local-watch" and late["agent_name"] == "local"
    assert late["reason"].startswith("no file matching *.csv arrived in"), late

    # AGENT_LOST: the agent of a RUNNING job stops past the liveness timeout
    agent = stack.procs["agent-remote"]
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        wait_until("an AGENT_LOST notification", lambda: bool(h.delivered("/lost")), timeout=40)
    finally:
        os.kill(agent.pid, signal.SIGCONT)
    (lost,) = h.delivered("/lost")
    assert lost["kind"] == "AGENT_LOST" and lost["agent_name"] == "remote", lost
    assert lost["job_identifier"] == "remote-stays" and lost["instance_id"] == iid
    assert lost["reason"].startswith("agent remote unreachable since "), lost
    stack.wait_agents("remote")
    (stack.marks / "go").touch()
    stack.wait_job(iid, "remote-stays", "COMPLETE")

    # MISSED_RUN: window starts pass while the dashboard is down; the restart records them
    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "windowed", WINDOWED)))
    wait_until(
        "a windowed instance",
        lambda: any(i["context_name"] == "windowed" for i in stack.json("instance", "list")),
        timeout=30,
    )
    stack.signal("dashboard", signal.SIGTERM)
    time.sleep(5)  # at least two window starts pass with no dashboard
    stack.start_dashboard()
    stack.wait_agents("local", "remote")
    wait_until("a MISSED_RUN notification", lambda: bool(h.delivered("/missed")), timeout=40)
    missed = h.delivered("/missed")[0]
    assert missed["kind"] == "MISSED_RUN" and missed["plan_name"] == "windowed", missed
    assert missed["reason"].startswith("missed window start at "), missed

    # the restart re-read every audit row of the day: none was posted twice
    stack.ok("plan", "disable", "windowed")
    stack.signal("dashboard", signal.SIGKILL)
    stack.start_dashboard()
    stack.wait_agents("local", "remote")
    stack.ok("notify", "test", "lost")  # a post queued after the re-read: the round ran
    wait_until("the test post", lambda: len(h.delivered("/lost")) == 2, timeout=30)
    keys = h.keys_delivered()
    assert keys and max(keys.values()) == 1, Counter(keys).most_common(3)
    assert len(h.delivered("/lost")) == 2  # the loss and the test, nothing else
