"""Instances created back to back while a fault-injecting proxy between the "remote" agent and
the dashboard cuts (TCP reset, anywhere inside a frame) and stalls its link at seeded random
moments. Every instance must complete with each job run exactly once.

This is the workload that lost about one instance in 400: a reconnect's SyncInstances, built
from a snapshot taken before an activation committed and queued after it, made the agent drop
that instance, so its timer never fired and its jobs were refused. The remote agent owns the
plan's time trigger, so a dropped instance never completes here.

Real processes (`ikasched dashboard`, two `ikasched agent`s), real sockets on 127.0.0.1.
IKASCHED_LONG_TESTS=1 runs the long size.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest

from ikasched.v1 import common_pb2, instance_service_pb2, instance_service_pb2_grpc
from tests.e2e.conftest import E2EStack, wait_until, write_plan
from tests.support.proxy import FaultProxy

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
INSTANCES = 600 if LONG else 150
CREATE_SECONDS = 60.0 if LONG else 15.0  # the creations are spread over this many seconds
SEED = int(os.environ.get("IKASCHED_CHAOS_SEED", "1302"))

BURST = """
name: burst
ableToRunConcurrently: true
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 86400000
scheduledJobs:
  - agentName: remote
    jobName: tick
    quartzScheduleDrivenJob: {{cronExpression: "* * * * * ?"}}
  - agentName: remote
    jobName: work
    internalEventDrivenJob:
      commandLine: 'echo "$IKASCHED_CONTEXT_INSTANCE_ID work" >> {ledger}'
      timeoutSeconds: 120
  - agentName: local
    jobName: after
    internalEventDrivenJob:
      commandLine: 'echo "$IKASCHED_CONTEXT_INSTANCE_ID after" >> {ledger}'
      timeoutSeconds: 120
jobDependencies:
  - jobIdentifier: remote-tick
  - {{jobIdentifier: remote-work, logicalGrouping: {{and: [remote-tick]}}}}
  - {{jobIdentifier: local-after, logicalGrouping: {{and: [remote-work]}}}}
"""


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    made = E2EStack(tmp_path_factory.mktemp("chaos"))
    try:
        yield made
    finally:
        made.close()


def test_instances_created_under_link_cuts_all_complete_once(stack: E2EStack) -> None:
    stack.bootstrap()
    stack.start_dashboard()
    ledger = stack.marks / "ledger"
    with FaultProxy("127.0.0.1", stack.port) as proxy:
        stack.start_agent("local")
        stack.start_agent("remote", dashboard=proxy.address)
        stack.wait_agents("local", "remote")
        stack.ok(
            "plan", "apply", "-f", str(write_plan(stack.work, "burst", BURST.format(ledger=ledger)))
        )
        channel = grpc.insecure_channel(stack.dashboard)
        auth = (("authorization", f"Bearer {stack.admin_token}"),)
        instances = instance_service_pb2_grpc.InstanceServiceStub(channel)  # type: ignore[no-untyped-call]
        began = time.monotonic()
        proxy.start_chaos(SEED)
        made: list[str] = []
        try:
            for n in range(INSTANCES):
                reply = instances.CreateInstance(
                    instance_service_pb2.CreateInstanceRequest(context_name="burst"),
                    metadata=auth,
                    timeout=30,
                )
                made.append(reply.id)
                # paced, so creations land before, during and after many reconnects
                time.sleep(
                    max(0.0, began + (n + 1) * CREATE_SECONDS / INSTANCES - time.monotonic())
                )
        finally:
            proxy.stop_chaos()
        created_s = time.monotonic() - began

        def status(iid: str) -> int:
            got = instances.GetInstance(
                instance_service_pb2.GetInstanceRequest(context_instance_id=iid),
                metadata=auth,
                timeout=30,
            )
            return int(got.status)

        pending = set(made)

        def all_complete() -> bool:
            for iid in sorted(pending):
                if status(iid) == common_pb2.COMPLETE:
                    pending.discard(iid)
            return not pending

        try:
            wait_until("every instance to complete", all_complete, timeout=180)
        finally:
            lines = ledger.read_text().splitlines() if ledger.exists() else []
            runs = Counter(lines)
            lost = [(i, j) for i in made for j in ("work", "after") if runs[f"{i} {j}"] == 0]
            twice = {k: n for k, n in runs.items() if n > 1}
            print(
                f"\nlink faults: {INSTANCES} instances created in {created_s:.1f}s, "
                f"{proxy.counts.cuts} cuts, {proxy.counts.stalls} stalls, "
                f"{proxy.counts.connections} connections; jobs run {len(lines)}, "
                f"lost {len(lost)}, duplicated {len(twice)}; not complete {len(pending)}"
            )
            channel.close()
        assert proxy.counts.cuts >= 3, proxy.counts.log
        assert lost == [] and twice == {}
        assert len(lines) == 2 * INSTANCES
