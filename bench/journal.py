"""Journal throughput beside raw SQLite on the same disk, in the same run.

    python bench/journal.py [--quick] [--dir DIR] [--size BYTES]

For each durability (crash = synchronous NORMAL, power = FULL) it measures, in items/s:
single-item commits, batches of 100 per commit, AsyncJournal.append_one group commit with
100 concurrent callers, and peek(100) + remove per transaction. The floor is plain sqlite3
(WAL, same synchronous): one INSERT + COMMIT per item, executemany of 100 per COMMIT, and
SELECT 100 + DELETE per COMMIT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ikasched_common.journal import AsyncJournal, DiskJournal, Durability

BATCH = 100


@dataclass(frozen=True, slots=True)
class Row:
    measure: str
    durability: str
    journal: float  # items/s
    floor: float | None  # raw sqlite3 items/s, where there is a like-for-like floor


def rate(items: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return items / (time.perf_counter() - start)


def raw_db(directory: Path, synchronous: int) -> sqlite3.Connection:
    con = sqlite3.connect(directory / "raw.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous}")
    con.execute("CREATE TABLE IF NOT EXISTS q (k INTEGER PRIMARY KEY, v BLOB)")
    return con


def raw_single(con: sqlite3.Connection, value: bytes, n: int) -> None:
    for _ in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO q (v) VALUES (?)", (value,))
        con.execute("COMMIT")


def raw_batched(con: sqlite3.Connection, value: bytes, n: int) -> None:
    rows = [(value,)] * BATCH
    for _ in range(n // BATCH):
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO q (v) VALUES (?)", rows)
        con.execute("COMMIT")


def raw_drain(con: sqlite3.Connection) -> int:
    done = 0
    while True:
        con.execute("BEGIN IMMEDIATE")
        keys = con.execute("SELECT k, v FROM q ORDER BY k LIMIT ?", (BATCH,)).fetchall()
        con.executemany("DELETE FROM q WHERE k = ?", [(k,) for k, _ in keys])
        con.execute("COMMIT")
        if not keys:
            return done
        done += len(keys)


def journal_single(journal: DiskJournal, value: bytes, n: int) -> None:
    for i in range(n):
        journal.append([value], {"last": i})


def journal_batched(journal: DiskJournal, value: bytes, n: int) -> None:
    values = [value] * BATCH
    for i in range(n // BATCH):
        journal.append(values, {"last": i})


def journal_drain(journal: DiskJournal) -> int:
    done = 0
    while items := journal.peek(BATCH):
        journal.remove([i.key for i in items], {"consumed": items[-1].key})
        done += len(items)
    return done


def group_commit(journal: DiskJournal, value: bytes, n: int, callers: int) -> tuple[float, int]:
    """n appends by `callers` concurrent tasks, each awaiting its own append_one."""

    async def main() -> tuple[float, int]:
        aj = AsyncJournal(journal)

        async def caller(count: int) -> None:
            for i in range(count):
                await aj.append_one(value, {"last": i})

        start = time.perf_counter()
        await asyncio.gather(*(caller(n // callers) for _ in range(callers)))
        elapsed = time.perf_counter() - start
        commits = aj.commits
        await aj.run(journal.remove, [i.key for i in journal.peek(n + 1)])
        await aj.aclose(close_journal=False)
        return (n // callers) * callers / elapsed, commits

    return asyncio.run(main())


def measure(base: Path, durability: Durability, single: int, batched: int, size: int) -> list[Row]:
    value = os.urandom(size)
    synchronous = 1 if durability == "crash" else 2
    work = base / durability
    work.mkdir()
    rows: list[Row] = []
    con = raw_db(work, synchronous)
    journal = DiskJournal(work / "journal", durability=durability)
    try:
        floor = rate(single, lambda: raw_single(con, value, single))
        mine = rate(single, lambda: journal_single(journal, value, single))
        rows.append(Row("append, 1 item per commit", durability, mine, floor))

        floor = rate(batched, lambda: raw_batched(con, value, batched))
        mine = rate(batched, lambda: journal_batched(journal, value, batched))
        rows.append(Row(f"append, {BATCH} items per commit", durability, mine, floor))

        raw_items, items = len(con.execute("SELECT k FROM q").fetchall()), len(journal)
        floor = rate(raw_items, lambda: assert_drained(raw_drain(con), raw_items))
        mine = rate(items, lambda: assert_drained(journal_drain(journal), items))
        rows.append(Row(f"peek {BATCH} + remove, per commit", durability, mine, floor))

        grouped, commits = group_commit(journal, value, single * 2, callers=100)
        rows.append(Row(f"append_one, 100 callers ({commits} commits)", durability, grouped, None))
    finally:
        con.close()
        journal.close()
    return rows


def assert_drained(done: int, expected: int) -> None:
    if done != expected:
        raise SystemExit(f"drained {done} of {expected} items")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--size", type=int, default=200, help="value size in bytes")
    args = parser.parse_args()
    single, batched = (300, 5_000) if args.quick else (2_000, 50_000)
    base = Path(tempfile.mkdtemp(prefix="ikasched-bench-", dir=args.dir))
    try:
        rows = [r for d in ("crash", "power") for r in measure(base, d, single, batched, args.size)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(
        f"journal bench: {args.size}-byte values, {single} single commits, "
        f"{batched} batched items, on {base.parent}"
    )
    header = f"{'measure':<42} {'durability':<10} {'journal/s':>11} {'sqlite3/s':>11} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        floor = f"{r.floor:>11,.0f}" if r.floor else f"{'-':>11}"
        ratio = f"{r.journal / r.floor:>6.2f}" if r.floor else f"{'':>6}"
        print(f"{r.measure:<42} {r.durability:<10} {r.journal:>11,.0f} {floor} {ratio}")


if __name__ == "__main__":
    main()
