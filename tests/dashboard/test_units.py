"""Pieces of the dashboard core without a server: snapshot splicing, inbox envelopes, the
SQL outbox as the link's Outbox."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from ikasched_common.errors import InvalidArgument
from ikasched_common.journal import MemoryJournal
from ikasched_dashboard.engine.inputs import End, Hold, ProcessEvent
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.snapshot import from_snapshot, to_snapshot
from ikasched_dashboard.gateway import AgentInboxView, decode_inbox_entry, encode_inbox_entry
from ikasched_dashboard.orchestrator.core import Orchestrator, _Live
from ikasched_dashboard.outbox import SqlOutbox
from ikasched_dashboard.plans.convert import plan_from_proto
from ikasched_dashboard.store import db
from ikasched_dashboard.store import messages as msg_store
from ikasched_dashboard.store.db import write_transaction
from ikasched_dashboard.store.instances import InstanceRow
from tests.dashboard.sim import chain_plan


def test_spliced_snapshot_equals_the_engines_own_and_reuses_unchanged_jobs() -> None:
    plan = plan_from_proto(chain_plan("p", ["a1", "a2"], 4), version="1")
    machine = ContextMachine(plan)
    state = machine.new_instance("i1", parameters=(("x", '"jobs":[]'),))
    owner = SimpleNamespace(_job_json={}, _tail_json={})
    row = InstanceRow("i1", "p", 1, "WAITING")
    events = [
        ProcessEvent("e1", "a1", "start", "a1-start", successful=True, time_ms=5),
        ProcessEvent("e2", "a1", "j1", "a1-j1", job_starting=True, initiation_id="i1:1"),
    ]
    for ev in events:
        state, _ = machine.apply(state, ev)
        text = Orchestrator._snapshot(owner, _Live(state, None, row, {("a2-j2", "p"): (2, 9)}))  # type: ignore[arg-type]
        data = json.loads(text)
        assert data["state"] == to_snapshot(state)
        assert data["retries"] == [["a2-j2", "p", 2, 9]]
        assert from_snapshot(plan, data["state"]) == state
    cached = dict(owner._job_json["i1"])
    state, _ = machine.apply(state, Hold("a2-j2", "p", actor="ops"))
    Orchestrator._snapshot(owner, _Live(state, None, row))  # type: ignore[arg-type]
    after = owner._job_json["i1"]
    assert after[("a1-j1", "p")] is cached[("a1-j1", "p")]  # unchanged job: same text
    assert after[("a2-j2", "p")] is not cached[("a2-j2", "p")]
    # a status change keeps the initiation object; the job's text is rebuilt and still equal
    done = ProcessEvent("e3", "a1", "j1", "a1-j1", successful=True, initiation_id="i1:1")
    state, _ = machine.apply(state, done)
    text = Orchestrator._snapshot(owner, _Live(state, None, row))  # type: ignore[arg-type]
    assert json.loads(text)["state"] == to_snapshot(state)
    running, finished = cached[("a1-j1", "p")], owner._job_json["i1"][("a1-j1", "p")]
    assert running[0].status != finished[0].status
    assert finished[0].initiation is running[0].initiation is not None
    assert finished[1] != running[1]
    assert from_snapshot(plan, json.loads(text)["state"]) == state
    # the part outside the jobs is reused while nothing in it changed, rebuilt when it did
    tail = owner._tail_json["i1"]
    assert Orchestrator._snapshot(owner, _Live(state, None, row)) == text  # type: ignore[arg-type]
    assert owner._tail_json["i1"] is tail
    retried = Orchestrator._snapshot(owner, _Live(state, None, row, {("a2-j2", "p"): (3, 7)}))  # type: ignore[arg-type]
    assert json.loads(retried)["retries"] == [["a2-j2", "p", 3, 7]]
    ended, _ = machine.apply(state, End(9, "ops"))
    data = json.loads(Orchestrator._snapshot(owner, _Live(ended, None, row)))  # type: ignore[arg-type]
    assert data["state"] == to_snapshot(ended) and data["state"]["ended"] is True
    assert from_snapshot(plan, data["state"]) == ended


def test_inbox_envelope_and_per_agent_meta() -> None:
    raw = encode_inbox_entry("agent-7", b"\x01\x02")
    assert decode_inbox_entry(raw) == ("agent-7", b"\x01\x02")
    with pytest.raises(InvalidArgument):
        decode_inbox_entry(b"nope")
    shared = MemoryJournal()
    a, b = AgentInboxView(shared, "a"), AgentInboxView(shared, "b")
    a.append([b"x"], {"link.in.last_journaled_seq": 3})
    b.append([b"y", b"z"], {"link.in.last_journaled_seq": 9})
    assert a.get_meta("link.in.last_journaled_seq") == 3
    assert b.get_meta("link.in.last_journaled_seq") == 9
    assert [decode_inbox_entry(i.value) for i in shared.peek(10)] == [
        ("a", b"x"),
        ("b", b"y"),
        ("b", b"z"),
    ]


def test_sql_outbox_follows_the_link_outbox_contract(tmp_path: Path) -> None:
    url = db.default_url(tmp_path)
    db.upgrade(url)
    engine = db.create_engine_for(url)
    pool = ThreadPoolExecutor(1)

    async def scenario() -> None:
        box = SqlOutbox(engine, "a1", pool)
        other = SqlOutbox(engine, "a2", pool)
        woken: list[int] = []
        box.listen(lambda: woken.append(1))
        await box.add([b"m1", b"m2", b"m3"])
        await other.add([b"x"])
        assert woken == [1]
        pending = await box.pending(2)
        assert [p.value for p in pending] == [b"m1", b"m2"]
        assert await box.assign([p.key for p in pending]) == [1, 2]
        assert (await box.position()).last_assigned_seq == 2
        assert [i.seq for i in await box.assigned_from(0, 10)] == [1, 2]
        assert await box.acknowledge(1) == 1
        pos = await box.position()
        assert (pos.last_acked_seq, pos.last_assigned_seq) == (1, 2)
        # state loss: unacked rows become pending again, numbering continues after 5
        assert await box.reset_sequence(5) == 1
        pending = await box.pending(10)
        assert [p.value for p in pending] == [b"m2", b"m3"]
        assert await box.assign([p.key for p in pending]) == [6, 7]
        assert await box.acknowledge(7) == 2
        assert await box.size() == 0 and await other.size() == 1
        # nothing announced: no database call, nothing pending
        assert await box.pending(5) == []
        with write_transaction(engine) as conn:
            msg_store.insert_outbox(conn, [msg_store.OutboxMessage("a1", b"late")])
        box.notify()  # committed rows are announced
        assert [p.value for p in await box.pending(5)] == [b"late"]
        # a resume (position) claims afresh even without an announcement
        with write_transaction(engine) as conn:
            msg_store.insert_outbox(conn, [msg_store.OutboxMessage("a1", b"later")])
        assert [p.value for p in await box.pending(5)] == [b"late"]  # still the claimed one
        await box.position()
        assert [p.value for p in await box.pending(5)] == [b"later"]

    try:
        asyncio.run(scenario())
    finally:
        pool.shutdown()
        engine.dispose()
