"""Dead letters: `DeadLetterJournal` keeps messages given up on (with reason and attempts),
`PoisonGuard` moves a message there after N failed attempts."""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ikasched_common.errors import InvalidArgument, JournalError, NotFound
from ikasched_common.journal_core import (
    Journal,
    JournalItem,
    MetaValue,
    message_bytes,
)
from ikasched_common.journal_disk import one_transaction

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
    return header + text + message_bytes(value, "value")


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
    """Messages given up on, kept visible and resubmittable (docs/architecture.md §4.7).

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
