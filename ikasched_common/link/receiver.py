"""The receiving half of one link direction: journal before ack (docs/architecture.md §4.1, §4.2).

`offer()` takes a batch of (seq, bytes) straight from a frame: seqs at or below the highest
seq already accepted are resend duplicates and are dropped; a gap is a protocol error. New
messages are appended to the journal together with the new "last journaled seq" meta in ONE
`Journal.append(values, meta)` call, in a worker thread; batches that arrive while a commit
runs are committed together next (group commit). Only then does `journaled_seq` advance and
listeners (the session's ack writer, consumers) hear about it. Nothing is acked from memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from ikasched_common.errors import JournalError, LinkError, LinkOversize, LinkViolation
from ikasched_common.journal import Journal

log = logging.getLogger(__name__)

META_LAST_JOURNALED_SEQ = "link.in.last_journaled_seq"

JournaledListener = Callable[[int], None]
ErrorListener = Callable[[BaseException], None]


class Receiver:
    """Journals one direction's sequenced messages; shared by every connection of a peer."""

    def __init__(
        self,
        journal: Journal,
        *,
        executor: ThreadPoolExecutor | None = None,
        max_buffered: int = 100_000,
    ) -> None:
        self._journal = journal
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="link-inbox")
        self._max_buffered = max_buffered
        self._journaled = 0
        self._accepted = 0  # highest seq accepted into the buffer (>= _journaled)
        self._loaded = False
        self._buffer: list[bytes] = []
        self._commit_task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._journaled_listeners: list[JournaledListener] = []
        self._error_listeners: list[ErrorListener] = []

    @property
    def journaled_seq(self) -> int:
        """Highest seq durably journaled."""
        return self._journaled

    @property
    def journal(self) -> Journal:
        return self._journal

    async def open(self) -> int:
        """Load the last journaled seq (off the event loop); returns it."""
        if not self._loaded:
            loop = asyncio.get_running_loop()
            value = await loop.run_in_executor(
                self._executor, lambda: self._journal.get_meta(META_LAST_JOURNALED_SEQ, 0)
            )
            if not self._loaded:
                self._journaled = self._accepted = int(value or 0)
                self._loaded = True
        return self._journaled

    def offer(self, items: Sequence[tuple[int, bytes]]) -> int:
        """Accept a batch in seq order; returns how many were new. Raises LinkError on a gap."""
        if not self._loaded:
            raise LinkError("receiver not opened")
        new: list[bytes] = []
        expected = self._accepted + 1
        for seq, value in items:
            if seq < expected:
                continue  # a resend of something already accepted
            if seq != expected:
                raise LinkViolation(
                    f"batch.messages.seq: a gap in link seqs, expected {expected}, got {seq}"
                )
            new.append(value)
            expected += 1
        if not new:
            return 0
        if len(self._buffer) + len(new) > self._max_buffered:
            raise LinkOversize(
                f"batch.messages: {len(self._buffer) + len(new)} messages awaiting the journal,"
                f" more than {self._max_buffered}: the peer ignores the window"
            )
        self._buffer.extend(new)
        self._accepted = expected - 1
        if self._commit_task is None:
            self._idle.clear()
            self._commit_task = asyncio.get_running_loop().create_task(self._commit_loop())
        return len(new)

    async def flush(self) -> int:
        """Wait until everything accepted is journaled (or dropped by a journal failure)."""
        await self._idle.wait()
        return self._journaled

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._buffer:
                values, self._buffer = self._buffer, []
                up_to = self._accepted
                meta = {META_LAST_JOURNALED_SEQ: up_to}
                try:
                    await loop.run_in_executor(
                        self._executor,
                        lambda v=values, m=meta: self._journal.append(v, m),  # type: ignore[misc]
                    )
                except Exception as exc:
                    # Nothing past the old mark is durable: forget it, the peer resends it.
                    log.exception("link inbox journal append failed")
                    self._buffer = []
                    self._accepted = self._journaled
                    error = JournalError(f"inbox journal append failed: {exc}")
                    for listener in list(self._error_listeners):
                        listener(error)
                    return
                self._journaled = up_to
                for callback in list(self._journaled_listeners):
                    try:
                        callback(up_to)
                    except Exception:
                        log.exception("link journaled-listener failed")
        finally:
            self._commit_task = None
            self._idle.set()

    def listen(self, callback: JournaledListener) -> Callable[[], None]:
        """Call `callback(last_journaled_seq)` after each commit; returns unsubscribe."""
        self._journaled_listeners.append(callback)
        return lambda: _discard(self._journaled_listeners, callback)

    def listen_errors(self, callback: ErrorListener) -> Callable[[], None]:
        """Call `callback(error)` when a commit fails; returns unsubscribe."""
        self._error_listeners.append(callback)
        return lambda: _discard(self._error_listeners, callback)

    def close(self) -> None:
        """Stop the worker thread if this receiver created it (the journal stays open)."""
        if self._own_executor:
            self._executor.shutdown(wait=True)


def _discard(items: list[JournaledListener] | list[ErrorListener], item: object) -> None:
    if item in items:
        items.remove(item)  # type: ignore[arg-type]
