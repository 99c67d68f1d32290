"""Outbox and receiver rules of the sequenced link, without a connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikasched_common.errors import InvalidArgument, LinkError
from ikasched_common.journal import DiskJournal, MemoryJournal
from ikasched_common.link import JournalOutbox, MemoryOutbox, Outbox, Receiver
from ikasched_common.link.outbox import META_LAST_ASSIGNED_SEQ
from ikasched_common.link.receiver import META_LAST_JOURNALED_SEQ
from tests.link_support import RecordingJournal, wait_until

OutboxFactory = Callable[[Path], Outbox]


def _memory(_: Path) -> Outbox:
    return MemoryOutbox(max_message_bytes=1000)


def _journal(_: Path) -> Outbox:
    return JournalOutbox(MemoryJournal(), max_message_bytes=1000)


def _disk(path: Path) -> Outbox:
    return JournalOutbox(DiskJournal(path / "out"), max_message_bytes=1000)


FACTORIES = [
    pytest.param(_memory, id="memory"),
    pytest.param(_journal, id="journal"),
    pytest.param(_disk, id="disk"),
]


@pytest.mark.parametrize("factory", FACTORIES)
def test_outbox_assigns_in_insert_order_and_acks_remove_a_prefix(
    factory: OutboxFactory, tmp_path: Path
) -> None:
    async def scenario() -> None:
        outbox = factory(tmp_path)
        woke: list[int] = []
        outbox.listen(lambda: woke.append(1))
        await outbox.add([b"m1", b"m2", b"m3", b"m4", b"m5"])
        assert woke == [1]
        pending = await outbox.pending(3)
        assert [p.value for p in pending] == [b"m1", b"m2", b"m3"]
        assert await outbox.assign([p.key for p in pending]) == [1, 2, 3]
        # assigned messages are no longer pending; the rest keep their order
        assert [p.value for p in await outbox.pending(10)] == [b"m4", b"m5"]
        assert [(i.seq, i.value) for i in await outbox.assigned_from(1, 10)] == [
            (2, b"m2"),
            (3, b"m3"),
        ]
        assert await outbox.acknowledge(2) == 2
        pos = await outbox.position()
        assert (pos.last_acked_seq, pos.last_assigned_seq, pos.unacked) == (2, 3, 1)
        assert [(i.seq, i.value) for i in await outbox.assigned_from(0, 10)] == [(3, b"m3")]
        # an ack beyond what was assigned cannot remove pending messages
        await outbox.acknowledge(99)
        assert (await outbox.position()).last_acked_seq == 3
        assert [p.value for p in await outbox.pending(10)] == [b"m4", b"m5"]
        with pytest.raises(InvalidArgument):
            await outbox.add([b"x" * 1001])

    asyncio.run(scenario())


@pytest.mark.parametrize("factory", FACTORIES)
def test_outbox_reset_sequence_puts_unacked_back_ahead_of_pending(
    factory: OutboxFactory, tmp_path: Path
) -> None:
    async def scenario() -> None:
        outbox = factory(tmp_path)
        await outbox.add([b"a", b"b", b"c", b"d"])
        pending = await outbox.pending(3)
        await outbox.assign([p.key for p in pending])
        await outbox.acknowledge(1)
        assert await outbox.reset_sequence(40) == 2
        pos = await outbox.position()
        assert (pos.last_acked_seq, pos.last_assigned_seq) == (40, 40)
        again = await outbox.pending(10)
        assert [p.value for p in again] == [b"b", b"c", b"d"]
        assert await outbox.assign([p.key for p in again[:2]]) == [41, 42]
        assert [(i.seq, i.value) for i in await outbox.assigned_from(40, 10)] == [
            (41, b"b"),
            (42, b"c"),
        ]

    asyncio.run(scenario())


def test_journal_outbox_survives_reopen_with_its_assignments(tmp_path: Path) -> None:
    async def first() -> None:
        journal = DiskJournal(tmp_path / "out")
        outbox = JournalOutbox(journal)
        await outbox.add([b"a", b"b", b"c", b"d", b"e"])
        pending = await outbox.pending(4)
        await outbox.assign([p.key for p in pending])
        # assignment is durable as soon as assign returns (before any frame is written)
        assert journal.get_meta(META_LAST_ASSIGNED_SEQ) == 4
        await outbox.acknowledge(2)
        outbox.close()
        journal.close()

    async def second() -> None:
        journal = DiskJournal(tmp_path / "out")
        outbox = JournalOutbox(journal)
        pos = await outbox.position()
        assert (pos.last_acked_seq, pos.last_assigned_seq) == (2, 4)
        assert [(i.seq, i.value) for i in await outbox.assigned_from(2, 10)] == [
            (3, b"c"),
            (4, b"d"),
        ]
        assert [p.value for p in await outbox.pending(10)] == [b"e"]
        assert await outbox.assign([p.key for p in await outbox.pending(10)]) == [5]
        outbox.close()
        journal.close()

    asyncio.run(first())
    asyncio.run(second())


def test_outbox_refuses_to_assign_out_of_order() -> None:
    async def scenario() -> None:
        outbox = MemoryOutbox()
        await outbox.add([b"a", b"b"])
        second = (await outbox.pending(2))[1]
        with pytest.raises(LinkError):
            await outbox.assign([second.key])

    asyncio.run(scenario())


def test_receiver_journals_batch_and_last_seq_in_one_append_and_drops_duplicates() -> None:
    async def scenario() -> None:
        journal = RecordingJournal()
        receiver = Receiver(journal)
        seen: list[int] = []
        receiver.listen(seen.append)
        assert await receiver.open() == 0
        assert receiver.offer([(1, b"a"), (2, b"b"), (3, b"c")]) == 3
        # nothing is "journaled" before the append returned
        assert receiver.journaled_seq == 0
        assert await receiver.flush() == 3
        assert journal.appends == [(3, {META_LAST_JOURNALED_SEQ: 3})]
        # a resend overlapping what is journaled only adds the new tail
        assert receiver.offer([(2, b"b"), (3, b"c"), (4, b"d")]) == 1
        assert receiver.offer([(1, b"a")]) == 0
        await receiver.flush()
        assert journal.appends[-1] == (1, {META_LAST_JOURNALED_SEQ: 4})
        assert [i.value for i in journal.peek(10)] == [b"a", b"b", b"c", b"d"]
        assert seen == [3, 4]
        with pytest.raises(LinkError, match="gap"):
            receiver.offer([(6, b"f")])
        receiver.close()

    asyncio.run(scenario())


def test_receiver_group_commits_batches_arriving_during_a_commit() -> None:
    async def scenario() -> None:
        journal = RecordingJournal()
        import threading

        journal.gate = threading.Event()
        receiver = Receiver(journal)
        await receiver.open()
        receiver.offer([(1, b"1")])
        await asyncio.sleep(0.01)  # the first commit is now blocked inside append
        for seq in range(2, 12):
            receiver.offer([(seq, str(seq).encode())])
        journal.gate.set()
        assert await receiver.flush() == 11
        # first commit alone, the other ten in one transaction
        assert [n for n, _ in journal.appends] == [1, 10]
        assert journal.appends[-1][1] == {META_LAST_JOURNALED_SEQ: 11}
        receiver.close()

    asyncio.run(scenario())


def test_receiver_forgets_unjournaled_items_when_the_append_fails() -> None:
    async def scenario() -> None:
        journal = RecordingJournal()
        receiver = Receiver(journal)
        errors: list[BaseException] = []
        receiver.listen_errors(errors.append)
        await receiver.open()
        receiver.offer([(1, b"a")])
        await receiver.flush()
        journal.fail = True
        receiver.offer([(2, b"b"), (3, b"c")])
        assert await receiver.flush() == 1
        assert len(errors) == 1
        journal.fail = False
        # the sender's resend of 2..3 is accepted again, not dropped as a duplicate
        assert receiver.offer([(2, b"b"), (3, b"c")]) == 2
        assert await receiver.flush() == 3
        assert [i.value for i in journal.peek(10)] == [b"a", b"b", b"c"]
        receiver.close()

    asyncio.run(scenario())


def test_receiver_resumes_from_the_persisted_seq(tmp_path: Path) -> None:
    async def scenario() -> None:
        journal = DiskJournal(tmp_path / "in")
        receiver = Receiver(journal)
        await receiver.open()
        receiver.offer([(1, b"a"), (2, b"b")])
        await wait_until(lambda: receiver.journaled_seq == 2)
        receiver.close()
        journal.close()
        journal = DiskJournal(tmp_path / "in")
        again = Receiver(journal)
        assert await again.open() == 2
        assert again.offer([(2, b"b"), (3, b"c")]) == 1
        await again.flush()
        assert len(journal) == 3
        again.close()
        journal.close()

    asyncio.run(scenario())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 20)), min_size=1, max_size=40))
def test_receiver_journals_every_seq_once_whatever_overlapping_resends_arrive(
    windows: list[tuple[int, int]],
) -> None:
    async def scenario() -> None:
        journal = RecordingJournal()
        receiver = Receiver(journal)
        await receiver.open()
        for back, size in windows:
            # a resend starts at most `back` seqs before the next new one; never leaves a gap
            first = max(1, receiver.journaled_seq + 1 - back)
            if receiver._accepted + 1 < first:
                first = receiver._accepted + 1
            batch = [(seq, str(seq).encode()) for seq in range(first, first + size)]
            receiver.offer(batch)
            if size % 3 == 0:
                await receiver.flush()
        top = await receiver.flush()
        assert [int(i.value) for i in journal.peek(10_000)] == list(range(1, top + 1))
        assert journal.get_meta(META_LAST_JOURNALED_SEQ) == top
        receiver.close()

    asyncio.run(scenario())
