"""Audit change log, processed ids, outbox and link state."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time

from sqlalchemy import Engine, func, select

from ikasched_dashboard.store import changes, messages
from ikasched_dashboard.store.db import read_transaction, write_transaction
from ikasched_dashboard.store.schema import outbox


def _entry(i: int, instance: str = "i1", plan: str = "p1") -> changes.AuditEntry:
    return changes.AuditEntry(
        time=1000 + i,
        instance_id=instance,
        plan_name=plan,
        job_identifier=f"agent-a-job{i}",
        child_context="root",
        from_status="WAITING",
        to_status="RUNNING",
        cause=f"event-{i}",
        actor="agent:agent-a",
        detail=f"d{i}",
    )


def test_audit_positions_strictly_increase_and_read_back(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        assert changes.last_position(conn) == 0
        first = changes.append_audit(conn, [_entry(i) for i in range(5)])
        assert changes.append_audit(conn, []) == []
    with write_transaction(engine) as conn:
        second = changes.append_audit(
            conn, [_entry(5, instance="i2", plan="p2"), _entry(6, instance="i3")]
        )
    positions = first + second
    assert all(a < b for a, b in itertools.pairwise(positions))
    with read_transaction(engine) as conn:
        assert changes.last_position(conn) == positions[-1]
        everything = changes.changes_after(conn, 0)
        assert [c.position for c in everything] == positions
        # read back as written, with the kind told from the columns
        assert [c.entry for c in everything[:5]] == [
            dataclasses.replace(_entry(i), kind="job") for i in range(5)
        ]
        assert [c.entry.cause for c in changes.changes_after(conn, first[2])] == [
            "event-3",
            "event-4",
            "event-5",
            "event-6",
        ]
        assert [c.position for c in changes.changes_after(conn, 0, plan_name="p2")] == [second[0]]
        assert [c.position for c in changes.changes_after(conn, 0, instance_id="i3")] == [second[1]]
        assert [c.position for c in changes.changes_after(conn, 0, limit=2)] == positions[:2]


def test_concurrent_appends_never_let_a_reader_skip_a_position(engine: Engine) -> None:
    """A reader that resumes after the highest position it saw must see every row: no row
    with a lower position may become visible later (commit order = position order)."""
    writers, batches = 4, 15
    done = threading.Event()
    late: list[int] = []
    seen: list[int] = []

    def write(w: int) -> None:
        for b in range(batches):
            with write_transaction(engine) as conn:
                changes.append_audit(conn, [_entry(b, instance=f"w{w}")] * 3)
                # Widen the gap between taking positions and committing them.
                time.sleep(0.002)

    def read() -> None:
        last = 0
        while True:
            finished = done.is_set()
            with read_transaction(engine) as conn:
                rows = changes.changes_after(conn, 0)
            positions = [c.position for c in rows]
            late.extend(p for p in positions if p <= last and p not in seen_set)
            fresh = [p for p in positions if p > last]
            seen.extend(fresh)
            seen_set.update(fresh)
            last = max(positions, default=last)
            if finished:
                return

    seen_set: set[int] = set()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    done.set()
    reader.join(timeout=60)
    assert late == []
    assert len(seen) == writers * batches * 3


def test_processed_ids_dedupe_and_prune(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        assert messages.record_processed(conn, ["m1", "m2", "m2"], now=100) == 2
    with write_transaction(engine) as conn:
        # A replay records nothing new and does not fail the transaction.
        assert messages.record_processed(conn, ["m2", "m3"], now=200) == 1
        assert messages.processed_among(conn, ["m1", "m3", "m9"]) == {"m1", "m3"}
    with write_transaction(engine) as conn:
        assert messages.prune_processed(conn, older_than=150) == 2
    with read_transaction(engine) as conn:
        assert messages.processed_among(conn, ["m1", "m2", "m3"]) == {"m3"}


def test_processed_among_handles_more_ids_than_one_statement_binds(engine: Engine) -> None:
    ids = [f"m{i}" for i in range(1200)]
    with write_transaction(engine) as conn:
        assert messages.record_processed(conn, ids[::2], now=1) == 600
    with read_transaction(engine) as conn:
        assert messages.processed_among(conn, ids) == frozenset(ids[::2])


def _messages(agent: str, n: int, start: int = 0) -> list[messages.OutboxMessage]:
    return [
        messages.OutboxMessage(
            agent_name=agent,
            message=f"{agent}-{i}".encode(),
            message_id=f"{agent}-msg-{i}",
            type_name="SchedulerJobInitiationEvent",
            instance_id="inst-1",
            created_time=100 + i,
        )
        for i in range(start, start + n)
    ]


def test_outbox_seq_assignment_is_persisted_and_never_reassigned(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        messages.insert_outbox(conn, _messages("a", 5) + _messages("b", 2))

    with write_transaction(engine) as conn:
        sent = messages.assign_link_seqs(conn, "a", limit=3)
    assert [r.link_seq for r in sent] == [1, 2, 3]
    assert [r.message for r in sent] == [b"a-0", b"a-1", b"a-2"]
    # Read back through a new connection: the assignment is durable before any send.
    with read_transaction(engine) as conn:
        stored = conn.execute(
            select(outbox.c.message_id, outbox.c.link_seq)
            .where(outbox.c.agent_name == "a")
            .order_by(outbox.c.id)
        ).all()
        assert [tuple(r) for r in stored] == [
            ("a-msg-0", 1),
            ("a-msg-1", 2),
            ("a-msg-2", 3),
            ("a-msg-3", None),
            ("a-msg-4", None),
        ]
        assert messages.link_state(conn, "a").last_assigned_seq == 3

    with write_transaction(engine) as conn:
        messages.insert_outbox(conn, _messages("a", 1, start=5))
        rest = messages.assign_link_seqs(conn, "a")
    # Only unsent rows, continuing the numbering; nothing assigned twice.
    assert [(r.message_id, r.link_seq) for r in rest] == [
        ("a-msg-3", 4),
        ("a-msg-4", 5),
        ("a-msg-5", 6),
    ]
    with write_transaction(engine) as conn:
        assert messages.assign_link_seqs(conn, "a") == []
        # Agent b's numbering is its own.
        assert [r.link_seq for r in messages.assign_link_seqs(conn, "b")] == [1, 2]


def test_outbox_resend_ack_and_stats(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        messages.insert_outbox(conn, _messages("a", 6) + _messages("b", 1))
        messages.assign_link_seqs(conn, "a", limit=4)
    with read_transaction(engine) as conn:
        # The agent said it journaled up to 2: resend 3 and 4, exactly those.
        resend = messages.outbox_after_seq(conn, "a", 2)
        assert [(r.link_seq, r.message) for r in resend] == [(3, b"a-2"), (4, b"a-3")]
        stats = messages.outbox_stats(conn)
        assert stats["a"] == messages.OutboxStats("a", 6, 100)
        assert stats["b"].size == 1
        assert [r.message_id for r in messages.peek_outbox(conn, "a", limit=2)] == [
            "a-msg-0",
            "a-msg-1",
        ]
        assert len(messages.peek_outbox(conn)) == 7
    with write_transaction(engine) as conn:
        assert messages.ack_outbox(conn, "a", 3) == 3
        # A cumulative ack never touches unsent rows or another agent's rows.
        assert messages.ack_outbox(conn, "a", 100) == 1
    with read_transaction(engine) as conn:
        left = messages.peek_outbox(conn)
        assert [(r.agent_name, r.link_seq) for r in left] == [("a", None), ("a", None), ("b", None)]
        row = left[0]
        assert (row.type_name, row.instance_id, row.created_time) == (
            "SchedulerJobInitiationEvent",
            "inst-1",
            104,
        )


def test_concurrent_assignment_hands_out_each_seq_once(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        messages.insert_outbox(conn, _messages("a", 200))
    got: list[int] = []
    lock = threading.Lock()

    def sender() -> None:
        while True:
            with write_transaction(engine) as conn:
                rows = messages.assign_link_seqs(conn, "a", limit=7)
            if not rows:
                return
            with lock:
                got.extend(r.link_seq or 0 for r in rows)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(got) == list(range(1, 201))
    with read_transaction(engine) as conn:
        unsent = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.link_seq.is_(None))
        ).scalar_one()
        assert unsent == 0


def test_inbound_seq_only_moves_forward(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        assert messages.link_state(conn, "a") == messages.LinkState("a", 0, 0)
        messages.set_inbound_seq(conn, "a", 10)
        messages.set_inbound_seq(conn, "a", 7)
    with read_transaction(engine) as conn:
        assert messages.link_state(conn, "a") == messages.LinkState("a", 0, 10)
