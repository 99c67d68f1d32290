"""The agent's journals, opened together: the inbox store and its siblings, and the outbox.

Layout (under the agent's data directory):
  journal/  one diskcache store with sibling journals: "inbox" (the link receiver journals
            every dashboard message there before acking it), "held" (accepted initiations
            without a reported completion), "registry" (provisioning/instance log), "dead"
            (poison messages);
  outbox/   the process-event outbox (agent -> dashboard), kept until the dashboard acks.

Writes that must be atomic across journals (hold initiations + record registry changes +
remove inbox items) are transactions here; `emit` journals process events in the outbox and
releases the initiations they complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from google.protobuf.message import DecodeError

from ikasched.v1 import agent_pb2
from ikasched_agent.protocol import AgentAlert, DashboardMessage, Initiation, ProcessEventMessage
from ikasched_agent.registry import HeldInitiations, RegistryLog
from ikasched_common import clock
from ikasched_common.journal import (
    AsyncJournal,
    DeadLetterJournal,
    DiskJournal,
    Durability,
    Journal,
    JournalItem,
    MetaValue,
    PoisonGuard,
    one_transaction,
)
from ikasched_common.link import JournalOutbox, Receiver
from ikasched_common.secrets import SecretBox, seal_secret_parameters

__all__ = ["META_INSTANCE_ID", "AgentJournals", "SealingInbox"]

log = logging.getLogger(__name__)

META_INSTANCE_ID = "agent.instance_id"


# `secret = true` on a parameter (field 4 of ContextParameter and ContextParameterInstance, a
# varint 1) is encoded as these two bytes; a message without them holds no secret to seal.
_SECRET_TRUE = bytes([4 << 3, 1])


class SealingInbox:
    """The inbox journal as the link receiver writes it: each DashboardMessage's secret
    parameter values (the dashboard marks them secret when it opens them for this agent) are
    sealed with the agent's key before they touch the disk (docs/architecture.md §7.5). The
    registry log, held initiations and dead letters are copies of inbox items, so they hold
    the sealed form too; the executor opens the values only to start the process."""

    def __init__(self, inner: Journal, box: SecretBox) -> None:
        self._inner = inner
        self._box = box

    def _sealed(self, value: bytes) -> bytes:
        if _SECRET_TRUE not in value:  # no parameter marked secret can be in there
            return value
        try:
            message = DashboardMessage.FromString(value)
        except DecodeError:
            return value  # the consumer dead-letters it; there is nothing to seal in it
        if not seal_secret_parameters(message, self._box):
            return value
        return message.SerializeToString()

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        return self._inner.append([self._sealed(v) for v in values], meta)

    def peek(self, limit: int = 1, after: int | None = None) -> list[JournalItem]:
        return self._inner.peek(limit, after)

    def remove(self, keys: Iterable[int], meta: Mapping[str, MetaValue] | None = None) -> int:
        return self._inner.remove(keys, meta)

    def get_meta(self, name: str, default: MetaValue | None = None) -> MetaValue | None:
        return self._inner.get_meta(name, default)

    def set_meta(self, meta: Mapping[str, MetaValue]) -> None:
        self._inner.set_meta(meta)

    def __len__(self) -> int:
        return len(self._inner)

    def close(self) -> None:
        self._inner.close()


class AgentJournals:
    """The opened journals and the records kept on them."""

    def __init__(
        self,
        store: DiskJournal,
        outbox_journal: DiskJournal,
        *,
        max_poison_attempts: int = 5,
        box: SecretBox | None = None,
    ) -> None:
        self.store = store  # the inbox
        self.held_journal = store.sibling("held")
        self.registry_journal = store.sibling("registry")
        self.dead_journal = store.sibling("dead")
        self.outbox_journal = outbox_journal
        self.aj = AsyncJournal(store)
        self.held = HeldInitiations(self.held_journal)
        self.registry_log = RegistryLog(self.registry_journal)
        self.dead_letters = DeadLetterJournal(self.dead_journal)
        self.guard = PoisonGuard(store, self.dead_letters, max_attempts=max_poison_attempts)
        self.outbox = JournalOutbox(outbox_journal)
        # what the link journals has its secret values sealed with the agent's key first
        self.receiver = Receiver(store if box is None else SealingInbox(store, box))

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        durability: Durability,
        *,
        max_poison_attempts: int,
        box: SecretBox | None = None,
    ) -> AgentJournals:
        """Open (or create) the journals of `data_dir`, off the event loop."""
        store = await asyncio.to_thread(
            DiskJournal, data_dir / "journal", durability=durability, prefix="inbox"
        )
        outbox_journal = await asyncio.to_thread(
            DiskJournal, data_dir / "outbox", durability=durability, prefix="outbox"
        )
        return cls(store, outbox_journal, max_poison_attempts=max_poison_attempts, box=box)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.outbox.close)
        await asyncio.to_thread(self.receiver.close)
        await self.aj.aclose(close_journal=False)
        await asyncio.to_thread(self.outbox_journal.close)
        await asyncio.to_thread(self.store.close)

    def instance_id(self) -> str:
        """This agent installation's id, made once and kept in the store's metadata."""
        value = self.store.get_meta(META_INSTANCE_ID)
        if isinstance(value, str) and value:
            return value
        new = uuid.uuid4().hex
        self.store.set_meta({META_INSTANCE_ID: new})
        return new

    # ---- the outbox --------------------------------------------------------------------
    async def emit(self, event: ProcessEventMessage) -> None:
        """Journal a process event in the outbox; release its initiation once complete."""
        message = agent_pb2.AgentMessage(
            id=event.id or uuid.uuid4().hex, created_time=clock.now_ms(), process_event=event
        )
        await self.outbox.add([message.SerializeToString()])
        if not event.job_starting and event.initiation_id and event.initiation_id in self.held:
            await self.aj.run(self.held.release, [event.initiation_id])

    async def emit_many(self, events: Sequence[ProcessEventMessage]) -> None:
        """Journal the executor's batch of process events in one outbox transaction, then
        release the initiations they complete."""
        now = clock.now_ms()
        await self.outbox.add(
            [
                agent_pb2.AgentMessage(
                    id=e.id or uuid.uuid4().hex, created_time=now, process_event=e
                ).SerializeToString()
                for e in events
            ]
        )
        done = [
            e.initiation_id
            for e in events
            if not e.job_starting and e.initiation_id and e.initiation_id in self.held
        ]
        if done:
            await self.aj.run(self.held.release, done)

    async def send_alert(self, alert: AgentAlert) -> None:
        """Journal an operator alert in the outbox."""
        message = agent_pb2.AgentMessage(
            id=uuid.uuid4().hex, created_time=clock.now_ms(), alert=alert
        )
        await self.outbox.add([message.SerializeToString()])

    async def release(self, initiation_ids: Iterable[str]) -> None:
        """Drop initiations from the held journal (nothing more will come for them)."""
        await self.aj.run(self.held.release, list(initiation_ids))

    # ---- inbox transactions (on the journal thread) ------------------------------------
    def hold_and_take(
        self, accepted: list[Initiation], keys: list[int], recs: list[DashboardMessage]
    ) -> list[Initiation]:
        """Hold `accepted`, record `recs`, remove `keys` from the inbox, in one transaction;
        returns the newly held initiations."""
        new: list[Initiation] = []
        try:
            with one_transaction(self.store, self.held_journal, self.registry_journal):
                self.registry_log.record(recs)
                if accepted:
                    new = self.held.add(accepted)
                self.store.remove(keys)
        except BaseException:
            # rolled back: the held index in memory must not claim what the disk lost, or
            # the replay would skip these initiations
            if new:
                with contextlib.suppress(Exception):
                    self.held.release(i.id for i in new)
            raise
        return new

    def record_and_take(self, keys: list[int], recs: list[DashboardMessage]) -> None:
        """Record registry changes and remove their inbox items, in one transaction."""
        with one_transaction(self.store, self.registry_journal):
            self.registry_log.record(recs)
            self.store.remove(keys)

    def dead_now(self, item: JournalItem, reason: str) -> None:
        """Move an inbox item to the dead letters at once (it cannot even be decoded)."""
        with one_transaction(self.store, self.dead_journal):
            self.dead_letters.add(item.value, reason, 1)
            self.store.remove([item.key])
