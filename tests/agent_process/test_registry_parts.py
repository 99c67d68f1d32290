"""A SyncInstances or ProvisionJobs in parts is applied as one set (docs/architecture.md §4.11)."""

from __future__ import annotations

from ikasched.v1 import agent_pb2, plan_pb2
from ikasched_agent.registry import Registry


def _sync(sync_id: str, part: int, parts: int, *ids: str) -> agent_pb2.DashboardMessage:
    msg = agent_pb2.DashboardMessage(id=f"{sync_id}:{part}")
    body = msg.sync_instances
    body.sync_id, body.part, body.parts = sync_id, part, parts
    body.instances.extend(agent_pb2.ActivateInstance(context_instance_id=i) for i in ids)
    return msg


def _whole(*ids: str) -> agent_pb2.DashboardMessage:
    msg = agent_pb2.DashboardMessage(id="whole")
    msg.sync_instances.instances.extend(
        agent_pb2.ActivateInstance(context_instance_id=i) for i in ids
    )
    return msg


def test_parts_replace_the_set_only_when_complete() -> None:
    reg = Registry("a1")
    reg.apply(_whole("old", "i1"))
    first = reg.apply(_sync("s1", 1, 2, "i1", "i2"))
    assert first.partial and set(reg.instances) == {"old", "i1"}  # nothing dropped yet
    last = reg.apply(_sync("s1", 2, 2, "i3"))
    assert not last.partial and set(reg.instances) == {"i1", "i2", "i3"}
    assert set(last.instances_removed) == {"old"}
    assert last.assembled is not None
    assert [a.context_instance_id for a in last.assembled.sync_instances.instances] == [
        "i1",
        "i2",
        "i3",
    ]


def test_a_newer_sync_discards_an_incomplete_older_one() -> None:
    reg = Registry("a1")
    reg.apply(_whole("keep"))
    reg.apply(_sync("s1", 1, 3, "stale"))
    reg.apply(_sync("s2", 1, 2, "n1"))
    reg.apply(_sync("s1", 3, 3, "stale2"))  # the rest of the superseded sync: never completes
    assert set(reg.instances) == {"keep"}
    reg.apply(_sync("s2", 2, 2, "n2"))
    assert set(reg.instances) == {"n1", "n2"}


def test_a_snapshot_taken_between_parts_replays_them() -> None:
    reg = Registry("a1")
    reg.apply(_sync("s1", 1, 2, "i1"))
    again = Registry("a1")
    for message in reg.snapshot():
        again.apply(message)
    again.apply(_sync("s1", 2, 2, "i2"))
    assert set(again.instances) == {"i1", "i2"}


def test_provisioning_in_parts_holds_every_job() -> None:
    reg = Registry("a1")

    def part(n: int, *names: str) -> agent_pb2.DashboardMessage:
        msg = agent_pb2.DashboardMessage(id=f"p:{n}")
        p = msg.provision_jobs
        p.context_name, p.plan_version, p.sync_id, p.part, p.parts = "plan", 2, "p", n, 2
        p.jobs.extend(plan_pb2.SchedulerJob(agent_name="a1", job_name=j) for j in names)
        return msg

    assert reg.apply(part(1, "j1", "j2")).partial and "plan" not in reg.plans
    reg.apply(part(2, "j3"))
    assert set(reg.plans["plan"].jobs) == {"a1-j1", "a1-j2", "a1-j3"}
