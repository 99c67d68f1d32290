"""Webhook notifications through the real stack and a real HTTP server on 127.0.0.1: rules on
START, COMPLETE, ERROR and INSTANCE_ENDED post once per event with an Idempotency-Key; an
endpoint that fails and recovers gets each notification delivered once after retries; one
that never answers 2xx leaves the notification DEAD, visible in the CLI; a notification queued
while the endpoint is down survives a SIGKILL of the dashboard and is delivered after restart,
once."""

from __future__ import annotations

import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import StackFactory, assert_one_line_error, wait_until, write_plan

PLAN = """
name: notes
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
scheduledJobs:
  - agentName: local
    jobName: ok
    internalEventDrivenJob: {commandLine: "true", timeoutSeconds: 30}
  - agentName: local
    jobName: fails
    internalEventDrivenJob: {commandLine: "exit 4", timeoutSeconds: 30}
jobDependencies:
  - jobIdentifier: local-ok
  - jobIdentifier: local-fails
"""


@dataclass
class Hook:
    """What the endpoint received: (path, key, body, answered code)."""

    posts: list[tuple[str, str, dict[str, Any], int]] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)  # path -> 500s still to answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for p, _k, b, code in self.posts if p == path and code == 200]

    def keys_delivered(self) -> Counter[str]:
        with self.lock:
            return Counter(k for _p, k, _b, code in self.posts if code == 200)


def _server(hook: Hook, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with hook.lock:
                left = hook.fail_next.get(self.path, 0)
                code = 500 if self.path == "/dead" or left > 0 else 200
                if left > 0:
                    hook.fail_next[self.path] = left - 1
                hook.posts.append((self.path, self.headers["Idempotency-Key"], body, code))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def hook() -> Iterator[tuple[Hook, list[ThreadingHTTPServer]]]:
    h = Hook()
    servers = [_server(h)]
    yield h, servers
    for s in servers:
        s.shutdown()
        s.server_close()


def test_webhooks_once_per_event_with_retries_dead_letters_and_a_kill(
    stack_factory: StackFactory, hook: tuple[Hook, list[ThreadingHTTPServer]]
) -> None:
    h, servers = hook
    port = servers[0].server_address[1]
    stack = stack_factory(
        "notify",
        dashboard_flags=("--notification-retry-ms", "200", "--notification-max-attempts", "4"),
    )
    base = f"http://127.0.0.1:{port}"
    rules = stack.work / "rules"
    rules.mkdir()
    (rules / "all.yaml").write_text(
        f"name: all\nplan: notes\non: [START, COMPLETE, ERROR, INSTANCE_ENDED]\nwebhook: {base}/a\n"
    )
    (rules / "dead.yaml").write_text(f"name: dead\non: [ERROR]\nwebhook: {base}/dead\n")
    (rules / "bad.yaml").write_text(f"name: bad\non: [EXPLODED]\nwebhook: {base}/a\n")
    stack.ok("notify", "apply", "-f", str(rules / "all.yaml"), "-f", str(rules / "dead.yaml"))
    assert_one_line_error(
        stack.run("notify", "apply", "-f", str(rules / "bad.yaml")), contains="on[0]"
    )
    listed = stack.json("notify", "list")["rules"]
    assert [r["name"] for r in listed if not r.get("source_plan")] == ["all", "dead"]

    h.fail_next["/a"] = 2  # the endpoint fails twice, then recovers
    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "notes", PLAN)))
    iid = stack.ok("instance", "create", "notes").out.strip()
    stack.ok("job", "run", iid, "local-ok")
    stack.ok("job", "run", iid, "local-fails")
    stack.wait_job(iid, "local-fails", "ERROR")

    def kinds() -> Counter[tuple[str, str]]:
        return Counter((b["kind"], b["job_identifier"]) for b in h.delivered("/a"))

    want = {
        ("START", "local-ok"),
        ("COMPLETE", "local-ok"),
        ("START", "local-fails"),
        ("ERROR", "local-fails"),
    }
    try:
        wait_until("the four job notifications", lambda: set(kinds()) >= want, timeout=30)
    except AssertionError:
        raise AssertionError(
            f"{kinds()}; {h.posts}; {stack.json('notify', 'deliveries')}"
        ) from None
    error = next(b for b in h.delivered("/a") if b["kind"] == "ERROR")
    assert error["reason"] == "failed with return code 4" and error["return_code"] == 4
    assert error["plan_name"] == "notes" and error["instance_id"] == iid

    wait_until(
        "the dead rule gives up",
        lambda: bool(stack.json("notify", "deliveries", "--status", "DEAD")["notifications"]),
        timeout=30,
    )
    dead = stack.json("notify", "deliveries", "--status", "DEAD")["notifications"]
    assert len(dead) == 1 and dead[0]["rule_name"] == "dead"
    assert dead[0]["attempts"] == 4 and dead[0]["last_error"] == "HTTP 500"
    assert "DEAD" in stack.ok("notify", "deliveries").out

    # the endpoint goes away; a failure is queued; the dashboard is SIGKILLed; both come back
    servers[0].shutdown()
    servers[0].server_close()
    stack.ok("job", "reset", iid, "local-fails")
    stack.ok("job", "run", iid, "local-fails")
    stack.wait_job(iid, "local-fails", "ERROR")
    wait_until(
        "the second failure is queued and failing",
        lambda: any(
            n["rule_name"] == "all" and n.get("last_error")
            for n in stack.json("notify", "deliveries", "--status", "PENDING")["notifications"]
        ),
        timeout=30,
    )
    stack.signal("dashboard", signal.SIGKILL)
    servers.append(_server(h, port))
    stack.start_dashboard()
    wait_until(
        "the second failure's notification after the restart",
        lambda: sum(1 for b in h.delivered("/a") if b["kind"] == "ERROR") == 2,
        timeout=60,
    )
    second = [b for b in h.delivered("/a") if b["kind"] == "ERROR"][-1]
    assert second["attempt"] == 2

    # instance end and a test notification; then no key was ever delivered twice
    stack.ok("instance", "end", iid)
    stack.ok("notify", "test", "all")
    wait_until(
        "instance end and test",
        lambda: {"INSTANCE_ENDED", "TEST"} <= {b["kind"] for b in h.delivered("/a")},
        timeout=30,
    )
    assert max(h.keys_delivered().values()) == 1, h.keys_delivered()
    stack.ok("notify", "delete", "all")
    assert_one_line_error(stack.run("notify", "delete", "all"), contains="not found")


SLOW = """
name: slowpoke
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
scheduledJobs:
  - agentName: local
    jobName: slow
    internalEventDrivenJob:
      commandLine: "while [ ! -e {marks}/go ]; do sleep 0.1; done"
      timeoutSeconds: 120
      maxExecutionTime: 1000
"""


def test_running_longer_than_max_execution_time_notifies_once(
    stack_factory: StackFactory, hook: tuple[Hook, list[ThreadingHTTPServer]]
) -> None:
    h, servers = hook
    port = servers[0].server_address[1]
    stack = stack_factory("running-time")
    rule = stack.work / "slow.yaml"
    rule.write_text(f"name: slow\non: [RUNNING_TIME]\nwebhook: http://127.0.0.1:{port}/slow\n")
    stack.ok("notify", "apply", "-f", str(rule))
    stack.ok(
        "plan",
        "apply",
        "-f",
        str(write_plan(stack.work, "slowpoke", SLOW.format(marks=stack.marks))),
    )
    iid = stack.ok("instance", "create", "slowpoke").out.strip()
    stack.ok("job", "run", iid, "local-slow")
    stack.wait_job(iid, "local-slow", "RUNNING")
    wait_until("a RUNNING_TIME post", lambda: bool(h.delivered("/slow")), timeout=30)
    body = h.delivered("/slow")[0]
    assert body["kind"] == "RUNNING_TIME" and body["job_identifier"] == "local-slow"
    assert "longer than maxExecutionTime 1 s" in body["reason"]
    assert body["time"] - body["start_time"] > 1000
    # repeated checks queue nothing more for the run: tests/services/test_notifications.py
    (stack.marks / "go").touch()
    stack.wait_job(iid, "local-slow", "COMPLETE")
    assert len(h.delivered("/slow")) == 1
