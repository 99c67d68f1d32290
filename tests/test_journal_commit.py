"""Journals: AsyncJournal's group commit, and kill -9 crash cycles of a DiskJournal in a child
process (no acknowledged append is lost)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from ikasched_common.errors import InvalidArgument, JournalError
from ikasched_common.journal import (
    AsyncJournal,
    DiskJournal,
    Journal,
    MemoryJournal,
    MetaValue,
)
from tests.test_journal import disk_settings, values_of

CHILD = Path(__file__).with_name("journal_crash_child.py")
LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"

Opener = Callable[[], Journal]


# --- AsyncJournal ----------------------------------------------------------------------------


class GatedJournal(MemoryJournal):
    """A MemoryJournal whose appends can be held in flight, recording batch sizes and threads."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.batches: list[int] = []
        self.threads: set[int] = set()
        self.fail_next = False

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        self.threads.add(threading.get_ident())
        self.entered.set()
        assert self.gate.wait(timeout=30)
        if self.fail_next:
            self.fail_next = False
            raise JournalError("disk full")
        self.batches.append(len(values))
        return super().append(values, meta)


def test_async_calls_run_off_the_event_loop_thread() -> None:
    async def main() -> None:
        inner = GatedJournal()
        journal = AsyncJournal(inner)
        keys = await journal.append([b"a", b"b"], {"last": 2})
        assert [i.value for i in await journal.peek(5)] == [b"a", b"b"]
        assert await journal.get_meta("last") == 2
        await journal.set_meta({"last": 3})
        assert await journal.remove(iter(keys[:1]), {"done": 1}) == 1
        assert await journal.size() == 1
        assert await journal.run(inner.get_meta, "done") == 1
        assert threading.get_ident() not in inner.threads
        assert len(inner.threads) == 1
        await journal.aclose()

    asyncio.run(main())


def test_appends_made_while_a_commit_is_in_flight_share_the_next_one() -> None:
    async def main() -> None:
        inner = GatedJournal()
        journal = AsyncJournal(inner)
        inner.gate.clear()
        first = asyncio.ensure_future(journal.append_one(b"v0", {"last": 0}))
        await asyncio.to_thread(inner.entered.wait, 30)  # commit 1 is now in flight
        rest = [
            asyncio.ensure_future(journal.append_one(b"v%d" % n, {"last": n})) for n in range(1, 51)
        ]
        for _ in range(3):
            await asyncio.sleep(0)
        inner.gate.set()
        keys = [await first, *await asyncio.gather(*rest)]
        assert inner.batches == [1, 50]
        assert journal.commits == 2
        assert keys == sorted(keys) == list(range(keys[0], keys[0] + 51))
        assert [i.value for i in inner.peek(100)] == [b"v%d" % n for n in range(51)]
        assert inner.get_meta("last") == 50  # the latest caller's meta wins
        await journal.aclose()

    asyncio.run(main())


def test_group_commit_failure_reaches_every_waiter_and_the_next_commit_works() -> None:
    async def main() -> None:
        inner = GatedJournal()
        journal = AsyncJournal(inner, max_batch=4)
        inner.fail_next = True
        results = await asyncio.gather(
            *(journal.append_one(b"x%d" % n) for n in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, JournalError) for r in results)
        with pytest.raises(InvalidArgument):
            await journal.append_one("not bytes")  # type: ignore[arg-type]
        keys = await asyncio.gather(*(journal.append_one(b"y%d" % n) for n in range(10)))
        assert inner.batches == [4, 4, 2]  # bounded by max_batch
        assert len(set(keys)) == 10
        assert len(inner) == 10
        await journal.aclose()

    asyncio.run(main())


def test_group_commit_on_disk_persists_every_acknowledged_append(tmp_path: Path) -> None:
    async def main() -> list[int]:
        journal = AsyncJournal(DiskJournal(tmp_path))
        keys = await asyncio.gather(
            *(journal.append_one(b"m%d" % n, {"last": n}) for n in range(300))
        )
        assert journal.commits < 300
        await journal.aclose()
        return list(keys)

    keys = asyncio.run(main())
    with DiskJournal(tmp_path) as journal:
        assert [i.key for i in journal.peek(1000)] == keys
        assert values_of(journal.peek(1000)) == [b"m%d" % n for n in range(300)]
        assert journal.get_meta("last") == 299


# --- kill -9 ---------------------------------------------------------------------------------


def _check_journal(directory: Path, acked: int, removed: int) -> tuple[int, int]:
    """Every acknowledged append present (unless its removal was acknowledged too), in order,
    none twice, and meta matching the items. Returns (last, consumed)."""
    with DiskJournal(directory) as journal:
        last = journal.get_meta("last", 0)
        consumed = journal.get_meta("consumed", 0)
        assert isinstance(last, int) and isinstance(consumed, int)
        items = journal.peek(10**7)
        assert len(journal) == len(items)
    assert last >= acked, "an acknowledged append was lost"
    assert consumed >= removed, "an acknowledged removal was undone"
    numbers = [int(i.value.split(b":", 1)[0]) for i in items]
    assert numbers == list(range(consumed + 1, last + 1))
    assert [i.key for i in items] == sorted({i.key for i in items})
    for item, n in zip(items, numbers, strict=True):
        assert item.value == f"{n}:".encode() + b"x" * (n % 97)
    return last, consumed


def _crash_cycles(directory: Path, durability: str, cycles: int, seed: int) -> int:
    rng = random.Random(seed)
    acked = removed = 0
    killed_mid_work = 0
    for _ in range(cycles):
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(directory), "--durability", durability],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        lines: list[bytes] = []
        if rng.random() < 0.2:  # anywhere, start-up and opening included
            threading.Event().wait(rng.uniform(0.0, 0.25))
        else:  # while it works
            lines.append(proc.stdout.readline())
            threading.Event().wait(rng.uniform(0.0, 0.06))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        lines.extend(proc.stdout.read().splitlines(keepends=True))
        err = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, err
        complete = [line for line in lines if line.endswith(b"\n")]
        killed_mid_work += bool(complete)
        for line in complete:
            kind, number = line.split()
            if kind == b"A":
                acked = max(acked, int(number))
            else:
                removed = max(removed, int(number))
        _check_journal(directory, acked, removed)
    return killed_mid_work


def test_kill_minus_nine_loses_no_acknowledged_append(tmp_path: Path) -> None:
    cycles = 300 if LONG else 60
    mid_work = _crash_cycles(tmp_path, "crash", cycles, seed=cycles)
    assert mid_work >= cycles // 2  # most kills landed while batches were being committed
    last, consumed = _check_journal(tmp_path, 0, 0)
    assert last > consumed >= 0 and last > cycles


def test_kill_minus_nine_with_power_durability(tmp_path: Path) -> None:
    cycles = 20 if LONG else 3
    _crash_cycles(tmp_path, "power", cycles, seed=7)
    _check_journal(tmp_path, 0, 0)


def test_each_opener_keeps_its_own_durability(tmp_path: Path) -> None:
    def synchronous_seen_by_a_new_thread(journal: DiskJournal) -> int:
        seen: list[int] = []

        def look() -> None:
            journal.append([b"x"])
            seen.append(journal._connection().execute("PRAGMA synchronous").fetchone()[0])

        thread = threading.Thread(target=look)
        thread.start()
        thread.join(timeout=30)
        return seen[0]

    power = DiskJournal(tmp_path, durability="power")
    crash = DiskJournal(tmp_path, durability="crash")  # rewrites diskcache's shared settings
    try:
        assert disk_settings(tmp_path)["sqlite_synchronous"] == 1
        assert synchronous_seen_by_a_new_thread(power) == 2
        assert synchronous_seen_by_a_new_thread(crash) == 1
    finally:
        power.close()
        crash.close()
