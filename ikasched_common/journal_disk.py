"""`DiskJournal`: a journal in a diskcache directory (SQLite underneath), `open_journal`
(disk or memory by path) and `one_transaction` across sibling journals."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ikasched_common.errors import InvalidArgument, JournalError
from ikasched_common.journal_core import (
    Durability,
    Journal,
    JournalItem,
    MemoryJournal,
    MetaValue,
    checked_meta,
    message_bytes,
)

# Item keys follow diskcache's own push/pull layout ("<prefix>-<15 digits>"), so the text
# order is the number order and Cache.peek/pull(prefix=...) read the same queue.
_KEY_DIGITS = 15
_MAX_KEY = 10**_KEY_DIGITS - 1
_PREFIX_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
# Values up to this size stay inside SQLite rows: one fsync covers message and bookkeeping.
_MIN_FILE_SIZE = 2**30
_SYNCHRONOUS: dict[str, int] = {"crash": 1, "power": 2}  # SQLite NORMAL / FULL

# Rows written here look exactly like rows Cache.set writes for raw values (mode 1 = raw),
# so Cache.get/peek/pull read them back unchanged.
_INSERT_ITEM = (
    "INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count,"
    " tag, size, mode, filename, value) VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 1, NULL, ?)"
)
_UPSERT_VALUE = (
    _INSERT_ITEM + " ON CONFLICT(key, raw) DO UPDATE SET store_time = excluded.store_time,"
    " access_time = excluded.access_time, size = 0, mode = 1, filename = NULL,"
    " value = excluded.value"
)
_SELECT_VALUE = "SELECT value FROM Cache WHERE key = ? AND raw = 1"
_DELETE_ITEM = "DELETE FROM Cache WHERE key = ? AND raw = 1"
_PEEK = "SELECT key, value FROM Cache WHERE key > ? AND key <= ? AND raw = 1 ORDER BY key LIMIT ?"
_LAST = "SELECT key FROM Cache WHERE key > ? AND key <= ? AND raw = 1 ORDER BY key DESC LIMIT 1"
_COUNT = "SELECT COUNT(*) FROM Cache WHERE key > ? AND key <= ? AND raw = 1"


class DiskJournal:
    """A journal in a diskcache directory (SQLite in WAL mode underneath).

    Layout inside the cache, for prefix "j": items under "j-000000000000001"...; the next key
    under "j:next" (so keys keep growing after everything was removed, also across reopen);
    bookkeeping values under "j:m:<name>". Each append/remove/set_meta is one SQLite
    transaction. Safe to share between threads, and several processes may open the same
    directory (SQLite locks; a waiting writer gives up after `timeout` seconds).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Durability = "crash",
        prefix: str = "j",
        timeout: float = 60.0,
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise InvalidArgument("must be 'crash' or 'power'", field="durability")
        _check_prefix(prefix)
        import diskcache  # imported here: CLI start-up must not pay for it

        self._timeout_error: type[Exception] = diskcache.Timeout
        try:
            cache = diskcache.Cache(
                str(path),
                timeout=timeout,
                eviction_policy="none",  # the default size limit would evict queued messages
                cull_limit=0,
                statistics=0,
                tag_index=0,
                disk_min_file_size=_MIN_FILE_SIZE,
                sqlite_synchronous=_SYNCHRONOUS[durability],
            )
        except (sqlite3.Error, OSError, diskcache.Timeout) as exc:
            raise JournalError(f"cannot open journal at {path}: {exc}") from exc
        cache.close()  # connections open on the threads that use them (see _connection)
        self._setup(cache, prefix, durability, owner=True)

    def _setup(self, cache: Any, prefix: str, durability: Durability, *, owner: bool) -> None:
        self._cache = cache
        self._prefix = prefix
        self._durability: Durability = durability
        self._owner = owner
        self._low = f"{prefix}-"
        self._high = f"{prefix}-{_MAX_KEY}"
        self._next_name = f"{prefix}:next"
        self._local = threading.local()

    def sibling(self, prefix: str) -> DiskJournal:
        """Another journal (own keys, own meta) in the same store; `transaction()` spans both.

        The sibling shares this journal's connection: closing it does nothing, closing this
        journal closes both.
        """
        _check_prefix(prefix)
        if prefix == self._prefix:
            raise InvalidArgument("a sibling needs a prefix of its own", field="prefix")
        other = object.__new__(DiskJournal)
        other._timeout_error = self._timeout_error
        other._setup(self._cache, prefix, self._durability, owner=False)
        return other

    def shares_store_with(self, other: object) -> bool:
        """True when one `transaction()` covers both journals."""
        return isinstance(other, DiskJournal) and other._cache is self._cache

    @property
    def directory(self) -> Path:
        return Path(self._cache.directory)

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def durability(self) -> Durability:
        return self._durability

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self._cache.directory}: {exc}") from exc
        except self._timeout_error as exc:
            raise JournalError(f"journal {self._cache.directory}: store is locked") from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls (on this journal and its siblings) into one transaction.

        Only for the calling thread; other threads' writes wait until it ends.
        """
        with self._write():
            yield

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            con = self._connection()  # before BEGIN: it may set a pragma
            with self._cache.transact():
                yield con

    def _connection(self) -> sqlite3.Connection:
        # diskcache keeps one connection per thread; inside transact() it is the one that
        # began the transaction, so direct SQL on it joins that transaction.
        con: sqlite3.Connection = self._cache._con
        if getattr(self._local, "con", None) is not con and not con.in_transaction:
            # diskcache sets pragmas from its shared Settings table, which the latest opener
            # of the directory wrote; our own durability must win on our connections
            con.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[self._durability]}")
            self._local.con = con
        return con

    def _item_key(self, key: int) -> str:
        return f"{self._prefix}-{key:0{_KEY_DIGITS}d}"

    def _meta_key(self, name: str) -> str:
        return f"{self._prefix}:m:{name}"

    def _next_key(self, con: sqlite3.Connection) -> int:
        row = con.execute(_SELECT_VALUE, (self._next_name,)).fetchone()
        if row is not None:
            return int(row[0])
        # no counter yet: a store written by someone else's push(), or a fresh one
        last = con.execute(_LAST, (self._low, self._high)).fetchone()
        return 1 if last is None else int(last[0][len(self._low) :]) + 1

    def _put_meta(self, con: sqlite3.Connection, meta: Mapping[str, MetaValue], now: float) -> None:
        if meta:
            con.executemany(
                _UPSERT_VALUE,
                [(self._meta_key(name), now, now, value) for name, value in meta.items()],
            )

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        blobs = [message_bytes(v, "values") for v in values]
        checked = checked_meta(meta)
        if not blobs and not checked:
            return []
        with self._write() as con:
            now = time.time()
            first = self._next_key(con)
            end = first + len(blobs)
            if end - 1 > _MAX_KEY:
                raise JournalError(f"journal {self._cache.directory}: keys exhausted")
            if blobs:
                con.executemany(
                    _INSERT_ITEM,
                    [(self._item_key(first + i), now, now, b) for i, b in enumerate(blobs)],
                )
                con.execute(_UPSERT_VALUE, (self._next_name, now, now, end))
            self._put_meta(con, checked, now)
        return list(range(first, end))

    def peek(self, limit: int = 1, after: int | None = None) -> list[JournalItem]:
        if limit <= 0 or (after is not None and after >= _MAX_KEY):
            return []
        low = self._low if after is None or after < 1 else self._item_key(after)
        skip = len(self._low)
        with self._errors():
            rows = self._connection().execute(_PEEK, (low, self._high, limit)).fetchall()
        return [JournalItem(int(key[skip:]), bytes(value)) for key, value in rows]

    def remove(self, keys: Iterable[int], meta: Mapping[str, MetaValue] | None = None) -> int:
        wanted = sorted({k for k in keys if 1 <= k <= _MAX_KEY})
        checked = checked_meta(meta)
        if not wanted and not checked:
            return 0
        with self._write() as con:
            removed = 0
            if wanted:
                cursor = con.executemany(_DELETE_ITEM, [(self._item_key(k),) for k in wanted])
                removed = cursor.rowcount
            self._put_meta(con, checked, time.time())
        return removed

    def get_meta(self, name: str, default: MetaValue | None = None) -> MetaValue | None:
        with self._errors():
            row = self._connection().execute(_SELECT_VALUE, (self._meta_key(name),)).fetchone()
        if row is None:
            return default
        value: MetaValue = row[0]
        return value

    def set_meta(self, meta: Mapping[str, MetaValue]) -> None:
        checked = checked_meta(meta)
        if not checked:
            return
        with self._write() as con:
            self._put_meta(con, checked, time.time())

    def __len__(self) -> int:
        with self._errors():
            (count,) = self._connection().execute(_COUNT, (self._low, self._high)).fetchone()
        return int(count)

    def close(self) -> None:
        """Close this thread's connection (diskcache keeps one per thread)."""
        if self._owner:
            self._cache.close()

    def __enter__(self) -> DiskJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_prefix(prefix: str) -> None:
    # letters, digits and "_" only: no prefix's items can fall inside another's key range
    if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
        raise InvalidArgument("1-64 letters, digits or '_'", field="prefix")


def open_journal(
    path: str | Path | None, *, durability: Durability = "crash", prefix: str = "j"
) -> Journal:
    """A DiskJournal at `path`, or a MemoryJournal when path is None (tests, dry runs)."""
    if path is None:
        return MemoryJournal()
    return DiskJournal(path, durability=durability, prefix=prefix)


def one_transaction(*journals: Journal) -> contextlib.AbstractContextManager[None]:
    """One transaction across journals when they share a store (DiskJournal siblings).

    Otherwise a no-op: callers order their steps so that a crash between them duplicates
    rather than loses (write the new place first, then remove from the old one).
    """
    first = journals[0] if journals else None
    if isinstance(first, DiskJournal) and all(first.shares_store_with(j) for j in journals):
        return first.transaction()
    return contextlib.nullcontext()
