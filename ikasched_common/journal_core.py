"""The journal interface (`Journal`, `JournalItem`), its in-memory implementation
(`MemoryJournal`, for unit tests and dry runs) and `AsyncJournal`, which runs any journal's
calls off the event loop. `ikasched_common.journal` re-exports every name.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from ikasched_common.errors import InvalidArgument, JournalError

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
            blobs = [message_bytes(v, "values") for v in values]
            checked = checked_meta(meta)
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
            checked = checked_meta(meta)
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
            self._meta.update(checked_meta(meta))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def close(self) -> None:
        pass


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def message_bytes(value: object, field: str) -> bytes:
    # bytes(5) would quietly be five zero bytes: only byte strings are messages
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise InvalidArgument(
        f"must be bytes (a serialized message), not {type(value).__name__}", field=field
    )


def checked_meta(meta: Mapping[str, MetaValue] | None) -> dict[str, MetaValue]:
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


T = TypeVar("T")


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
        entry = (message_bytes(value, "value"), checked_meta(meta))
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
