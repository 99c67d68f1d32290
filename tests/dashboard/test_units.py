"""Pieces of the dashboard core without a server: snapshot splicing, inbox envelopes, the
SQL outbox as the link's Outbox."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikasched_common.errors import InvalidArgument
from ikasched_common.journal import MemoryJournal
from ikasched_dashboard.engine.inputs import End, Hold, ProcessEvent
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.snapshot import from_snapshot, to_snapshot
from ikasched_dashboard.gateway import AgentInboxView, decode_inbox_entry, encode_inbox_entry
from ikasched_dashboard.orchestrator.snapshots import SnapshotWriter
from ikasched_dashboard.orchestrator.steps import Retry
from ikasched_dashboard.outbox import SqlOutbox
from ikasched_dashboard.plans.convert import plan_from_proto
from ikasched_dashboard.store import db
from ikasched_dashboard.store import messages as msg_store
from ikasched_dashboard.store.db import write_transaction
from ikasched_dashboard.store.instances import InstanceRow
from ikasched_dashboard.testing import chain_plan
from tests.engine.builder import AGENT, AND, build, cmd, ctx
from tests.engine.test_properties import Driver, item_stream, plans, step


def test_spliced_snapshot_equals_the_engines_own_and_reuses_unchanged_pieces() -> None:
    plan = plan_from_proto(chain_plan("p", ["a1", "a2"], 4), version="1")
    machine = ContextMachine(plan)
    state = machine.new_instance("i1", parameters=(("x", '"jobs":[]'),))
    writer = SnapshotWriter()
    events = [
        ProcessEvent("e1", "a1", "start", "a1-start", successful=True, time_ms=5),
        ProcessEvent("e2", "a1", "j1", "a1-j1", job_starting=True, initiation_id="i1:1"),
    ]
    for ev in events:
        state, _ = machine.apply(state, ev)
        data = json.loads(writer.text(state, {("a2-j2", "p"): Retry(2, 9)}))
        assert data["state"] == to_snapshot(state)
        assert data["retries"] == [["a2-j2", "p", 2, 9]]
        assert from_snapshot(plan, data["state"]) == state
    pieces = writer._pieces["i1"]
    cached = dict(pieces.jobs)
    state, _ = machine.apply(state, Hold("a2-j2", "p", actor="ops"))
    writer.text(state, {})
    assert pieces.jobs[("a1-j1", "p")] is cached[("a1-j1", "p")]  # unchanged job: same text
    assert pieces.jobs[("a2-j2", "p")] is not cached[("a2-j2", "p")]
    # a status change keeps the initiation object: its text is reused inside the new job text
    init_text = pieces.inits[("a1-j1", "p")]
    done = ProcessEvent("e3", "a1", "j1", "a1-j1", successful=True, initiation_id="i1:1")
    state, _ = machine.apply(state, done)
    text = writer.text(state, {})
    assert json.loads(text) == {"state": to_snapshot(state), "retries": []}
    assert pieces.inits[("a1-j1", "p")] is init_text
    assert pieces.jobs[("a1-j1", "p")][1] != cached[("a1-j1", "p")][1]
    assert from_snapshot(plan, json.loads(text)["state"]) == state
    # the settled part is reused while nothing in it changed, rebuilt when it did
    settled = pieces.settled
    assert writer.text(state, {}) == text and pieces.settled is settled
    retried = writer.text(state, {("a2-j2", "p"): Retry(3, 7)})
    assert json.loads(retried)["retries"] == [["a2-j2", "p", 3, 7]]
    ended, _ = machine.apply(state, End(9, "ops"))
    data = json.loads(writer.text(ended, {}))
    assert data["state"] == to_snapshot(ended) and data["state"]["ended"] is True
    assert from_snapshot(plan, data["state"]) == ended
    writer.forget("i1")
    assert writer.cached("i1") == 0


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_spliced_snapshot_matches_the_engine_after_every_step(data: st.DataObject) -> None:
    plan = data.draw(plans(with_locks=data.draw(st.booleans())))
    items = data.draw(item_stream(plan, verbs=True))
    machine = ContextMachine(plan)
    state = machine.new_instance("i", parameters=(("p", "v"),))
    writer, driver = SnapshotWriter(), Driver()
    for n, item in enumerate(items):
        state, effects = step(machine, state, driver.convert(item))
        driver.saw(effects)
        retries = {("J0", "R"): Retry(n, n * 10)} if n % 3 == 0 else {}
        loaded = json.loads(writer.text(state, retries))
        assert loaded["state"] == to_snapshot(state)
        assert loaded["retries"] == [[j, c, r.attempt, r.due_ms] for (j, c), r in retries.items()]
        assert from_snapshot(plan, loaded["state"]) == state


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


def test_spliced_snapshot_escapes_names_and_ids_like_json() -> None:
    odd = 'J"\\é\n'
    plan = build(ctx("R", [odd, "K"], deps={"K": AND(odd)}), [cmd(odd), cmd("K")])
    machine = ContextMachine(plan)
    state = machine.new_instance('i"d')
    started = ProcessEvent('i"d:x', AGENT, odd, odd, job_starting=True, initiation_id='i"d:1')
    for ev in (started, replace(started, id='ev"\\', job_starting=False, successful=True)):
        state, _ = machine.apply(state, ev)
        loaded = json.loads(SnapshotWriter().text(state, {}))
        assert loaded["state"] == to_snapshot(state)
        assert from_snapshot(plan, loaded["state"]) == state


def test_hot_path_writes_bind_by_position_on_sqlite_and_by_name_elsewhere() -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    from ikasched_dashboard.store import batches as writes
    from ikasched_dashboard.store.instances import JobInstanceRow

    class Recorder:
        def __init__(self, dialect: object) -> None:
            self.dialect = dialect
            self.calls: list[tuple[str, list[object]]] = []

        def exec_driver_sql(self, sql: str, params: list[object]) -> SimpleNamespace:
            self.calls.append((sql, params))
            return SimpleNamespace(rowcount=len(params))

    row = InstanceRow("i1", "p", 1, "RUNNING", updated_time=7, quartz_disabled=True)
    job = JobInstanceRow("i1", "p", "J1", "COMMAND_EXECUTION_JOB", "ERROR", pid=3,
                         error_ack_message="m")  # fmt: skip
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):  # type: ignore[no-untyped-call]
        conn = Recorder(dialect)
        writes.update_instances_and_snapshots(conn, [(row, b"{}")])  # type: ignore[arg-type]
        writes.update_job_states(conn, [job])  # type: ignore[arg-type]
        (inst_sql, [inst]), (job_sql, [jp]) = conn.calls
        assert job_sql.startswith("UPDATE job_instances SET")
        if dialect.name == "sqlite":
            assert isinstance(inst, tuple) and isinstance(jp, tuple)
            assert inst_sql.startswith("UPDATE instances SET status=?")
            assert inst == ("RUNNING", 7, 0, 0, 0, False, False, True, b"{}", "i1")
            assert jp[0] == "ERROR" and jp[-3:] == ("i1", "p", "J1")
            assert "m" in jp
        else:
            assert isinstance(inst, dict) and isinstance(jp, dict)
            assert inst["b_snapshot"] == b"{}" and inst["b_id"] == "i1"
            assert inst["b_quartz_disabled"] is True and inst["b_updated_time"] == 7
            assert jp["b_status"] == "ERROR" and jp["b_pid"] == 3
            assert jp["b_error_ack_message"] == "m" and jp["b_job_identifier"] == "J1"
