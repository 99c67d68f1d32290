"""Durable journals: ordered, crash-safe queues of serialized protobuf messages.

Both sides keep their inbox and outbox as journals (DESIGN.md §3). The interface is small on
purpose: append a batch (plus bookkeeping values) in one transaction, peek the oldest items,
remove by key once processed. Keys are integers that only grow, so "oldest first" is key order.

`DiskJournal` (diskcache, SQLite underneath) is the real one; `MemoryJournal` is the in-memory
stand-in with the same behaviour for fast unit tests. `open_journal` picks by path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

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
            keys = list(range(self._next_key, self._next_key + len(values)))
            self._next_key += len(values)
            self._items.update(zip(keys, (bytes(v) for v in values), strict=True))
            if meta:
                self._meta.update(meta)
            return keys

    def peek(self, limit: int = 1, after: int | None = None) -> list[JournalItem]:
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
            removed = 0
            for key in keys:
                if self._items.pop(key, None) is not None:
                    removed += 1
            if meta:
                self._meta.update(meta)
            return removed

    def get_meta(self, name: str, default: MetaValue | None = None) -> MetaValue | None:
        with self._lock:
            return self._meta.get(name, default)

    def set_meta(self, meta: Mapping[str, MetaValue]) -> None:
        with self._lock:
            self._meta.update(meta)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def close(self) -> None:
        pass
