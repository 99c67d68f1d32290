"""RUNNING_TIME beyond maxExecutionTime through the real stack, with real webhooks to a real
HTTP server on 127.0.0.1: a run that ends sooner than its job's minExecutionTime
is posted once, when it ends; a run longer than the rule's factor x the p95 duration of its
job's last runs is posted once while it runs (a SIGKILL and restart posts it not again), and
not for the runs that made the p95. A bad
`p95` is refused naming its field."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from .conftest import StackFactory, assert_one_line_error, wait_until, write_plan
from .test_notifications import Hook, _server

PLAN = """
name: lengths
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: quick
    internalEventDrivenJob: {{commandLine: "true", timeoutSeconds: 30, minExecutionTime: 60000}}
  - agentName: local
    jobName: usual
    internalEventDrivenJob:
      commandLine: "sleep 0.3; while [ -e {marks}/hold ]; do sleep 0.2; done"
      timeoutSeconds: 300
      jobRepeatable: true
jobDependencies:
  - jobIdentifier: local-quick
  - jobIdentifier: local-usual
"""


@pytest.fixture
def hook() -> Iterator[tuple[Hook, int]]:
    h = Hook()
    server = _server(h)
    yield h, int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_shorter_than_minimum_and_longer_than_usual(
    stack_factory: StackFactory, hook: tuple[Hook, int]
) -> None:
    h, port = hook
    stack = stack_factory("lengths")
    rules = stack.work / "rules"
    rules.mkdir()
    base = f"http://127.0.0.1:{port}"
    (rules / "short.yaml").write_text(
        f"name: short\nplan: lengths\njob: local-quick\non: [RUNNING_TIME]\nwebhook: {base}/s\n"
    )
    (rules / "slow.yaml").write_text(
        "name: slow\nplan: lengths\njob: local-usual\non: [RUNNING_TIME]\n"
        f"p95: {{factor: 3, runs: 5}}\nwebhook: {base}/p\n"
    )
    (rules / "bad.yaml").write_text(
        f"name: bad\non: [RUNNING_TIME]\np95: {{factor: 0.5}}\nwebhook: {base}/p\n"
    )
    (rules / "wrong-kind.yaml").write_text(
        f"name: wk\non: [ERROR]\np95: {{factor: 2}}\nwebhook: {base}/p\n"
    )
    for name in ("short", "slow"):
        stack.ok("notify", "apply", "-f", str(rules / f"{name}.yaml"))
    listed = {r["name"]: r for r in stack.json("notify", "list")["rules"]}
    assert listed["slow"]["p95_factor"] == 3 and listed["slow"]["p95_runs"] == 5
    assert_one_line_error(
        stack.run("notify", "apply", "-f", str(rules / "bad.yaml")), contains="p95.factor"
    )
    assert_one_line_error(
        stack.run("notify", "apply", "-f", str(rules / "wrong-kind.yaml")), contains="p95"
    )

    stack.ok(
        "plan",
        "apply",
        "-f",
        str(write_plan(stack.work, "lengths", PLAN.format(marks=stack.marks))),
    )
    iid = stack.ok("instance", "create", "lengths").out.strip()

    # shorter than minExecutionTime: posted once, when the run ends
    stack.run("job", "run", iid, "local-quick")
    stack.wait_job(iid, "local-quick", "COMPLETE")
    wait_until("the shorter-run notification", lambda: bool(h.delivered("/s")), timeout=30)
    (short,) = h.delivered("/s")
    assert short["kind"] == "RUNNING_TIME" and short["status"] == "COMPLETE", short
    assert short["occurrence"] == "shorter" and short["job_identifier"] == "local-quick"
    assert "shorter than minExecutionTime 60000 ms" in short["reason"], short

    # three usual runs of about 0.3 s make the p95; none of them is posted
    def usual_runs() -> int:
        return len(stack.json("history", "--job", "local-usual")["runs"])

    made: list[int] = []
    for n in range(1, 4):
        made.append(n)
        stack.run("job", "run", iid, "local-usual")
        wait_until(f"usual run {n}", lambda: usual_runs() >= len(made), timeout=30)
    stats = stack.json("history-stats", "--job", "local-usual")["stats"][0]
    p95 = int(stats["p95_ms"])
    assert stats["runs"] == 3 and p95 > 0, stats
    assert h.delivered("/p") == []

    # a fourth run held past 3 x p95 is posted once while it runs
    (stack.marks / "hold").touch()
    stack.run("job", "run", iid, "local-usual")
    wait_until("the longer-than-usual notification", lambda: bool(h.delivered("/p")), timeout=60)
    stack.signal("dashboard", signal.SIGKILL)  # a restart checks again and queues nothing
    stack.start_dashboard()
    stack.wait_agents("local", "remote")
    stack.ok("notify", "test", "slow")
    wait_until("the test post", lambda: len(h.delivered("/p")) == 2, timeout=30)
    (slow,) = [b for b in h.delivered("/p") if b["kind"] == "RUNNING_TIME"]
    assert slow["status"] == "RUNNING" and slow["occurrence"] == "p95", slow
    assert (
        slow["attempt"] == 4
        and f"longer than 3 x p95 {p95} ms of its last 3 runs" in slow["reason"]
    ), slow
    (stack.marks / "hold").unlink()
    assert max(h.keys_delivered().values()) == 1
