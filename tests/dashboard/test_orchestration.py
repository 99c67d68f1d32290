"""Holds and cancels, duplicate replays, poison events, stalled and replaced agents."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ikasched.v1 import agent_pb2, events_pb2
from ikasched_common.errors import FailedPrecondition
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.engine.inputs import Hold, Release
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.store import changes, instances
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.testing import (
    SimAgent,
    chain_plan,
    provision,
    running_dashboard,
    wait_until,
)
from tests.dashboard.support import dropped_events, refused_events


def _jobs(proc: Dashboard, iid: str) -> dict[str, str]:
    with read_transaction(proc.engine) as conn:
        return {j.job_identifier: j.status for j in instances.jobs_of_instance(conn, iid)}


def _audit_count(proc: Dashboard) -> int:
    with read_transaction(proc.engine) as conn:
        return changes.last_position(conn)


def _status(proc: Dashboard, iid: str) -> str:
    with read_transaction(proc.engine) as conn:
        row = instances.get_instance(conn, iid)
    return row.status if row is not None else ""


def test_hold_of_a_queued_job_cancels_it_and_running_job_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            a1 = SimAgent("a1", f"127.0.0.1:{proc.port}", auto=False, triggers=["a1-start"])
            await a1.start()
            try:
                await provision(proc, chain_plan("p", ["a1"], 3))
                iid = await proc.orchestrator.create_instance(NewInstance("p", 1))
                await wait_until(lambda: len(a1.queued) == 1)
                (init_id,) = a1.queued
                result = await proc.orchestrator.apply(iid, Hold("a1-j1", "p", actor="ops"))
                assert ("a1-j1", "p") in result.changed_jobs
                await wait_until(lambda: a1.cancelled == [init_id])
                # the agent's "cancelled" answer is dropped: the hold stands
                await wait_until(
                    lambda: any(
                        why.startswith("cancel confirmed") for _, why in dropped_events(proc.engine)
                    )
                )
                assert _jobs(proc, iid)["a1-j1"] == "ON_HOLD"
                with read_transaction(proc.engine) as conn:
                    rows = [
                        c.entry
                        for c in changes.changes_after(conn, 0, instance_id=iid)
                        if c.entry.job_identifier == "a1-j1" and c.entry.to_status
                    ]
                assert [(r.from_status, r.to_status, r.cause, r.actor) for r in rows] == [
                    ("WAITING", "ON_HOLD", "hold", "ops")
                ]
                # release raises it again under a new id; once started, hold is refused
                await proc.orchestrator.apply(iid, Release("a1-j1", "p", actor="ops"))
                await wait_until(lambda: len(a1.queued) == 1)
                (again,) = a1.queued
                assert again != init_id
                queued = a1.queued[again]
                await a1.outbox.add([a1.answer(queued)[0]])  # starting only
                await wait_until(lambda: _jobs(proc, iid)["a1-j1"] == "RUNNING")
                with pytest.raises(FailedPrecondition):
                    await proc.orchestrator.apply(iid, Hold("a1-j1", "p", actor="ops"))
                a1.auto = True
                del a1.queued[again]
                await a1.outbox.add([a1.answer(queued)[1]])
                await wait_until(lambda: _status(proc, iid) == "COMPLETE")
                assert a1.initiations[(iid, "a1-j1")] == 2
                assert a1.initiations[(iid, "a1-j2")] == 1
            finally:
                await a1.stop()

    asyncio.run(scenario())


def test_duplicate_events_change_nothing_and_poison_goes_to_dead_letters(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            a1 = SimAgent("a1", f"127.0.0.1:{proc.port}", triggers=["a1-start"])
            sent: list[bytes] = []
            a1.on_initiation = lambda init: sent.extend(a1.answer(init))
            await a1.start()
            try:
                await provision(proc, chain_plan("p", ["a1"], 2))
                iid = await proc.orchestrator.create_instance(NewInstance("p", 1))
                await wait_until(lambda: _status(proc, iid) == "COMPLETE")
                before = _audit_count(proc)
                batches = proc.orchestrator.batches
                # the agent resends every event it ever sent (new link seqs, same ids)
                await a1.outbox.add(list(sent))
                await wait_until(
                    lambda: proc.orchestrator.batches > batches and len(proc.inbox) == 0
                )
                assert _audit_count(proc) == before
                # found at commit (optimistic dedupe), rolled back, redone with the check
                assert proc.orchestrator.duplicate_redos >= 1
                assert set(_jobs(proc, iid).values()) == {"COMPLETE"}
                # a failure resubmission of a job that is not in ERROR is refused every time
                bad = events_pb2.ContextualisedScheduledProcessEvent(
                    id="bad-1",
                    agent_name="a1",
                    job_name="j1",
                    job_identifier="a1-j1",
                    context_name="p",
                    context_instance_id=iid,
                    successful=True,
                    raised_due_to_failure_resubmission=True,
                )
                await a1.outbox.add(
                    [agent_pb2.AgentMessage(id="bad-1", process_event=bad).SerializeToString()]
                )
                await wait_until(lambda: len(proc.orchestrator.dead_letters) == 1)
                (letter,) = proc.orchestrator.dead_letters.peek()
                assert "FailedPrecondition" in letter.reason and letter.attempts == 3
                assert (
                    agent_pb2.AgentMessage.FromString(letter.value.split(b"a1", 1)[1]).id == "bad-1"
                )
                # processing goes on
                iid2 = await proc.orchestrator.create_instance(NewInstance("p", 2))
                await wait_until(lambda: _status(proc, iid2) == "COMPLETE")
                # events for unknown instances are dropped; over another agent's link, refused
                stray = events_pb2.ContextualisedScheduledProcessEvent(
                    id="stray",
                    agent_name="a1",
                    job_name="j1",
                    context_name="p",
                    context_instance_id="nope",
                    successful=True,
                )
                spoof = events_pb2.ContextualisedScheduledProcessEvent(
                    id="spoof",
                    agent_name="a9",
                    job_name="j1",
                    context_name="p",
                    context_instance_id=iid2,
                    successful=True,
                )
                await a1.outbox.add(
                    [
                        agent_pb2.AgentMessage(id=e.id, process_event=e).SerializeToString()
                        for e in (stray, spoof)
                    ]
                )
                await wait_until(lambda: "stray" in {m for m, _ in dropped_events(proc.engine)})
                await wait_until(lambda: "spoof" in {m for m, _ in refused_events(proc.engine)})
            finally:
                await a1.stop()

    asyncio.run(scenario())


def test_stalled_agent_does_not_delay_another(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            target = f"127.0.0.1:{proc.port}"
            slow = SimAgent("slow", target, triggers=["slow-start"])
            fast = SimAgent("fast", target, triggers=["fast-start"])
            await slow.start()
            await fast.start()
            try:
                await provision(proc, chain_plan("ps", ["slow"], 3))
                await provision(proc, chain_plan("pf", ["fast"], 8))
                await wait_until(
                    lambda: any(m.WhichOneof("body") == "provision_jobs" for m in slow.received)
                )
                slow.journal.gate.clear()  # journals nothing, acks nothing from now on
                stuck = await proc.orchestrator.create_instance(NewInstance("ps", 1))
                moving = await proc.orchestrator.create_instance(NewInstance("pf", 1))
                await wait_until(lambda: _status(proc, moving) == "COMPLETE")
                assert _status(proc, stuck) == "WAITING"
                assert not slow.initiations
                slow.journal.gate.set()
                await wait_until(lambda: _status(proc, stuck) == "COMPLETE")
                assert set(slow.initiations.values()) == {1}
            finally:
                await slow.stop()
                await fast.stop()

    asyncio.run(scenario())


def test_second_connection_replaces_the_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            target = f"127.0.0.1:{proc.port}"
            first = SimAgent("a1", target, triggers=["a1-start"])
            await first.start()
            await wait_until(lambda: proc.gateway.link.session("a1") is not None)
            old = proc.gateway.link.session("a1")
            second = SimAgent("a1", target, triggers=["a1-start"])
            first.client.stop()  # only the newcomer dials again
            await second.start()
            try:
                await wait_until(lambda: old is not None and old.closed)
                await wait_until(lambda: proc.gateway.link.session("a1") not in (None, old))
                agents = await proc.gateway.list_agents()
                assert [a.name for a in agents] == ["a1"] and agents[0].connected
                assert agents[0].instance_id == second.client._identity.agent_instance_id
                await provision(proc, chain_plan("p", ["a1"], 3))
                iid = await proc.orchestrator.create_instance(NewInstance("p", 1))
                await wait_until(lambda: _status(proc, iid) == "COMPLETE")
                assert not first.initiations
                assert set(second.initiations.values()) == {1}
            finally:
                await first.stop()
                await second.stop()

    asyncio.run(scenario())
