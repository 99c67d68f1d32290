"""The link's `Outbox` Protocol on the dashboard's SQL outbox (one instance per agent).

Rows are inserted by the orchestrator inside its batch transaction (transactional outbox,
docs/architecture.md §4.5); this class only moves them along and deletes them on ack. Acks remove
seq prefixes, so the last acknowledged seq is derived: one below the lowest seq still stored, or
the last assigned seq when none is. Every database call runs on the shared executor, never on
the event loop.

One database round trip per frame: the link session asks `pending` then `assign`; here
`pending` already claims the rows, giving them their link seqs in one committed write
transaction (so seqs are still persisted before the frame is written, docs/architecture.md §4.2),
and `assign` only hands those seqs over from memory. A claimed row the session never takes (it ended
between the two calls) is assigned in the table, so the next session's resume resends it like
any other unacknowledged row; `position`, `assigned_from` and `reset_sequence` (the calls of a
resume) drop the in-memory claims for that reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

from sqlalchemy import Connection, Engine

from ikasched_common.errors import LinkError
from ikasched_common.link.outbox import OutboxPosition, PendingItem, SequencedItem
from ikasched_dashboard.store import messages
from ikasched_dashboard.store import outbox_link as link_store
from ikasched_dashboard.store.db import read_transaction, write_transaction

log = logging.getLogger(__name__)

T = TypeVar("T")
Listener = Callable[[], None]


class SqlOutbox:
    """One agent's outbound direction over the `outbox` table."""

    def __init__(self, engine: Engine, agent_name: str, executor: Executor) -> None:
        self._engine = engine
        self._agent = agent_name
        self._executor = executor
        self._listeners: list[Listener] = []
        self._claimed: list[tuple[int, int, bytes]] = []  # (row id, seq, message), in seq order
        self._generation = 0  # bumped by a resume: claims made before it are void
        self._link_known = False  # the agent_links row exists (created once)
        # rows may have been added since the last claim began (notify, a resume); else the
        # session's next pending() (its drain check, its linger) needs no database call.
        # So rows must be announced: whoever commits outbox rows calls notify() (the
        # orchestrator and add() do; the gateway's reconnect sync lands before the resume).
        self._dirty = True
        self.sent_frames = 0  # metrics: pending() calls that handed rows over

    @property
    def agent_name(self) -> str:
        return self._agent

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _write(self, fn: Callable[[Connection], T]) -> Callable[[], T]:
        def work() -> T:
            with write_transaction(self._engine) as conn:
                return fn(conn)

        return work

    def _read(self, fn: Callable[[Connection], T]) -> Callable[[], T]:
        def work() -> T:
            with read_transaction(self._engine) as conn:
                return fn(conn)

        return work

    async def add(self, values: Sequence[bytes]) -> None:
        """Queue raw DashboardMessage bytes (the orchestrator writes rows in its own batch)."""
        rows = [messages.OutboxMessage(self._agent, bytes(v)) for v in values]
        await self._run(self._write(lambda conn: messages.insert_outbox(conn, rows)))
        if rows:
            self.notify()

    async def pending(self, limit: int) -> list[PendingItem]:
        """The oldest unsent rows, already claimed with their link seqs (see the module doc)."""
        room = limit - len(self._claimed)
        if room > 0 and self._dirty:
            self._dirty = False
            generation = self._generation
            try:
                claimed = await self._run(self._write(lambda conn: self._claim(conn, room)))
            except BaseException:
                self._dirty = True
                raise
            if generation == self._generation:
                self._claimed.extend(claimed)
        if self._claimed:
            self.sent_frames += 1
        return [PendingItem(key, value) for key, _seq, value in self._claimed[:limit]]

    def _claim(self, conn: Connection, limit: int) -> list[link_store.ClaimedRow]:
        if not self._link_known:
            link_store.ensure_link_row(conn, self._agent)
        claimed = link_store.claim_unsent(conn, self._agent, limit)
        self._link_known = True
        return claimed

    async def assign(self, keys: Sequence[int]) -> list[int]:
        wanted = list(keys)
        if not wanted:
            return []
        claimed = self._claimed[: len(wanted)]
        if [key for key, _, _ in claimed] != wanted:
            # the session asked for rows pending() did not give it: its view is stale
            raise LinkError(f"outbox of {self._agent}: unsent rows changed under the sender")
        del self._claimed[: len(wanted)]
        return [seq for _, seq, _ in claimed]

    def _forget_claims(self) -> None:
        self._generation += 1
        self._claimed.clear()
        self._dirty = True

    async def assigned_from(self, after_seq: int, limit: int) -> list[SequencedItem]:
        self._forget_claims()

        def work(conn: Connection) -> list[SequencedItem]:
            rows = messages.outbox_after_seq(conn, self._agent, after_seq, limit)
            return [SequencedItem(int(r.link_seq or 0), r.message) for r in rows]

        return await self._run(self._read(work))

    async def acknowledge(self, up_to_seq: int) -> int:
        return await self._run(
            self._write(lambda conn: messages.ack_outbox(conn, self._agent, up_to_seq))
        )

    def _position(self, conn: Connection) -> OutboxPosition:
        state = messages.link_state(conn, self._agent)
        lowest = link_store.lowest_assigned_seq(conn, self._agent)
        acked = state.last_assigned_seq if lowest is None else lowest - 1
        return OutboxPosition(acked, state.last_assigned_seq)

    async def position(self) -> OutboxPosition:
        self._forget_claims()
        return await self._run(self._read(self._position))

    async def reset_sequence(self, last_seq: int) -> int:
        self._forget_claims()

        def work(conn: Connection) -> int:
            # rows lose their seqs and go back to pending, oldest (lowest id) first as before
            return link_store.reset_link_seqs(conn, self._agent, last_seq)

        return await self._run(self._write(work))

    def listen(self, callback: Listener) -> Callable[[], None]:
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def notify(self) -> None:
        """New rows were committed for this agent: wake its sender (call on the event loop)."""
        self._dirty = True
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:
                log.exception("outbox listener failed")

    async def size(self) -> int:
        return await self._run(self._read(lambda conn: link_store.outbox_size(conn, self._agent)))


class AgentOutboxes:
    """Every agent's SqlOutbox, created on first use.

    Built before the orchestrator and the gateway: the orchestrator wakes senders through
    `notify`, the gateway hands the outboxes to the links.
    """

    def __init__(self, engine: Engine, executor: Executor) -> None:
        self._engine = engine
        self._executor = executor
        self._outboxes: dict[str, SqlOutbox] = {}

    def outbox(self, agent_name: str) -> SqlOutbox:
        found = self._outboxes.get(agent_name)
        if found is None:
            found = SqlOutbox(self._engine, agent_name, self._executor)
            self._outboxes[agent_name] = found
        return found

    def notify(self, agent_names: Iterable[str]) -> None:
        """Rows were committed for these agents: wake the senders of the known outboxes."""
        for name in agent_names:
            box = self._outboxes.get(name)
            if box is not None:
                box.notify()
