"""OVERDUE by a time of day through the real stack and a real HTTP server on 127.0.0.1: a job
not started by a rule's `by` time (in the instance's zone) is posted once, a job that did
start is not, an instance not complete by then is posted once, and a dashboard SIGKILLed
and restarted after the deadline posts none of them again. A bad `by` is refused naming it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import StackFactory, assert_one_line_error, wait_until, write_plan
from .test_notifications import Hook, _server

PLAN = """
name: deadline
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: early
    internalEventDrivenJob: {commandLine: "true", timeoutSeconds: 30}
  - agentName: local
    jobName: never
    internalEventDrivenJob: {commandLine: "true", timeoutSeconds: 30}
jobDependencies:
  - jobIdentifier: local-early
  - jobIdentifier: local-never
"""


@pytest.fixture
def hook() -> Iterator[tuple[Hook, int]]:
    h = Hook()
    server = _server(h)
    yield h, int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_not_started_and_not_complete_by_a_time_of_day(
    stack_factory: StackFactory, hook: tuple[Hook, int]
) -> None:
    h, port = hook
    stack = stack_factory("deadline")
    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "deadline", PLAN)))
    iid = stack.ok("instance", "create", "deadline").out.strip()
    stack.run("job", "run", iid, "local-early")
    stack.wait_job(iid, "local-early", "COMPLETE")

    by = (datetime.now(UTC) + timedelta(seconds=4)).strftime("%H:%M:%S")
    base = f"http://127.0.0.1:{port}"
    rules = stack.work / "rules"
    rules.mkdir()
    for name, job in (("never", "local-never"), ("early", "local-early"), ("whole", "")):
        line = f"job: {job}\n" if job else ""
        (rules / f"{name}.yaml").write_text(
            f'name: {name}\nplan: deadline\n{line}on: [OVERDUE]\nby: "{by}"\n'
            f"webhook: {base}/{name}\n"
        )
        stack.ok("notify", "apply", "-f", str(rules / f"{name}.yaml"))
    (rules / "bad.yaml").write_text(f'name: bad\non: [OVERDUE]\nby: "25:00"\nwebhook: {base}/x\n')
    assert_one_line_error(
        stack.run("notify", "apply", "-f", str(rules / "bad.yaml")), contains="by"
    )
    listed = {r["name"]: r for r in stack.json("notify", "list")["rules"]}
    assert listed["never"]["deadline"] == by

    wait_until(
        "the not-started and not-complete posts",
        lambda: bool(h.delivered("/never")) and bool(h.delivered("/whole")),
        timeout=40,
    )
    stack.signal("dashboard", signal.SIGKILL)  # after the deadline: checked again, queued once
    stack.start_dashboard()
    stack.wait_agents("local", "remote")
    stack.ok("notify", "test", "never")
    wait_until("the test post", lambda: len(h.delivered("/never")) == 2, timeout=30)
    (never,) = [b for b in h.delivered("/never") if b["kind"] == "OVERDUE"]
    day = datetime.now(UTC).date().isoformat()
    assert never["instance_id"] == iid and never["job_identifier"] == "local-never", never
    assert never["reason"] == f"not started by {by} (UTC) on {day}", never
    assert never["occurrence"] == f"by:{day}"
    (whole,) = h.delivered("/whole")
    assert whole["job_identifier"] == "" and whole["reason"].startswith("instance not complete")
    assert h.delivered("/early") == []  # it started before the deadline
    assert max(h.keys_delivered().values()) == 1
