"""Message bookkeeping: processed inbound ids, the transactional outbox, per-agent link state.

Outbox rows are inserted in the transaction of the state change that raised them; they get
a link seq only when first sent (`assign_link_seqs`), and the caller commits that assignment
before sending (docs/architecture.md §4.2): PostgreSQL commits inserts out of id order, so a seq
given at insert time could let a cumulative ack cover a row that was never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from ikasched_common.errors import IkaschedError
from ikasched_dashboard.store._sql import chunks, executemany, insert_ignoring_duplicates
from ikasched_dashboard.store.schema import agent_links, outbox, processed_messages

# ---- processed inbound message ids (idempotent processing, docs/architecture.md §4.4)


def record_processed(conn: Connection, message_ids: Sequence[str], now: int) -> int:
    """Remember ids as processed (ids seen before are ignored); returns how many were new."""
    unique = list(dict.fromkeys(message_ids))
    return insert_ignoring_duplicates(
        conn, processed_messages, [{"id": i, "processed_time": now} for i in unique]
    )


def processed_among(conn: Connection, message_ids: Sequence[str]) -> frozenset[str]:
    """The subset of ids already processed."""
    found: set[str] = set()
    for part in chunks(list(dict.fromkeys(message_ids))):
        rows = conn.execute(
            select(processed_messages.c.id).where(processed_messages.c.id.in_(part))
        )
        found.update(rows.scalars())
    return frozenset(found)


def prune_processed(conn: Connection, older_than: int) -> int:
    """Forget ids processed before `older_than` (epoch ms); returns how many.

    Safe once no sender can still redeliver them: keep them longer than any journal retention.
    """
    result = conn.execute(
        delete(processed_messages).where(processed_messages.c.processed_time < older_than)
    )
    return max(result.rowcount, 0)


# ---- outbox


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to queue for an agent."""

    agent_name: str
    message: bytes
    message_id: str = ""
    type_name: str = ""
    instance_id: str | None = None
    created_time: int = 0


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    agent_name: str
    message_id: str
    type_name: str
    message: bytes
    created_time: int
    link_seq: int | None
    instance_id: str | None


@dataclass(frozen=True, slots=True)
class OutboxStats:
    agent_name: str
    size: int
    oldest_created_time: int


@dataclass(frozen=True, slots=True)
class LinkState:
    agent_name: str
    # Highest seq given to an outbox row for this agent.
    last_assigned_seq: int
    # Highest seq of the agent's own messages journaled by the dashboard.
    last_journaled_inbound_seq: int


_OUTBOX_COLUMNS = (
    "agent_name",
    "message",
    "message_id",
    "type_name",
    "instance_id",
    "created_time",
    "link_seq",
)


def insert_outbox(conn: Connection, messages: Sequence[OutboxMessage]) -> None:
    """Queue messages (one executemany); row ids follow input order."""
    if not messages:
        return
    rows = [
        {
            "agent_name": m.agent_name,
            "message": m.message,
            "message_id": m.message_id,
            "type_name": m.type_name,
            "instance_id": m.instance_id,
            "created_time": m.created_time,
            "link_seq": None,
        }
        for m in messages
    ]
    executemany(conn, "insert_outbox", outbox.insert, rows, columns=_OUTBOX_COLUMNS)


#: Message ids of reconnect syncs (provisioning and SyncInstances parts) start with this.
SYNC_MESSAGE_PREFIX = "sync:"
#: The type name of a sync row whose content a newer sync replaced.
SUPERSEDED = "superseded"


def supersede_syncs(conn: Connection, agent_name: str, placeholder: Callable[[str], bytes]) -> int:
    """A newer reconnect sync replaces the agent's older ones (docs/architecture.md §4.11):
    their rows not sent yet are deleted; rows already given a link seq stay (the link resends
    them in order) but their content becomes `placeholder(message_id)`, a message without a
    body, so unacknowledged syncs cannot pile up their size. Returns the rows changed."""
    mine = (
        outbox.c.agent_name == agent_name,
        outbox.c.message_id.startswith(SYNC_MESSAGE_PREFIX, autoescape=True),
    )
    deleted = conn.execute(delete(outbox).where(*mine, outbox.c.link_seq.is_(None))).rowcount
    sent = conn.execute(
        select(outbox.c.id, outbox.c.message_id).where(
            *mine, outbox.c.link_seq.is_not(None), outbox.c.type_name != SUPERSEDED
        )
    ).all()
    for row_id, message_id in sent:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id)
            .values(message=placeholder(str(message_id)), type_name=SUPERSEDED)
        )
    return max(deleted, 0) + len(sent)


def _ensure_link(conn: Connection, agent_name: str) -> None:
    insert_ignoring_duplicates(conn, agent_links, [{"agent_name": agent_name}])


def assign_link_seqs(conn: Connection, agent_name: str, limit: int = 500) -> list[OutboxRow]:
    """Give the oldest unsent rows of an agent the next link seqs and return them in seq order.

    Commit before sending them. The link row is locked (FOR UPDATE on PostgreSQL; SQLite's
    write lock), so concurrent callers for one agent never hand out the same seq.
    """
    _ensure_link(conn, agent_name)
    last = conn.execute(
        select(agent_links.c.last_assigned_seq)
        .where(agent_links.c.agent_name == agent_name)
        .with_for_update()
    ).scalar_one()
    unsent = conn.execute(
        select(outbox)
        .where(outbox.c.agent_name == agent_name, outbox.c.link_seq.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()
    if not unsent:
        return []
    assigned = [_row(r._mapping, seq=last + n) for n, r in enumerate(unsent, start=1)]
    result = conn.execute(
        update(outbox)
        .where(outbox.c.id == bindparam("b_id"), outbox.c.link_seq.is_(None))
        .values(link_seq=bindparam("b_seq")),
        [{"b_id": row.id, "b_seq": row.link_seq} for row in assigned],
    )
    if 0 <= result.rowcount < len(assigned):
        # Only possible if the link lock was bypassed; never hand out a seq twice.
        raise IkaschedError(f"outbox rows for {agent_name} were assigned concurrently")
    conn.execute(
        update(agent_links)
        .where(agent_links.c.agent_name == agent_name)
        .values(last_assigned_seq=last + len(assigned))
    )
    return assigned


def outbox_after_seq(
    conn: Connection, agent_name: str, after_seq: int, limit: int = 500
) -> list[OutboxRow]:
    """Rows already assigned a seq above `after_seq`, in seq order (resend after reconnect)."""
    rows = conn.execute(
        select(outbox)
        .where(outbox.c.agent_name == agent_name, outbox.c.link_seq > after_seq)
        .order_by(outbox.c.link_seq)
        .limit(limit)
    )
    return [_row(r._mapping) for r in rows]


def ack_outbox(conn: Connection, agent_name: str, up_to_seq: int) -> int:
    """Delete the agent's rows acknowledged by a cumulative ack; returns how many."""
    result = conn.execute(
        delete(outbox).where(outbox.c.agent_name == agent_name, outbox.c.link_seq <= up_to_seq)
    )
    return max(result.rowcount, 0)


def peek_outbox(conn: Connection, agent_name: str = "", limit: int = 100) -> list[OutboxRow]:
    """Oldest queued rows (of one agent, or all), for the queue service."""
    stmt = select(outbox).order_by(outbox.c.id).limit(limit)
    if agent_name:
        stmt = stmt.where(outbox.c.agent_name == agent_name)
    return [_row(r._mapping) for r in conn.execute(stmt)]


def outbox_stats(conn: Connection) -> dict[str, OutboxStats]:
    """Per agent: rows waiting for an ack and the oldest one's creation time."""
    rows = conn.execute(
        select(outbox.c.agent_name, func.count(), func.min(outbox.c.created_time)).group_by(
            outbox.c.agent_name
        )
    )
    return {
        name: OutboxStats(agent_name=name, size=int(size), oldest_created_time=int(oldest))
        for name, size, oldest in rows
    }


def link_state(conn: Connection, agent_name: str) -> LinkState:
    """The agent's link state (zeros for an agent never linked)."""
    row = conn.execute(select(agent_links).where(agent_links.c.agent_name == agent_name)).first()
    if row is None:
        return LinkState(agent_name, 0, 0)
    return LinkState(agent_name, int(row.last_assigned_seq), int(row.last_journaled_inbound_seq))


def set_inbound_seq(conn: Connection, agent_name: str, seq: int) -> None:
    """Record the agent's messages journaled up to `seq` (never moves backwards)."""
    _ensure_link(conn, agent_name)
    conn.execute(
        update(agent_links)
        .where(
            agent_links.c.agent_name == agent_name,
            agent_links.c.last_journaled_inbound_seq < seq,
        )
        .values(last_journaled_inbound_seq=seq)
    )


def _row(m: Any, seq: int | None = None) -> OutboxRow:
    return OutboxRow(
        id=int(m["id"]),
        agent_name=m["agent_name"],
        message_id=m["message_id"],
        type_name=m["type_name"],
        message=bytes(m["message"]),
        created_time=int(m["created_time"]),
        link_seq=seq if seq is not None else m["link_seq"],
        instance_id=m["instance_id"],
    )
