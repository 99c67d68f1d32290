"""The SQL of one agent's link outbox (`ikasched_dashboard.outbox.SqlOutbox`).

Claims give unsent rows their link seqs under the agent's `agent_links` row lock, so a seq is
never handed out twice; the position of a resume is derived from the lowest seq still stored.
"""

from __future__ import annotations

from sqlalchemy import Connection, Update, bindparam, delete, func, select, update

from ikasched_common.errors import LinkError
from ikasched_dashboard.store._sql import executemany, insert_ignoring_duplicates
from ikasched_dashboard.store.messages import set_inbound_seq
from ikasched_dashboard.store.schema import agent_links, outbox

# (row id, link seq, message bytes)
ClaimedRow = tuple[int, int, bytes]


def ensure_link_row(conn: Connection, agent_name: str) -> None:
    """Create the agent's `agent_links` row unless it exists."""
    insert_ignoring_duplicates(conn, agent_links, [{"agent_name": agent_name}])


def claim_unsent(conn: Connection, agent_name: str, limit: int) -> list[ClaimedRow]:
    """The oldest unsent rows (up to `limit`), given the next link seqs in this transaction."""
    last = conn.execute(
        select(agent_links.c.last_assigned_seq)
        .where(agent_links.c.agent_name == agent_name)
        .with_for_update()
    ).scalar_one()
    rows = conn.execute(
        select(outbox.c.id, outbox.c.message)
        .where(outbox.c.agent_name == agent_name, outbox.c.link_seq.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    out = [(int(r[0]), last + n, bytes(r[1])) for n, r in enumerate(rows, start=1)]
    result = executemany(
        conn,
        "outbox-claim",
        _claim_statement,
        [{"b_id": key, "b_seq": seq} for key, seq, _ in out],
    )
    if 0 <= result.rowcount < len(out):
        # only if the link row lock was bypassed: never hand out a seq twice
        raise LinkError(f"outbox of {agent_name}: rows were assigned concurrently")
    conn.execute(
        update(agent_links)
        .where(agent_links.c.agent_name == agent_name)
        .values(last_assigned_seq=last + len(out))
    )
    return out


def lowest_assigned_seq(conn: Connection, agent_name: str) -> int | None:
    """The lowest link seq still stored for the agent (None: no assigned row left)."""
    lowest = conn.execute(
        select(func.min(outbox.c.link_seq)).where(
            outbox.c.agent_name == agent_name, outbox.c.link_seq.is_not(None)
        )
    ).scalar()
    return None if lowest is None else int(lowest)


def reset_link_seqs(conn: Connection, agent_name: str, last_seq: int) -> int:
    """Assigned rows go back to pending; the link restarts after `last_seq`. Rows moved."""
    moved = conn.execute(
        update(outbox)
        .where(outbox.c.agent_name == agent_name, outbox.c.link_seq.is_not(None))
        .values(link_seq=None)
    ).rowcount
    set_inbound_seq(conn, agent_name, 0)  # ensures the link row exists
    conn.execute(
        update(agent_links)
        .where(agent_links.c.agent_name == agent_name)
        .values(last_assigned_seq=last_seq)
    )
    return max(int(moved), 0)


def delete_outbox(conn: Connection, agent_name: str) -> int:
    """Delete every row queued for the agent, sent or not (an admin's way out of a stuck
    outbox). Seqs given to deleted rows are handed out again, as if never assigned, so the
    next resume finds the agent's position and the outbox's in step. Returns how many."""
    lowest = lowest_assigned_seq(conn, agent_name)
    deleted = conn.execute(delete(outbox).where(outbox.c.agent_name == agent_name)).rowcount
    if lowest is not None:
        conn.execute(
            update(agent_links)
            .where(agent_links.c.agent_name == agent_name)
            .values(last_assigned_seq=lowest - 1)
        )
    return max(int(deleted), 0)


def outbox_size(conn: Connection, agent_name: str) -> int:
    """Rows stored for the agent, sent or not."""
    return int(
        conn.execute(select(func.count()).where(outbox.c.agent_name == agent_name)).scalar_one()
    )


def _claim_statement() -> Update:
    return (
        update(outbox)
        .where(outbox.c.id == bindparam("b_id"), outbox.c.link_seq.is_(None))
        .values(link_seq=bindparam("b_seq"))
    )
