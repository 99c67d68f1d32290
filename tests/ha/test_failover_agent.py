"""Failover with work in flight: two real dashboards on PostgreSQL and one real agent that lists
both; the active dashboard is SIGKILLed while jobs run; the standby takes over, the agent finds
it, and every job runs exactly once and every instance completes (docs/architecture.md §12)."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from tests.e2e.conftest import assert_transitions_once, clean_env, cli_command, wait_until

from .test_failover_process import LEASE_MS, Pair

PLAN = """
name: ha
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 3600000
ableToRunConcurrently: true
scheduledJobs:
  - agentName: local
    jobName: one
    internalEventDrivenJob:
      commandLine: "echo $IKASCHED_CONTEXT_INSTANCE_ID one >> {ledger}"
      timeoutSeconds: 60
  - agentName: local
    jobName: two
    internalEventDrivenJob:
      commandLine: "echo $IKASCHED_CONTEXT_INSTANCE_ID two >> {ledger}; sleep 4"
      timeoutSeconds: 60
  - agentName: local
    jobName: three
    internalEventDrivenJob:
      commandLine: "echo $IKASCHED_CONTEXT_INSTANCE_ID three >> {ledger}"
      timeoutSeconds: 60
jobDependencies:
  - jobIdentifier: local-one
  - {{jobIdentifier: local-two, logicalGrouping: {{and: [local-one]}}}}
  - {{jobIdentifier: local-three, logicalGrouping: {{and: [local-two]}}}}
"""
INSTANCES = 3
RESUME = 90.0


class Operator:
    """The `ikasched` command against one dashboard address."""

    def __init__(self, pair: Pair, token: str) -> None:
        self.pair, self.token, self.address = pair, token, ""

    def ok(self, *args: str) -> str:
        done = self.pair.cli(*args, "--dashboard", self.address, token=self.token)
        assert done.returncode == 0, done
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json"))

    def instance(self, iid: str) -> dict[str, Any]:
        found: dict[str, Any] = self.json("instance", "get", iid)
        return found

    def connected(self) -> bool:
        done = self.pair.cli(
            "agent", "list", "-o", "json", "--dashboard", self.address, token=self.token
        )
        return done.returncode == 0 and any(
            a["agent_name"] == "local" and a.get("connected") for a in json.loads(done.stdout)
        )


def _is_job(op: Operator, iid: str, ident: str, status: str) -> bool:
    return any(
        job["identifier"] == ident and job.get("status") == status
        for job in op.instance(iid).get("jobs", [])
    )


def _is_instance(op: Operator, iid: str, status: str) -> bool:
    return op.instance(iid).get("status") == status


def test_sigkill_of_the_active_dashboard_loses_and_doubles_no_job(
    pair: Pair, tmp_path: Path
) -> None:
    pair.start("a")
    pair.wait_health("a", "SERVING")
    pair.start("b")
    pair.wait_health("b", "NOT_SERVING")
    a_addr, b_addr = (f"127.0.0.1:{pair.ports[n]}" for n in ("a", "b"))
    token = (pair.base / "a" / "admin.token").read_text().split()[0]
    op = Operator(pair, token)
    op.address = a_addr
    made = op.json(
        "token", "create", "--subject", "agent local", "--role", "agent", "--agent", "local"
    )
    agent_log = open(tmp_path / "agent.log", "ab")  # noqa: SIM115 - the child keeps it
    agent = subprocess.Popen(
        cli_command(
            "agent",
            "--name",
            "local",
            "--dashboard",
            f"{a_addr},{b_addr}",
            "--data-dir",
            str(tmp_path / "agent"),
        ),
        stdout=agent_log,
        stderr=subprocess.STDOUT,
        env=clean_env(IKASCHED_TOKEN=str(made["secret"])),
        cwd=tmp_path,
        start_new_session=True,
    )
    agent_log.close()
    pair.procs["agent"] = agent
    wait_until("the agent to connect", op.connected, 60)

    ledger = tmp_path / "ledger"
    plan = tmp_path / "ha.yaml"
    plan.write_text(PLAN.format(ledger=ledger))
    op.ok("plan", "apply", "-f", str(plan))
    iids = [op.ok("instance", "create", "ha").strip() for _ in range(INSTANCES)]
    for iid in iids:
        op.ok("job", "run", iid, "local-one")
    for iid in iids:
        wait_until(f"{iid} two running", partial(_is_job, op, iid, "local-two", "RUNNING"), 60)

    pair.procs["a"].send_signal(signal.SIGKILL)  # jobs are running: their ends come later
    pair.procs["a"].wait(30)
    pair.wait_health("b", "SERVING", timeout=LEASE_MS / 1000 * 10)
    op.address = b_addr
    wait_until("the agent on the new active dashboard", op.connected, RESUME)
    for iid in iids:
        wait_until(f"{iid} COMPLETE", partial(_is_instance, op, iid, "COMPLETE"), RESUME)

    lines = Counter(tuple(line.split()) for line in ledger.read_text().splitlines())
    expected = {(iid, job): 1 for iid in iids for job in ("one", "two", "three")}
    assert dict(lines) == expected
    for iid in iids:
        for job in op.instance(iid).get("jobs", []):
            assert job["status"] == "COMPLETE" and job["attempts"] == 1, job
    status = pair.status()
    assert f"at {b_addr} epoch 2 lease held" in status, status
    for iid in iids:
        done = pair.cli(
            "instance",
            "watch",
            iid,
            "--after",
            "1",
            "--for",
            "2",
            "-o",
            "json",
            "--dashboard",
            b_addr,
            token=token,
        )
        assert done.returncode == 0, done
        decoder, text, at, changes = json.JSONDecoder(), done.stdout, 0, []
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            item, at = decoder.raw_decode(text, at)
            if "change" in item:
                changes.append(item["change"])
        assert changes
        assert_transitions_once(changes)
