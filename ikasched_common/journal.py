"""Durable journals: ordered, crash-safe queues of serialized protobuf messages.

Both sides keep their inbox and outbox as journals (DESIGN.md §3). The interface is small on
purpose: append a batch (plus bookkeeping values) in one transaction, peek the oldest items,
remove by key once processed. Keys are integers that only grow, so "oldest first" is key order.

`DiskJournal` (diskcache, SQLite underneath) is the real one; `MemoryJournal` is the in-memory
stand-in with the same behaviour for fast unit tests. `open_journal` picks by path.
`DeadLetterJournal` keeps messages given up on (with reason and attempts) and `PoisonGuard`
moves a message there after N failed attempts (DESIGN §3.7). `AsyncJournal` runs every call
on one worker thread, off the event loop, and group-commits single appends (DESIGN §3.8).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from ikasched_common.errors import InvalidArgument, JournalError, NotFound

if TYPE_CHECKING:  # asyncio and the executor are imported when first used (CLI start-up)
    import asyncio

Durability = Literal["crash", "power"]
MetaValue = int | str | bytes


@dataclass(frozen=True, slots=True)
class JournalItem:
    """One journaled message: its key (ordering) and its serialized bytes."""

    key: int
    value: bytes


class Journal(Protocol):
    """An ordered durable queue with bookkeeping values in the same store."""

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        """Append values in order and set meta, all in one transaction; return their keys."""
        ...

    def peek(self, limit: int = 1, after: int | None = None) -> list[JournalItem]:
        """Up to `limit` oldest items (with key > after, if given), oldest first."""
        ...

    def remove(self, keys: Iterable[int], meta: Mapping[str, MetaValue] | None = None) -> int:
        """Remove these keys (missing keys are ignored) and set meta in one transaction."""
        ...

    def get_meta(self, name: str, default: MetaValue | None = None) -> MetaValue | None:
        """A bookkeeping value, or default."""
        ...

    def set_meta(self, meta: Mapping[str, MetaValue]) -> None:
        """Set bookkeeping values in one transaction."""
        ...

    def __len__(self) -> int:
        """Number of items (bookkeeping values not counted)."""
        ...

    def close(self) -> None:
        """Release the underlying store."""
        ...


class MemoryJournal:
    """In-memory stand-in for DiskJournal: same ordering and transaction semantics, no disk."""

    def __init__(self) -> None:
        self._items: dict[int, bytes] = {}
        self._meta: dict[str, MetaValue] = {}
        self._next_key = 1
        self._lock = threading.Lock()

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        with self._lock:
            blobs = [_as_bytes(v, "values") for v in values]
            checked = _check_meta(meta)
            keys = list(range(self._next_key, self._next_key + len(blobs)))
            self._next_key += len(blobs)
            self._items.update(zip(keys, blobs, strict=True))
            self._meta.update(checked)
            return keys

    def peek(self, limit: int = 1, after: int | None = None) -> list[JournalItem]:
        if limit <= 0:
            return []
        with self._lock:
            # dicts keep insertion order and keys are appended in increasing order
            out: list[JournalItem] = []
            for key, value in self._items.items():
                if after is not None and key <= after:
                    continue
                out.append(JournalItem(key, value))
                if len(out) >= limit:
                    break
            return out

    def remove(self, keys: Iterable[int], meta: Mapping[str, MetaValue] | None = None) -> int:
        with self._lock:
            checked = _check_meta(meta)
            removed = 0
            for key in keys:
                if self._items.pop(key, None) is not None:
                    removed += 1
            self._meta.update(checked)
            return removed

    def get_meta(self, name: str, default: MetaValue | None = None) -> MetaValue | None:
        with self._lock:
            return self._meta.get(name, default)

    def set_meta(self, meta: Mapping[str, MetaValue]) -> None:
        with self._lock:
            self._meta.update(_check_meta(meta))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def close(self) -> None:
        pass


T = TypeVar("T")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _as_bytes(value: object, field: str) -> bytes:
    # bytes(5) would quietly be five zero bytes: only byte strings are messages
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise InvalidArgument(
        f"must be bytes (a serialized message), not {type(value).__name__}", field=field
    )


def _check_meta(meta: Mapping[str, MetaValue] | None) -> dict[str, MetaValue]:
    """Validated copy of meta: only values that both stores keep as-is (never pickled)."""
    if not meta:
        return {}
    out: dict[str, MetaValue] = {}
    for name, value in meta.items():
        if not isinstance(name, str) or not name:
            raise InvalidArgument("meta names must be non-empty strings", field="meta")
        kind = type(value)  # bool is an int subclass that diskcache would pickle
        if kind is int:
            if not _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
                raise InvalidArgument("integer does not fit in 64 bits", field=f"meta.{name}")
        elif kind is not str and kind is not bytes:
            raise InvalidArgument(
                f"must be int, str or bytes, not {kind.__name__}", field=f"meta.{name}"
            )
        out[name] = value
    return out


# --- DiskJournal ---------------------------------------------------------------------------

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
        blobs = [_as_bytes(v, "values") for v in values]
        checked = _check_meta(meta)
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
        checked = _check_meta(meta)
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
        checked = _check_meta(meta)
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


# --- dead letters ----------------------------------------------------------------------------

# A dead letter is the original message bytes behind a small fixed header (no pickle):
# magic, version, attempts, dead-lettered-at (unix seconds), reason length; then the reason
# (UTF-8) and the message.
_DL_HEADER = struct.Struct(">4sBIdI")
_DL_MAGIC = b"IKDL"
_DL_VERSION = 1
_MAX_REASON = 4000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be processed, with why and how often it was tried."""

    key: int
    value: bytes
    reason: str
    attempts: int
    dead_at: float


def encode_dead_letter(value: bytes, reason: str, attempts: int, dead_at: float) -> bytes:
    text = reason[:_MAX_REASON].encode("utf-8", errors="replace")
    header = _DL_HEADER.pack(
        _DL_MAGIC, _DL_VERSION, max(0, min(attempts, 2**32 - 1)), dead_at, len(text)
    )
    return header + text + _as_bytes(value, "value")


def decode_dead_letter(key: int, raw: bytes) -> DeadLetter:
    if len(raw) < _DL_HEADER.size:
        raise JournalError(f"dead letter {key}: too short for its header")
    magic, version, attempts, dead_at, size = _DL_HEADER.unpack_from(raw)
    if magic != _DL_MAGIC or version != _DL_VERSION:
        raise JournalError(f"dead letter {key}: unknown header")
    start = _DL_HEADER.size
    if start + size > len(raw):
        raise JournalError(f"dead letter {key}: reason runs past the end")
    reason = raw[start : start + size].decode("utf-8", errors="replace")
    return DeadLetter(key, raw[start + size :], reason, attempts, dead_at)


class DeadLetterJournal:
    """Messages given up on, kept visible and resubmittable (DESIGN §3.7).

    Wraps any Journal; give it a DiskJournal sibling of the journal it serves so that moving
    a message in and out is one transaction.
    """

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    @property
    def journal(self) -> Journal:
        return self._journal

    def add(
        self,
        value: bytes,
        reason: str,
        attempts: int,
        *,
        now: float | None = None,
        meta: Mapping[str, MetaValue] | None = None,
    ) -> int:
        """Store a dead letter; returns its key."""
        raw = encode_dead_letter(value, reason, attempts, time.time() if now is None else now)
        (key,) = self._journal.append([raw], meta)
        return key

    def peek(self, limit: int = 100, after: int | None = None) -> list[DeadLetter]:
        """Oldest dead letters first (key > after, if given)."""
        return [decode_dead_letter(i.key, i.value) for i in self._journal.peek(limit, after)]

    def get(self, key: int) -> DeadLetter:
        found = self._journal.peek(1, after=key - 1)
        if not found or found[0].key != key:
            raise NotFound(f"no dead letter {key}")
        return decode_dead_letter(key, found[0].value)

    def resubmit(self, key: int) -> bytes:
        """Remove a dead letter and return the original message, for the caller to re-append.

        When two callers race for one key only one gets the bytes; the other gets NotFound.
        """
        letter = self.get(key)
        if self._journal.remove([key]) != 1:
            raise NotFound(f"no dead letter {key}")
        return letter.value

    def delete(self, keys: Iterable[int]) -> int:
        return self._journal.remove(keys)

    def __len__(self) -> int:
        return len(self._journal)


class PoisonGuard:
    """Counts failed attempts per journaled message; after `max_attempts` moves it to dead letters.

    The counts live in one meta value of the watched journal (JSON text, keys still queued
    only), so they survive restarts. With DiskJournal siblings the move is one transaction;
    otherwise the dead letter is written before the message is removed (a crash in between
    leaves a duplicate, never a loss).
    """

    def __init__(
        self,
        journal: Journal,
        dead_letters: DeadLetterJournal,
        *,
        max_attempts: int = 5,
        meta_name: str = "poison_attempts",
    ) -> None:
        if max_attempts < 1:
            raise InvalidArgument("must be at least 1", field="max_attempts")
        self._journal = journal
        self._dead = dead_letters
        self._max = max_attempts
        self._name = meta_name
        self._lock = threading.Lock()

    @property
    def max_attempts(self) -> int:
        return self._max

    def _load(self) -> dict[int, int]:
        text = self._journal.get_meta(self._name, "")
        if not isinstance(text, str) or not text:
            return {}
        return {int(k): int(v) for k, v in json.loads(text).items()}

    def _dump(self, counts: dict[int, int]) -> str:
        # forget keys below the oldest queued one: removed without a word to us
        oldest = self._journal.peek(1)
        floor = oldest[0].key if oldest else None
        kept = {k: v for k, v in sorted(counts.items()) if floor is not None and k >= floor}
        return json.dumps({str(k): v for k, v in kept.items()}, separators=(",", ":"))

    def attempts(self, key: int) -> int:
        """Failed attempts recorded for this key so far."""
        with self._lock:
            return self._load().get(key, 0)

    def failed(self, item: JournalItem, reason: str, *, now: float | None = None) -> bool:
        """Record a failed attempt; True when the message was moved to the dead letters."""
        with self._lock, one_transaction(self._journal, self._dead.journal):
            counts = self._load()
            count = counts.pop(item.key, 0) + 1
            if count >= self._max:
                self._dead.add(item.value, reason, count, now=now)
                self._journal.remove([item.key], {self._name: self._dump(counts)})
                return True
            counts[item.key] = count
            self._journal.set_meta({self._name: self._dump(counts)})
            return False

    def succeeded(self, keys: Iterable[int]) -> None:
        """Forget counts for processed keys (optional: removed keys are pruned anyway)."""
        done = set(keys)
        with self._lock, one_transaction(self._journal):
            counts = self._load()
            if done.isdisjoint(counts):
                return
            for key in done:
                counts.pop(key, None)
            self._journal.set_meta({self._name: self._dump(counts)})


# --- off the event loop ----------------------------------------------------------------------


class AsyncJournal:
    """Runs a Journal's calls on one dedicated thread, so the event loop never waits on disk.

    One thread keeps calls in submission order. `append_one` group-commits: single appends
    made while a commit is in flight go together in the next transaction.
    """

    def __init__(self, journal: Journal, *, max_batch: int = 1000) -> None:
        if max_batch < 1:
            raise InvalidArgument("must be at least 1", field="max_batch")
        from concurrent.futures import ThreadPoolExecutor

        self._journal = journal
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ikasched-journal")
        self._pending: list[tuple[bytes, dict[str, MetaValue], asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0  # transactions made by append_one (to observe group commit)

    @property
    def journal(self) -> Journal:
        return self._journal

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run any call on the journal thread (e.g. DeadLetterJournal or PoisonGuard methods)."""
        import asyncio

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        return await self.run(self._journal.append, list(values), meta)

    async def peek(self, limit: int = 1, after: int | None = None) -> list[JournalItem]:
        return await self.run(self._journal.peek, limit, after)

    async def remove(self, keys: Iterable[int], meta: Mapping[str, MetaValue] | None = None) -> int:
        return await self.run(self._journal.remove, list(keys), meta)

    async def get_meta(self, name: str, default: MetaValue | None = None) -> MetaValue | None:
        return await self.run(self._journal.get_meta, name, default)

    async def set_meta(self, meta: Mapping[str, MetaValue]) -> None:
        await self.run(self._journal.set_meta, dict(meta))

    async def size(self) -> int:
        return await self.run(len, self._journal)

    async def append_one(self, value: bytes, meta: Mapping[str, MetaValue] | None = None) -> int:
        """Append one value (and meta) in a shared transaction; returns its key.

        Keys follow call order. When callers' meta names clash the later caller's value wins.
        A caller cancelled while waiting may still have its value appended.
        """
        # checked here so one bad value cannot fail the others in its batch
        entry = (_as_bytes(value, "value"), _check_meta(meta))
        import asyncio

        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append((*entry, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[bytes, dict[str, MetaValue], asyncio.Future[int]]] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                meta: dict[str, MetaValue] = {}
                for _, m, _ in batch:
                    meta.update(m)
                try:
                    keys = await self.run(self._journal.append, [v for v, _, _ in batch], meta)
                except Exception as exc:
                    _fail(batch, exc)
                else:
                    self.commits += 1
                    for (_, _, future), key in zip(batch, keys, strict=True):
                        if not future.done():
                            future.set_result(key)
                batch = []
        except BaseException as exc:  # cancelled with the loop: nobody may wait forever
            _fail(batch + self._pending, JournalError(f"journal writer stopped: {exc!r}"))
            self._pending.clear()
            raise
        finally:
            self._flusher = None

    async def aclose(self, *, close_journal: bool = True) -> None:
        """Finish queued appends, close the journal on its thread (unless told not to), stop
        the thread."""
        import asyncio

        while self._flusher is not None:
            await asyncio.wait({self._flusher})  # waits without raising its failure here
        if close_journal:
            await self.run(self._journal.close)
        else:
            await self.run(lambda: None)  # everything queued before us has run
        self._executor.shutdown(wait=False)


def _fail(
    batch: Sequence[tuple[bytes, dict[str, MetaValue], asyncio.Future[int]]], exc: BaseException
) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(exc)
