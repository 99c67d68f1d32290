"""Journals: shared behaviour of MemoryJournal and DiskJournal, DiskJournal's storage rules,
dead letters and the poison rule (group commit and kill -9: test_journal_commit.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikasched_common.errors import InvalidArgument, JournalError, NotFound
from ikasched_common.journal import (
    DeadLetterJournal,
    DiskJournal,
    Journal,
    JournalItem,
    MemoryJournal,
    PoisonGuard,
    decode_dead_letter,
    encode_dead_letter,
    one_transaction,
    open_journal,
)

CHILD = Path(__file__).with_name("journal_crash_child.py")
LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"

Opener = Callable[[], Journal]


@pytest.fixture(params=["memory", "disk"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the journal under test; for disk, each call reopens the same directory."""
    opened: list[Journal] = []
    memory = MemoryJournal()

    def open_() -> Journal:
        journal: Journal = memory if request.param == "memory" else DiskJournal(tmp_path / "j")
        opened.append(journal)
        return journal

    yield open_
    for journal in opened:
        journal.close()


def values_of(items: Sequence[JournalItem]) -> list[bytes]:
    return [i.value for i in items]


# --- shared behaviour ------------------------------------------------------------------------


def test_items_come_back_oldest_first_with_growing_keys(opener: Opener) -> None:
    journal = opener()
    first = journal.append([b"a", b"b"])
    second = journal.append([b"c"])
    assert first[0] < first[1] < second[0]
    items = journal.peek(10)
    assert values_of(items) == [b"a", b"b", b"c"]
    assert [i.key for i in items] == first + second
    assert values_of(journal.peek(2)) == [b"a", b"b"]
    assert journal.peek(0) == []


def test_peek_after_a_key_skips_it_and_older_ones(opener: Opener) -> None:
    journal = opener()
    keys = journal.append([b"%d" % n for n in range(10)])
    assert values_of(journal.peek(3, after=keys[4])) == [b"5", b"6", b"7"]
    assert journal.peek(5, after=keys[-1]) == []
    assert values_of(journal.peek(1, after=0)) == [b"0"]
    # a key in a gap: the next existing one follows
    journal.remove([keys[5], keys[6]])
    assert values_of(journal.peek(1, after=keys[4])) == [b"7"]


def test_remove_counts_only_present_keys_and_sets_meta(opener: Opener) -> None:
    journal = opener()
    keys = journal.append([b"a", b"b", b"c"])
    assert journal.remove([keys[0], keys[2], 999_999, keys[0]], {"done": keys[2]}) == 2
    assert values_of(journal.peek(10)) == [b"b"]
    assert journal.get_meta("done") == keys[2]
    assert journal.remove([]) == 0
    assert len(journal) == 1


def test_meta_is_written_with_the_append(opener: Opener) -> None:
    journal = opener()
    journal.append([b"m1"], {"last_seq": 7, "peer": "agent-1", "token": b"\x00\xff"})
    assert journal.get_meta("last_seq") == 7
    assert journal.get_meta("peer") == "agent-1"
    assert journal.get_meta("token") == b"\x00\xff"
    assert journal.get_meta("missing") is None
    assert journal.get_meta("missing", 3) == 3
    assert journal.append([], {"last_seq": 8}) == []
    assert journal.get_meta("last_seq") == 8
    journal.set_meta({"last_seq": 9, "peer": "agent-2"})
    assert (journal.get_meta("last_seq"), journal.get_meta("peer")) == (9, "agent-2")


@pytest.mark.parametrize("bad", [True, 1.5, 2**63, None, ["x"]])
def test_meta_values_that_would_be_pickled_are_refused_and_nothing_is_written(
    opener: Opener, bad: object
) -> None:
    journal = opener()
    with pytest.raises(InvalidArgument) as err:
        journal.append([b"a"], {"last": bad})  # type: ignore[dict-item]
    assert err.value.field == "meta.last"
    assert len(journal) == 0
    assert journal.get_meta("last") is None


@pytest.mark.parametrize("bad", [5, "text", None])
def test_values_must_be_bytes(opener: Opener, bad: object) -> None:
    journal = opener()
    with pytest.raises(InvalidArgument):
        journal.append([b"ok", bad])  # type: ignore[list-item]
    assert len(journal) == 0
    assert journal.append([bytearray(b"ba"), memoryview(b"mv")]) != []  # type: ignore[list-item]
    assert values_of(journal.peek(2)) == [b"ba", b"mv"]


def test_len_counts_items_not_meta(opener: Opener) -> None:
    journal = opener()
    journal.set_meta({"a": 1, "b": "two"})
    assert len(journal) == 0
    journal.append([b"x", b"y"], {"c": 3})
    assert len(journal) == 2


def test_keys_keep_growing_after_everything_was_removed(opener: Opener) -> None:
    journal = opener()
    old = journal.append([b"a", b"b"])
    journal.remove(old)
    assert len(journal) == 0
    new = journal.append([b"c"])
    assert new[0] > max(old)


def test_a_batch_of_ten_thousand_round_trips(opener: Opener) -> None:
    journal = opener()
    values = [b"v%05d" % n + b"." * (n % 300) for n in range(10_000)]
    keys = journal.append(values, {"last": 10_000})
    assert keys == list(range(keys[0], keys[0] + 10_000))
    got = journal.peek(20_000)
    assert values_of(got) == values
    assert journal.remove(keys[:5_000]) == 5_000
    assert values_of(journal.peek(1)) == [values[5_000]]
    assert len(journal) == 5_000


def test_threads_append_and_consume_each_message_exactly_once(opener: Opener) -> None:
    journal = opener()
    writers, batches, size = 4, 30, 20
    total = writers * batches * size
    consumed: list[bytes] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for b in range(batches):
                journal.append([b"%d:%d" % (w, b * size + i) for i in range(size)])
        except BaseException as exc:
            errors.append(exc)

    def consume() -> None:
        try:
            while not (stop.is_set() and len(journal) == 0):
                items = journal.peek(37)
                if items:
                    assert journal.remove([i.key for i in items]) == len(items)
                    consumed.extend(values_of(items))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    consumer = threading.Thread(target=consume)
    consumer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stop.set()
    consumer.join(timeout=60)
    assert not errors
    assert len(consumed) == total == len(set(consumed))
    for w in range(writers):  # each writer's values arrive in its own order
        mine = [int(v.split(b":")[1]) for v in consumed if v.startswith(b"%d:" % w)]
        assert mine == list(range(batches * size))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just("append"), st.lists(st.binary(max_size=40), max_size=8), st.integers(0, 5)
            ),
            st.tuples(
                st.just("remove"), st.lists(st.integers(0, 40), max_size=6), st.integers(0, 5)
            ),
            st.tuples(st.just("peek"), st.integers(0, 10), st.integers(-1, 40)),
            st.tuples(st.just("reopen"), st.just(0), st.just(0)),
        ),
        max_size=30,
    )
)
def test_disk_journal_behaves_like_the_memory_journal(ops: list[tuple[str, object, int]]) -> None:
    model = MemoryJournal()
    with tempfile.TemporaryDirectory() as tmp:
        disk = DiskJournal(tmp)
        try:
            for op, arg, n in ops:
                if op == "append":
                    assert isinstance(arg, list)
                    assert disk.append(arg, {"n": n}) == model.append(arg, {"n": n})
                elif op == "remove":
                    assert isinstance(arg, list)
                    assert disk.remove(arg, {"r": n}) == model.remove(arg, {"r": n})
                elif op == "peek":
                    assert isinstance(arg, int)
                    after = None if n < 0 else n
                    assert disk.peek(arg, after) == model.peek(arg, after)
                else:
                    disk.close()
                    disk = DiskJournal(tmp)
                assert len(disk) == len(model)
                assert disk.get_meta("n") == model.get_meta("n")
                assert disk.get_meta("r") == model.get_meta("r")
        finally:
            disk.close()


# --- DiskJournal storage ---------------------------------------------------------------------


def _rows(directory: Path) -> list[tuple[str, int, str | None, str]]:
    con = sqlite3.connect(directory / "cache.db")
    try:
        return con.execute(
            "SELECT key, mode, filename, typeof(value) FROM Cache ORDER BY key"
        ).fetchall()
    finally:
        con.close()


def disk_settings(directory: Path) -> dict[str, object]:
    con = sqlite3.connect(directory / "cache.db")
    try:
        return dict(con.execute("SELECT key, value FROM Settings").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize(("durability", "synchronous"), [("crash", 1), ("power", 2)])
def test_disk_settings_follow_the_design(tmp_path: Path, durability: str, synchronous: int) -> None:
    with DiskJournal(tmp_path, durability=durability) as journal:  # type: ignore[arg-type]
        journal.append([b"x"])
        assert journal.durability == durability
        (live,) = journal._connection().execute("PRAGMA synchronous").fetchone()
        assert live == synchronous
    stored = disk_settings(tmp_path)
    assert stored["eviction_policy"] == "none"
    assert stored["sqlite_synchronous"] == synchronous
    assert int(str(stored["disk_min_file_size"])) >= 2**30
    assert stored["sqlite_journal_mode"] == "wal"


def test_values_stay_raw_inside_sqlite_even_when_large(tmp_path: Path) -> None:
    big = os.urandom(3 * 2**20)
    with DiskJournal(tmp_path) as journal:
        journal.append([b"small", big], {"last": 2, "who": "agent"})
        assert journal.peek(2)[1].value == big
    rows = _rows(tmp_path)
    assert {(key[:2], mode, filename, kind) for key, mode, filename, kind in rows} == {
        ("j-", 1, None, "blob"),  # items: raw bytes, no pickle, no file
        ("j:", 1, None, "integer"),  # next key and meta "last"
        ("j:", 1, None, "text"),
    }
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("cache.db")) == []


def test_keys_keep_growing_across_reopen_and_meta_persists(tmp_path: Path) -> None:
    with DiskJournal(tmp_path) as journal:
        old = journal.append([b"a", b"b", b"c"], {"last": 3})
        journal.remove(old)
    with DiskJournal(tmp_path) as journal:
        assert len(journal) == 0
        assert journal.get_meta("last") == 3
        assert journal.append([b"d"])[0] > max(old)


def test_diskcache_reads_the_same_queue(tmp_path: Path) -> None:
    import diskcache

    with DiskJournal(tmp_path, prefix="inbox") as journal:
        journal.append([b"first", b"second"])
        cache = diskcache.Cache(str(tmp_path))
        try:
            key, value = cache.peek(prefix="inbox", side="front")
            assert value == b"first"
            assert key.startswith("inbox-")
            assert cache.pull(prefix="inbox")[1] == b"first"
        finally:
            cache.close()
        assert values_of(journal.peek(5)) == [b"second"]


def test_siblings_keep_apart_and_share_one_transaction(tmp_path: Path) -> None:
    with DiskJournal(tmp_path, prefix="inbox") as inbox:
        outbox = inbox.sibling("outbox")
        other = inbox.sibling("inbox_2")  # a prefix that starts like "inbox"
        inbox.append([b"i1"], {"last": 1})
        outbox.append([b"o1", b"o2"], {"last": 2})
        other.append([b"x"])
        assert (len(inbox), len(outbox), len(other)) == (1, 2, 1)
        assert (inbox.get_meta("last"), outbox.get_meta("last")) == (1, 2)
        assert values_of(inbox.peek(5)) == [b"i1"]

        with pytest.raises(RuntimeError), one_transaction(inbox, outbox):
            moved = outbox.peek(1)
            inbox.append([moved[0].value], {"last": 9})
            outbox.remove([moved[0].key])
            raise RuntimeError("crash in the middle")
        assert (len(inbox), len(outbox), inbox.get_meta("last")) == (1, 2, 1)

        with one_transaction(inbox, outbox):
            moved = outbox.peek(1)
            inbox.append([moved[0].value])
            outbox.remove([moved[0].key])
        assert values_of(inbox.peek(5)) == [b"i1", b"o1"]
        assert values_of(outbox.peek(5)) == [b"o2"]
        with pytest.raises(InvalidArgument):
            inbox.sibling("inbox")


@pytest.mark.parametrize("prefix", ["", "a-b", "j:x", "x" * 65])
def test_prefixes_that_could_overlap_are_refused(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        DiskJournal(tmp_path, prefix=prefix)
    assert err.value.field == "prefix"


def test_unknown_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        DiskJournal(tmp_path, durability="eventually")  # type: ignore[arg-type]
    assert err.value.field == "durability"


def test_an_unusable_directory_is_a_journal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(JournalError):
        DiskJournal(blocker / "j")


def test_open_journal_picks_the_store(tmp_path: Path) -> None:
    memory = open_journal(None)
    assert isinstance(memory, MemoryJournal)
    disk = open_journal(tmp_path / "q", durability="power", prefix="q")
    try:
        assert isinstance(disk, DiskJournal)
        assert (disk.durability, disk.prefix, disk.directory) == ("power", "q", tmp_path / "q")
    finally:
        disk.close()


def test_processes_appending_to_one_directory_lose_nothing(tmp_path: Path) -> None:
    writers, batches, size = 3, 40, 10
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(CHILD),
                str(tmp_path),
                "--mode",
                "writer",
                "--name",
                f"w{w}",
                "--batches",
                str(batches),
                "--batch",
                str(size),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(writers)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        assert out == b"done\n"
    with DiskJournal(tmp_path) as journal:
        items = journal.peek(10_000)
    assert len(items) == writers * batches * size
    assert [i.key for i in items] == sorted({i.key for i in items})
    for w in range(writers):
        mine = [int(i.value.split(b":")[1]) for i in items if i.value.startswith(b"w%d:" % w)]
        assert mine == list(range(batches * size))


# --- dead letters and poison messages -------------------------------------------------------


def test_dead_letter_encoding_round_trips_and_rejects_garbage() -> None:
    raw = encode_dead_letter(b"\x00payload", "bad plan: naïve ✓", 3, 1700000000.5)
    letter = decode_dead_letter(7, raw)
    assert (letter.key, letter.value, letter.reason, letter.attempts, letter.dead_at) == (
        7,
        b"\x00payload",
        "bad plan: naïve ✓",
        3,
        1700000000.5,
    )
    for garbage in [b"", b"IKDL", b"XXXX" + raw[4:], raw[:22]]:
        with pytest.raises(JournalError):
            decode_dead_letter(1, garbage)


def test_dead_letters_list_resubmit_and_delete(opener: Opener) -> None:
    dead = DeadLetterJournal(opener())
    first = dead.add(b"m1", "parse error", 5, now=100.0)
    second = dead.add(b"m2", "timeout", 2, now=200.0)
    third = dead.add(b"m3", "x", 1)
    assert len(dead) == 3
    listed = dead.peek(10)
    assert [(d.key, d.value, d.reason, d.attempts) for d in listed] == [
        (first, b"m1", "parse error", 5),
        (second, b"m2", "timeout", 2),
        (third, b"m3", "x", 1),
    ]
    assert listed[0].dead_at == 100.0
    assert [d.key for d in dead.peek(10, after=first)] == [second, third]
    assert dead.get(second).reason == "timeout"
    assert dead.resubmit(second) == b"m2"
    with pytest.raises(NotFound):
        dead.resubmit(second)
    with pytest.raises(NotFound):
        dead.get(second)
    assert dead.delete([first, 12345]) == 1
    assert [d.value for d in dead.peek(10)] == [b"m3"]


def _guard_pair(kind: str, directory: Path) -> tuple[Journal, DeadLetterJournal]:
    if kind == "memory":
        return MemoryJournal(), DeadLetterJournal(MemoryJournal())
    inbox = DiskJournal(directory, prefix="inbox")
    return inbox, DeadLetterJournal(inbox.sibling("dead"))


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_poison_message_moves_to_dead_letters_after_max_attempts(kind: str, tmp_path: Path) -> None:
    inbox, dead = _guard_pair(kind, tmp_path)
    guard = PoisonGuard(inbox, dead, max_attempts=3)
    good, bad = inbox.append([b"good", b"bad"])
    item = inbox.peek(1, after=good)[0]
    assert not guard.failed(item, "boom 1")
    assert not guard.failed(item, "boom 2")
    assert guard.attempts(bad) == 2
    assert len(dead) == 0
    assert guard.failed(item, "boom 3")
    assert values_of(inbox.peek(5)) == [b"good"]
    (letter,) = dead.peek(5)
    assert (letter.value, letter.reason, letter.attempts) == (b"bad", "boom 3", 3)
    assert guard.attempts(bad) == 0
    # the loop goes on: the good message is untouched, a resubmit starts counting afresh
    (again,) = inbox.append([dead.resubmit(letter.key)])
    assert not guard.failed(inbox.peek(1, after=good)[0], "once more")
    assert guard.attempts(again) == 1
    inbox.close()


def test_poison_counts_survive_a_restart_and_forget_processed_keys(tmp_path: Path) -> None:
    inbox, dead = _guard_pair("disk", tmp_path)
    keys = inbox.append([b"a", b"b", b"c"])
    guard = PoisonGuard(inbox, dead, max_attempts=2)
    items = inbox.peek(3)
    assert not guard.failed(items[0], "first")
    assert not guard.failed(items[2], "first")
    inbox.close()

    inbox, dead = _guard_pair("disk", tmp_path)
    guard = PoisonGuard(inbox, dead, max_attempts=2)
    assert (guard.attempts(keys[0]), guard.attempts(keys[2])) == (1, 1)
    guard.succeeded([keys[2]])
    assert guard.attempts(keys[2]) == 0
    inbox.remove([keys[0]])  # processed without telling the guard: pruned on the next write
    assert not guard.failed(items[1], "first")
    assert guard.attempts(keys[0]) == 0
    assert guard.failed(items[1], "second")
    assert [d.value for d in dead.peek(5)] == [b"b"]
    with pytest.raises(InvalidArgument):
        PoisonGuard(inbox, dead, max_attempts=0)
    inbox.close()
