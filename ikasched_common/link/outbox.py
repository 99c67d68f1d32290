"""The sender's durable outbox, as the link sees it.

A producer adds serialized messages; the link session takes the oldest *pending* ones (no seq
yet), has the outbox *assign* them consecutive link seqs (persisted before the frame is written,
docs/architecture.md §4.2), sends them, and deletes them when the peer *acknowledges* a seq
cumulatively. After a reconnect the session resends the assigned-but-unacked tail (`assigned_from`).

The Protocol is deliberately narrow so the dashboard can implement it on SQL rows later.
Implementations here: `MemoryOutbox` (tests, volatile) and `JournalOutbox` (agent; any
`Journal`, all journal calls in one worker thread).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ikasched_common.errors import InvalidArgument, LinkError
from ikasched_common.journal import Journal, MetaValue

log = logging.getLogger(__name__)

T = TypeVar("T")

# Meta names inside a journal shared with nothing else of the link (prefix keeps them apart).
META_LAST_ASSIGNED_SEQ = "link.out.last_assigned_seq"
META_LAST_ASSIGNED_KEY = "link.out.last_assigned_key"
META_LAST_ACKED_SEQ = "link.out.last_acked_seq"


@dataclass(frozen=True, slots=True)
class PendingItem:
    """A message in the outbox that has no link seq yet."""

    key: int
    value: bytes


@dataclass(frozen=True, slots=True)
class SequencedItem:
    """A message with its link seq."""

    seq: int
    value: bytes


@dataclass(frozen=True, slots=True)
class OutboxPosition:
    """Where the sequence stands: everything <= last_acked is gone, (last_acked, last_assigned]
    is assigned and waiting for an ack."""

    last_acked_seq: int
    last_assigned_seq: int

    @property
    def unacked(self) -> int:
        return self.last_assigned_seq - self.last_acked_seq


Listener = Callable[[], None]


class Outbox(Protocol):
    """The durable outbox of one direction of one link."""

    async def add(self, values: Sequence[bytes]) -> None:
        """Append messages (pending, in this order)."""
        ...

    async def pending(self, limit: int) -> list[PendingItem]:
        """Up to `limit` oldest messages without a seq, in insert order."""
        ...

    async def assign(self, keys: Sequence[int]) -> list[int]:
        """Give these keys (the oldest pending, in order) the next seqs; durable on return."""
        ...

    async def assigned_from(self, after_seq: int, limit: int) -> list[SequencedItem]:
        """Assigned, unacknowledged messages with seq > after_seq, in seq order (resend)."""
        ...

    async def acknowledge(self, up_to_seq: int) -> int:
        """The peer journaled everything <= up_to_seq: delete it; return how many went."""
        ...

    async def position(self) -> OutboxPosition:
        """Last acknowledged and last assigned seq."""
        ...

    async def reset_sequence(self, last_seq: int) -> int:
        """State-loss recovery: assigned-unacked messages become pending again (ahead of the
        rest) and numbering continues after `last_seq`; returns how many were unassigned."""
        ...

    def listen(self, callback: Listener) -> Callable[[], None]:
        """Call `callback` (on the event loop) when messages were added; returns unsubscribe."""
        ...


class _Listeners:
    def __init__(self) -> None:
        self._callbacks: list[Listener] = []

    def listen(self, callback: Listener) -> Callable[[], None]:
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def fire(self) -> None:
        for callback in list(self._callbacks):
            callback()


def _check_sizes(values: Sequence[bytes], max_message_bytes: int | None) -> None:
    if max_message_bytes is None:
        return
    for value in values:
        if len(value) > max_message_bytes:
            raise InvalidArgument(
                f"message of {len(value)} bytes exceeds the link limit of {max_message_bytes}",
                field="values",
            )


class MemoryOutbox:
    """Volatile outbox: same behaviour as the durable ones, for tests and the bench."""

    def __init__(self, *, max_message_bytes: int | None = None) -> None:
        self._pending: deque[PendingItem] = deque()
        self._assigned: deque[SequencedItem] = deque()
        self._next_key = 1
        self._last_acked = 0
        self._last_assigned = 0
        self._max_message_bytes = max_message_bytes
        self._listeners = _Listeners()

    async def add(self, values: Sequence[bytes]) -> None:
        _check_sizes(values, self._max_message_bytes)
        for value in values:
            self._pending.append(PendingItem(self._next_key, bytes(value)))
            self._next_key += 1
        if values:
            self._listeners.fire()

    async def pending(self, limit: int) -> list[PendingItem]:
        out: list[PendingItem] = []
        for item in self._pending:
            if len(out) >= limit:
                break
            out.append(item)
        return out

    async def assign(self, keys: Sequence[int]) -> list[int]:
        seqs: list[int] = []
        for key in keys:
            if not self._pending or self._pending[0].key != key:
                raise LinkError(f"assign: key {key} is not the oldest pending message")
            item = self._pending.popleft()
            self._last_assigned += 1
            self._assigned.append(SequencedItem(self._last_assigned, item.value))
            seqs.append(self._last_assigned)
        return seqs

    async def assigned_from(self, after_seq: int, limit: int) -> list[SequencedItem]:
        out: list[SequencedItem] = []
        for item in self._assigned:
            if item.seq <= after_seq:
                continue
            out.append(item)
            if len(out) >= limit:
                break
        return out

    async def acknowledge(self, up_to_seq: int) -> int:
        removed = 0
        while self._assigned and self._assigned[0].seq <= up_to_seq:
            self._assigned.popleft()
            removed += 1
        self._last_acked = max(self._last_acked, min(up_to_seq, self._last_assigned))
        return removed

    async def position(self) -> OutboxPosition:
        return OutboxPosition(self._last_acked, self._last_assigned)

    async def reset_sequence(self, last_seq: int) -> int:
        # keys only identify pending items for assign(); fresh ones keep them unique
        back = [
            PendingItem(self._next_key + i, item.value) for i, item in enumerate(self._assigned)
        ]
        self._next_key += len(back)
        self._pending.extendleft(reversed(back))
        self._assigned.clear()
        self._last_acked = self._last_assigned = last_seq
        return len(back)

    def listen(self, callback: Listener) -> Callable[[], None]:
        return self._listeners.listen(callback)

    def __len__(self) -> int:
        return len(self._pending) + len(self._assigned)


class JournalOutbox:
    """Outbox on a `Journal` (the agent's process-event outbox).

    Assigned messages are always a prefix of the journal (seqs go out in key order and acks
    remove prefixes), so the persisted state is three meta values: the last assigned seq and
    journal key, and the last acknowledged seq. Every journal call runs in one worker thread,
    in submission order, so a cancelled caller never leaves a half-seen state behind.
    """

    def __init__(
        self,
        journal: Journal,
        *,
        executor: ThreadPoolExecutor | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self._journal = journal
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="link-outbox")
        self._max_message_bytes = max_message_bytes
        self._listeners = _Listeners()
        self._lock = threading.Lock()
        self._loaded = False
        self._last_acked = 0
        self._last_assigned = 0
        self._last_assigned_key = 0
        # journal keys of the assigned-unacked messages; seq of _assigned_keys[i] is
        # _last_acked + 1 + i
        self._assigned_keys: deque[int] = deque()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _load(self) -> None:
        if self._loaded:
            return
        j = self._journal
        self._last_assigned = int(j.get_meta(META_LAST_ASSIGNED_SEQ, 0) or 0)
        self._last_assigned_key = int(j.get_meta(META_LAST_ASSIGNED_KEY, 0) or 0)
        self._last_acked = int(j.get_meta(META_LAST_ACKED_SEQ, 0) or 0)
        keys: list[int] = []
        after: int | None = None
        while True:
            page = j.peek(1000, after)
            page_keys = [item.key for item in page if item.key <= self._last_assigned_key]
            keys.extend(page_keys)
            if len(page_keys) < len(page) or not page:
                break
            after = page[-1].key
        if len(keys) != self._last_assigned - self._last_acked:
            # Cannot happen with a transactional journal; trust the journal's contents.
            log.error(
                "link outbox bookkeeping disagrees with the journal: %d assigned messages stored,"
                " meta says %d; trusting the journal",
                len(keys),
                self._last_assigned - self._last_acked,
            )
            self._last_acked = self._last_assigned - len(keys)
        self._assigned_keys = deque(keys)
        self._loaded = True

    async def add(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> None:
        """Append messages; `meta` (an extra of this implementation) commits with them."""
        _check_sizes(values, self._max_message_bytes)
        vals = list(values)
        await self._run(lambda: self._journal.append(vals, meta))
        if vals:
            self._listeners.fire()

    async def pending(self, limit: int) -> list[PendingItem]:
        def work() -> list[PendingItem]:
            with self._lock:
                self._load()
                after = self._last_assigned_key
            return [PendingItem(i.key, i.value) for i in self._journal.peek(limit, after)]

        return await self._run(work)

    async def assign(self, keys: Sequence[int]) -> list[int]:
        ks = list(keys)

        def work() -> list[int]:
            with self._lock:
                self._load()
                prev = self._last_assigned_key
                for key in ks:
                    if key <= prev:
                        raise LinkError(f"assign: key {key} is not pending")
                    prev = key
                if not ks:
                    return []
                first = self._last_assigned + 1
                last = self._last_assigned + len(ks)
            self._journal.set_meta({META_LAST_ASSIGNED_SEQ: last, META_LAST_ASSIGNED_KEY: ks[-1]})
            with self._lock:
                self._last_assigned = last
                self._last_assigned_key = ks[-1]
                self._assigned_keys.extend(ks)
            return list(range(first, last + 1))

        return await self._run(work)

    async def assigned_from(self, after_seq: int, limit: int) -> list[SequencedItem]:
        def work() -> list[SequencedItem]:
            with self._lock:
                self._load()
                start = max(after_seq, self._last_acked)
                index = start - self._last_acked
                if index >= len(self._assigned_keys) or limit <= 0:
                    return []
                first_key = self._assigned_keys[index]
                count = min(limit, len(self._assigned_keys) - index)
            items = self._journal.peek(count, first_key - 1)
            return [SequencedItem(start + 1 + i, item.value) for i, item in enumerate(items)]

        return await self._run(work)

    async def acknowledge(self, up_to_seq: int) -> int:
        def work() -> int:
            with self._lock:
                self._load()
                up_to = min(up_to_seq, self._last_assigned)
                if up_to <= self._last_acked:
                    return 0
                count = up_to - self._last_acked
                keys = [self._assigned_keys[i] for i in range(count)]
            removed = self._journal.remove(keys, {META_LAST_ACKED_SEQ: up_to})
            with self._lock:
                for _ in range(count):
                    self._assigned_keys.popleft()
                self._last_acked = up_to
            return removed

        return await self._run(work)

    async def position(self) -> OutboxPosition:
        def work() -> OutboxPosition:
            with self._lock:
                self._load()
                return OutboxPosition(self._last_acked, self._last_assigned)

        return await self._run(work)

    async def reset_sequence(self, last_seq: int) -> int:
        def work() -> int:
            with self._lock:
                self._load()
                count = len(self._assigned_keys)
                # everything up to the first unacked key counts as "assigned" no more
                new_key = self._assigned_keys[0] - 1 if count else self._last_assigned_key
            self._journal.set_meta(
                {
                    META_LAST_ASSIGNED_SEQ: last_seq,
                    META_LAST_ASSIGNED_KEY: new_key,
                    META_LAST_ACKED_SEQ: last_seq,
                }
            )
            with self._lock:
                self._assigned_keys.clear()
                self._last_assigned = self._last_acked = last_seq
                self._last_assigned_key = new_key
            return count

        return await self._run(work)

    def listen(self, callback: Listener) -> Callable[[], None]:
        return self._listeners.listen(callback)

    async def size(self) -> int:
        """Messages stored (pending and assigned)."""
        return await self._run(lambda: len(self._journal))

    def close(self) -> None:
        """Stop the worker thread if this outbox created it (the journal stays open)."""
        if self._own_executor:
            self._executor.shutdown(wait=True)
