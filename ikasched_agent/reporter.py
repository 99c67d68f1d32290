"""Hands the executor's process events to the agent, in order and in batches.

A completion is passed to `emit` (or `emit_many`), which must have made it durable
(journaled) when it returns; only then is the run's `reported` marker written. A crash in
between reports the run again with the same event id, which the dashboard absorbs. An emit
that fails is retried until it is taken: the outbox is the agent's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ikasched_agent import runs
from ikasched_agent.process import Run
from ikasched_agent.protocol import Emit, EmitMany, ProcessEventMessage
from ikasched_agent.runs import RunPaths

__all__ = ["REPORT_BATCH", "Reporter"]

log = logging.getLogger(__name__)

#: Most events handed to emit before their `reported` markers are written together.
REPORT_BATCH = 256


class Reporter:
    """The executor's outgoing events: queued here, emitted by one background task.

    `report(event, finished)` queues an event; `finished` is the run it completes (None for a
    starting event). After a batch is taken and marked, `on_reported(runs)` gets its
    completed runs and `on_batch_done()` is called."""

    def __init__(
        self,
        emit: Emit,
        emit_many: EmitMany | None,
        *,
        on_reported: Callable[[list[Run]], None],
    ) -> None:
        self._emit = emit
        self._emit_many = emit_many
        self._on_reported = on_reported
        self._outbox: asyncio.Queue[tuple[ProcessEventMessage, Run | None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.pending = 0  # queued or being emitted

    def report(self, event: ProcessEventMessage, finished: Run | None) -> None:
        self.pending += 1
        self._outbox.put_nowait((event, finished))

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def aclose(self) -> None:
        """Wait until everything queued was emitted, then stop."""
        if self._task is None:
            return
        while self.pending:
            await asyncio.sleep(0.005)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < REPORT_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            if self._emit_many is not None:
                await self._emit_until_taken([event for event, _ in batch])
            else:
                for event, _ in batch:
                    await self._emit_until_taken(event)
            # Only after emit returned: a crash before the markers re-reports (same event id).
            done = [run for _, run in batch if run is not None]
            to_mark = [run.paths for run in done if run.on_disk]
            if to_mark:
                # File creation stalls under I/O load: keep it off the event loop, one hop a batch.
                await asyncio.to_thread(_mark_all_reported, to_mark)
            self.pending -= len(batch)
            self._on_reported(done)

    async def _emit_until_taken(
        self, event: ProcessEventMessage | list[ProcessEventMessage]
    ) -> None:
        delay = 0.05
        while True:
            try:
                if isinstance(event, list):
                    assert self._emit_many is not None
                    await self._emit_many(event)
                else:
                    await self._emit(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # The outbox is the agent's; keep the event until it takes it.
                first = event[0] if isinstance(event, list) else event
                log.exception("emit of %s failed; retrying in %.2f s", first.id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _mark_all_reported(paths: list[RunPaths]) -> None:
    for p in paths:
        runs.mark_reported(p)
