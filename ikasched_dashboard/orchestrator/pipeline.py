"""The orchestrator's consumer: one task turns everything into batches.

Inbox journal items (agent messages), operator verbs and timer actions are all consumed
here, in batches. Serial order per instance follows from the single consumer; the batch is
the unit of durability:

  peek inbox -> drop ids already processed -> apply each input (and the coordinator / virtual
  re-entries it causes, in memory) -> ONE DB transaction: instance rows, changed job rows, one
  snapshot per touched instance, audit rows, processed ids, coordinator state, outbox rows ->
  remove the batch from the journal -> wake senders, answer verbs, arm timers.

Each input is applied as a step with its own undo: a refused verb (FailedPrecondition, ...) or
a failing agent message leaves nothing behind. A failing agent message stays in the journal
and is retried with the next batch; PoisonGuard moves it to the dead letters after
`max_attempts`.

Pipelining: while batch N commits, batch N+1 is built on top of N's (uncommitted) states; N+1
is committed only after N, and dropped (its work redone) if N fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine

from ikasched.v1 import agent_pb2
from ikasched_common.clock import Clock
from ikasched_common.errors import ResourceExhausted
from ikasched_common.journal import Journal, JournalItem, PoisonGuard
from ikasched_dashboard.gateway import decode_inbox_entry
from ikasched_dashboard.orchestrator.commit import BatchCommitter
from ikasched_dashboard.orchestrator.retries import RetryTimers
from ikasched_dashboard.orchestrator.steps import Batch, Layers, Request, Step
from ikasched_dashboard.store import messages as msg_store
from ikasched_dashboard.store.batches import AlreadyProcessed
from ikasched_dashboard.store.db import read_transaction

log = logging.getLogger(__name__)

T = TypeVar("T")
Notify = Callable[[Sequence[str]], None]
BatchObserver = Callable[[float, int], None]  # (seconds to process + commit, events)
# Applies one agent message; True when it was refused (audited, not recorded as processed).
OnMessage = Callable[[Step, str, agent_pb2.AgentMessage], bool]


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    batch_max: int
    retry_backoff: float  # after a failed commit
    max_message_bytes: int  # the largest outbox message a link frame carries


class Pipeline:
    """Builds, commits and settles batches; see the module doc."""

    def __init__(
        self,
        *,
        engine: Engine,
        inbox: Journal,
        guard: PoisonGuard,
        settings: PipelineSettings,
        db: Executor,
        journal_thread: Executor,
        layers: Layers,
        on_message: OnMessage,
        committer: BatchCommitter,
        timers: RetryTimers,
        notify: Notify,
        clock: Clock,
    ) -> None:
        self._engine = engine
        self._inbox = inbox
        self._guard = guard
        self._settings = settings
        self._db = db
        self._jx = journal_thread
        self._layers = layers
        self._on_message = on_message
        self._committer = committer
        self.commit: Callable[[Batch], None] = committer.commit  # on the DB thread
        self._timers = timers
        self._notify = notify
        self._clock = clock
        self.requests: deque[Request] = deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._done_keys: list[int] = []
        self._verify_ids = True
        self.batches = 0
        self.duplicate_redos = 0  # batches redone after the commit met a processed id
        self.events_processed = 0
        # agent name -> process events refused (committed batches), docs/architecture.md §7.3
        self.events_refused: dict[str, int] = {}
        self.observe: BatchObserver | None = None
        self.commit_listeners: list[Callable[[], None]] = []

    @property
    def inflight(self) -> Batch | None:
        """The batch whose commit is running."""
        return self._layers.inflight

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish queued work, then end `run`."""
        self._stopping = True
        self.wake()

    async def db_call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    async def _jcall(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._jx, fn)

    # ---- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        layers = self._layers
        while True:
            if layers.inflight is None and not self._done_keys:
                await self._wake.wait()
            self._wake.clear()  # before the peek: anything later wakes the next round
            flying = layers.inflight
            # pipelining: while batch N commits, build N+1 on top of N's (uncommitted) states;
            # N+1 is committed only after N, and dropped (its work redone) if N fails
            after: int | None = None
            if flying is not None:
                if not flying.pipelinable:
                    await self._settle()
                    continue
                after = flying.last_key
            items = await self._jcall(lambda a=after: self._take(a))  # type: ignore[misc]
            reqs: list[Request] = []
            while self.requests and len(reqs) < self._settings.batch_max:
                reqs.append(self.requests.popleft())
            if not items and not reqs:
                if flying is not None:
                    assert flying.commit is not None
                    if not flying.commit.done():
                        # whichever first: N's commit, or new work to build on top of N
                        woken = asyncio.ensure_future(self._wake.wait())
                        either: list[asyncio.Future[Any]] = [flying.commit, woken]
                        await asyncio.wait(either, return_when="FIRST_COMPLETED")
                        woken.cancel()
                        if not flying.commit.done():
                            continue
                    await self._settle()
                    continue
                if self._stopping:
                    await self._jcall(lambda: self._take(None))  # the last batch's removals
                    return
                continue
            began = time.perf_counter()
            try:
                batch = await self._build(items, reqs)
            except Exception:  # only the dedupe read can fail here
                log.exception("orchestrator batch could not be built")
                self.requests.extendleft(reversed(reqs))
                await asyncio.sleep(self._settings.retry_backoff)
                continue
            finally:
                layers.building = Batch()
            batch.began = began
            batch.reqs = reqs
            if layers.inflight is not None:
                if not await self._settle(batch):
                    continue  # N failed: N+1 was built on states that never were
                # let the senders woken by N queue their outbox claims before N+1's commit
                await asyncio.sleep(0)
            batch.commit = asyncio.get_running_loop().run_in_executor(
                self._db,
                lambda b=batch: self.commit(b),  # type: ignore[misc]
            )
            layers.inflight = batch

    def _discard(self, *batches: Batch | None) -> None:
        """Put the unanswered requests of dropped batches back in front, in their order."""
        again = [
            r
            for b in batches
            if b is not None
            for r in b.reqs
            if r.future is None or not r.future.done()
        ]
        self.requests.extendleft(reversed(again))

    async def _settle(self, built: Batch | None = None) -> bool:
        """Wait for the in-flight batch's commit and apply its outcome; True if committed.
        `built`: the batch built on top of it, dropped (its requests redone) if it failed."""
        layers = self._layers
        batch = layers.inflight
        assert batch is not None and batch.commit is not None
        try:
            await batch.commit
        except AlreadyProcessed:
            # rolled back: redo the same work with the processed-ids check
            layers.inflight = None
            self._verify_ids = True
            self.duplicate_redos += 1
            self._committer.drop_cache()
            self._discard(batch, built)
            self._wake.set()  # redo at once
            return False
        except Exception as exc:  # the commit failed: nothing was applied
            layers.inflight = None
            log.exception("orchestrator batch failed")
            self._committer.drop_cache()  # may hold rows of the rolled-back batch
            for req in batch.reqs:
                if req.future is not None and not req.future.done():
                    req.future.set_exception(exc)
            self._discard(built)
            await asyncio.sleep(self._settings.retry_backoff)
            self._wake.set()  # its journal items are still there: retry them
            return False
        layers.inflight = None
        self._after_commit(batch)
        self.batches += 1
        self.events_processed += len(batch.processed)
        for agent in batch.refused:
            self.events_refused[agent] = self.events_refused.get(agent, 0) + 1
        if self.observe is not None:
            self.observe(time.perf_counter() - batch.began, len(batch.processed))
        for listener in self.commit_listeners:
            listener()
        self._done_keys = batch.done_keys
        for future, refusal in batch.refusals:
            if not future.done():
                future.set_exception(refusal)
        if batch.poison:
            self._wake.set()  # a failed item is retried with the next batch, now
        for item, reason in batch.poison:
            moved = await self._jcall(lambda i=item, r=reason: self._guard.failed(i, r))  # type: ignore[misc]
            if moved:
                log.error("inbox item %d moved to the dead letters: %s", item.key, reason)
        return True

    def _after_commit(self, batch: Batch) -> None:
        layers = self._layers
        for iid, live in batch.lives.items():
            if iid in batch.forget or iid in batch.ended:
                layers.committed.pop(iid, None)
                self._committer.forget(iid)
                self._timers.cancel_instance(iid)
            else:
                layers.committed[iid] = live
        if batch.coord is not None:
            layers.coord = batch.coord
        now = self._clock.now_ms()
        for retry in batch.retries:
            if retry.instance_id in layers.committed:
                self._timers.arm(retry, now)
        agents = sorted({m.agent_name for m in batch.outbox})
        if agents:
            self._notify(agents)
        for future, result in batch.answers:
            if not future.done():
                future.set_result(result)

    def _take(self, after: int | None) -> list[JournalItem]:
        """Journal thread: remove what the last commit covered, then peek the next batch
        (one hop instead of two; a crash before the removal only replays processed ids).
        `after`: the in-flight batch's last key (its items are still in the journal)."""
        if self._done_keys:
            self._inbox.remove(self._done_keys)
            self._done_keys = []
        return self._inbox.peek(self._settings.batch_max, after)

    # ---- building ----------------------------------------------------------------------------
    async def _build(self, items: list[JournalItem], reqs: list[Request]) -> Batch:
        """Apply a batch's inputs in memory (nothing is answered or written yet)."""
        layers = self._layers
        batch = layers.building = Batch()
        if items:
            batch.last_key = items[-1].key
        decoded: list[tuple[JournalItem, str, agent_pb2.AgentMessage]] = []
        poison = batch.poison
        for item in items:
            try:
                agent, raw = decode_inbox_entry(item.value)
                decoded.append((item, agent, agent_pb2.AgentMessage.FromString(raw)))
            except Exception as exc:
                poison.append((item, f"undecodable: {exc!r}"))
        ids = [m.id for _, _, m in decoded]
        seen: set[str] = set()
        flying = layers.inflight
        if flying is not None:
            seen.update(i for i in ids if i in flying.processed_set)
        # Optimistic dedupe: only while replays are likely (after start, after a duplicate)
        # is the DB asked first; otherwise the commit's insert of processed ids detects a
        # duplicate and the batch is redone with the check (AlreadyProcessed).
        checked = bool(ids) and self._verify_ids
        if checked:

            def already() -> frozenset[str]:
                with read_transaction(self._engine) as conn:
                    return msg_store.processed_among(conn, ids)

            seen.update(await self.db_call(already))
            layers.building = batch
            self._verify_ids = bool(seen)
        for item, agent, message in decoded:
            if message.id in seen:
                batch.done_keys.append(item.key)  # a replay: changes nothing
                continue
            try:
                refused = self._run_step(batch, self._message_step(agent, message))
            except Exception as exc:
                log.warning("agent message %s from %s failed: %r", message.id, agent, exc)
                poison.append((item, repr(exc)))
                continue
            if refused:
                # its id is not claimed: a forged id must not shadow the genuine message
                batch.refused.append(agent)
                batch.done_keys.append(item.key)
                continue
            seen.add(message.id)
            batch.processed.append(message.id)
            batch.done_keys.append(item.key)
        batch.processed_set = frozenset(batch.processed)
        for req in reqs:
            try:
                result = self._run_step(batch, req.run)
            except Exception as exc:
                if req.future is not None:
                    batch.refusals.append((req.future, exc))  # answered once N is settled
                continue
            if req.future is not None:
                batch.answers.append((req.future, result))
        # a failed item stays in the journal: the next batch must start from the oldest key
        batch.pipelinable = not poison
        return batch

    def _message_step(self, agent: str, message: agent_pb2.AgentMessage) -> Callable[[Step], bool]:
        return lambda step: self._on_message(step, agent, message)

    def _run_step(self, batch: Batch, fn: Callable[[Step], T]) -> T:
        step = Step()
        self._layers.building = batch
        result = fn(step)
        limit = self._settings.max_message_bytes
        for row in step.outbox:
            if len(row.message) > limit:
                # never queued: a message no frame carries would wedge the agent's link
                raise ResourceExhausted(
                    f"{row.type_name or 'message'} {row.message_id} for agent"
                    f" {row.agent_name} is {len(row.message)} bytes; a link message carries"
                    f" at most {limit}"
                )
        batch.merge(step)
        return result
