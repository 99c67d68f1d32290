"""The agent's inbox consumer: dashboard messages in journal order, each processed once.

Peek a batch, process in order, then remove the processed keys together with the registry
records they produced, in one transaction. Processing is idempotent by message id and
initiation id, so a crash before the removal only replays. An initiation is first *held*
(durably), then submitted; its completion event goes into the outbox before the hold is
released. A message that keeps failing is retried a bounded number of times, then moved to
the dead letters; the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Literal

from google.protobuf.message import DecodeError

from ikasched_agent.events import refusal_event
from ikasched_agent.executor import Disposition, Executor
from ikasched_agent.journals import AgentJournals
from ikasched_agent.protocol import DashboardMessage, Initiation
from ikasched_agent.registry import REGISTRY_BODIES, Registry, RegistryChange
from ikasched_agent.trigger_bridge import TriggerBridge
from ikasched_common import clock
from ikasched_common.errors import IkaschedError
from ikasched_common.journal import JournalItem

__all__ = ["BatchOutcome", "InboxConsumer"]

log = logging.getLogger(__name__)

BatchOutcome = Literal["drained", "partial", "failed"]


class InboxConsumer:
    """Processes the inbox until stopped; `wake()` when the receiver journaled something."""

    def __init__(
        self,
        journals: AgentJournals,
        registry: Registry,
        executor: Executor,
        triggers: TriggerBridge,
        *,
        agent_name: str,
        hostname: str,
        batch: int = 256,
        retry_delay: float = 0.2,
    ) -> None:
        self._j = journals
        self._registry = registry
        self._executor = executor
        self._triggers = triggers
        self._agent_name = agent_name
        self._hostname = hostname
        self._batch = batch
        self._retry_delay = retry_delay
        self._wake = asyncio.Event()
        self._stopping = False
        self.processed = 0
        self.dead_lettered = 0

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the message in hand and end the loop (the rest stays for the next start)."""
        self._stopping = True
        self._wake.set()

    async def refuse(self, init: Initiation, reason: str) -> None:
        """Report the initiation as not run (journaled in the outbox before returning)."""
        await self._j.emit(
            refusal_event(
                init,
                reason,
                agent_name=self._agent_name,
                hostname=self._hostname,
                now_ms=clock.now_ms(),
            )
        )

    async def run(self) -> None:
        delay = self._retry_delay
        while not self._stopping:
            self._wake.clear()
            try:
                limit = self._batch
                items = await self._j.aj.peek(limit)
                if not items:
                    await self._wake.wait()
                    continue
                outcome = await self.process_batch(items)
                if outcome == "failed":
                    await asyncio.sleep(delay)
                elif outcome == "drained" and len(items) < limit and not self._wake.is_set():
                    # the peek saw the whole inbox and nothing was journaled since the wake
                    # was cleared: wait for the receiver instead of reading an empty inbox
                    await self._wake.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                # the journal itself failed: nothing was removed, try again later
                log.exception("inbox consumer failed; retrying")
                await asyncio.sleep(delay)

    async def process_batch(self, items: Sequence[JournalItem]) -> BatchOutcome:
        """Process items in order: "drained" when every item was handled, "partial" when the
        rest of the batch is left for the next peek, "failed" when an item failed (it was
        counted or dead-lettered)."""
        done: list[int] = []
        records: list[DashboardMessage] = []
        group: list[tuple[JournalItem, Initiation]] = []
        for item in items:
            if self._stopping:
                break
            try:
                message = DashboardMessage.FromString(item.value)
            except DecodeError as exc:
                await self._flush_initiations(group, done, records)
                await self._commit(done, records)
                reason = f"undecodable message: {exc}"
                await self._j.aj.run(self._j.dead_now, item, reason)
                self.dead_lettered += 1
                log.error("inbox item %d moved to the dead letters: %s", item.key, reason)
                return "partial"
            kind = message.WhichOneof("body")
            if kind == "initiation":
                group.append((item, message.initiation))
                continue
            try:
                await self._flush_initiations(group, done, records)
                await self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("inbox message %s (%s) failed", message.id, kind)
                await self._commit(done, records)
                moved = await self._j.aj.run(self._j.guard.failed, item, f"{kind}: {exc!r}")
                if moved:
                    self.dead_lettered += 1
                    log.error("inbox message %s (%s) moved to the dead letters", message.id, kind)
                    if kind in REGISTRY_BODIES:
                        # the registry took it before the failure; keep disk equal to memory
                        await self._j.aj.run(self._j.registry_log.record, [message])
                return "partial" if moved else "failed"
            done.append(item.key)
            if kind in REGISTRY_BODIES:
                records.append(message)
        stopped = self._stopping
        await self._flush_initiations(group, done, records)
        await self._commit(done, records)
        return "partial" if stopped else "drained"

    async def _commit(self, done: list[int], records: list[DashboardMessage]) -> None:
        if not done:
            return
        keys, recs = list(done), list(records)
        done.clear()
        records.clear()
        await self._j.aj.run(self._j.record_and_take, keys, recs)
        self.processed += len(keys)
        if recs:
            await self._compact_registry()

    async def _compact_registry(self) -> None:
        snapshot = self._registry.snapshot()
        if await self._j.aj.run(self._j.registry_log.needs_compaction, len(snapshot)):
            await self._j.aj.run(self._j.registry_log.compact, snapshot)

    async def _flush_initiations(
        self,
        group: list[tuple[JournalItem, Initiation]],
        done: list[int],
        records: list[DashboardMessage],
    ) -> None:
        """Hold (durably) the acceptable initiations of a run of them, then submit them.

        One transaction holds them, records the registry changes processed before them and
        removes all those items from the inbox: a crash after it leaves them held, and held
        initiations are settled on start before anything new is taken.
        """
        if not group:
            return
        batch = list(group)
        group.clear()
        accepted: list[Initiation] = []
        for _, init in batch:
            refusal = self._registry.check(init)
            if refusal is not None:
                log.warning("initiation %s refused: %s", init.id, refusal.reason)
                # journaled in the outbox before its inbox item goes
                await self.refuse(init, refusal.reason)
            elif init.id not in self._j.held:
                accepted.append(self._registry.prepare(init))
        keys = [*done, *(item.key for item, _ in batch)]
        recs = list(records)
        done.clear()
        records.clear()
        new = await self._j.aj.run(self._j.hold_and_take, accepted, keys, recs)
        self.processed += len(keys)
        if recs:
            await self._compact_registry()
        duplicates: list[str] = []
        for init in new:
            try:
                disposition = await self._executor.submit(init)
            except IkaschedError as exc:
                await self.refuse(init, str(exc))
                continue
            if disposition is Disposition.DUPLICATE:
                # a redelivery of a run already reported: nothing more will come for it
                duplicates.append(init.id)
        if duplicates:
            await self._j.release(duplicates)

    async def _handle(self, message: DashboardMessage) -> None:
        """One non-initiation message."""
        kind = message.WhichOneof("body")
        if kind in REGISTRY_BODIES:
            change = self._registry.apply(message)
            await self._registry_changed(message, change)
        elif kind == "cancel_initiation":
            c = message.cancel_initiation
            if not await self._executor.cancel(c.initiation_id, c.reason):
                log.info(
                    "cancel of %s: not queued here (started, ended or unknown)", c.initiation_id
                )
        elif kind == "kill_job":
            k = message.kill_job
            by = f"killed by {k.user}" if k.user else "killed"
            reason = (
                k.reason if k.reason.startswith(by) else f"{by}: {k.reason}" if k.reason else by
            )
            if not await self._executor.kill(k.initiation_id, destroy=k.destroy, reason=reason):
                log.info("kill of %s: no such live job here", k.initiation_id)
        elif kind == "manual_fire":
            await self._triggers.manual_fire(message)
        else:
            log.warning("inbox message %s has no known body (%s); ignored", message.id, kind)

    async def _registry_changed(self, message: DashboardMessage, change: RegistryChange) -> None:
        if change.kind == "remove_instance" and message.remove_instance.kill_running_jobs:
            iid = message.remove_instance.context_instance_id
            for initiation_id in self._j.held.of_instance(iid):
                await self._executor.kill(
                    initiation_id, destroy=True, reason=f"instance {iid} removed"
                )
        await self._triggers.registry_changed(message, change)
