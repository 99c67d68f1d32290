"""Leadership of dashboards sharing one PostgreSQL database (docs/architecture.md §12).

One row of `dashboard_lease` says who is active: holder id, address, epoch and expiry. Times are
the database's (`now()`), so the dashboards' clocks never disagree about expiry. The active
dashboard renews the expiry every third of the lease; a standby takes the row over (epoch + 1)
only when the expiry has passed. The epoch is the fencing token: every write transaction of the
active dashboard starts by reading the row `FOR SHARE` and is refused unless it still carries
this holder, this epoch and an expiry in the future. The share lock makes a takeover wait for
transactions already past the check, and `idle_in_transaction_session_timeout` bounds how long a
paused process can hold one, so an old leader woken from SIGSTOP cannot commit a single row.

A lease row, not a session advisory lock: a paused process keeps its TCP session (and so its
advisory lock) until the kernel gives up on it, minutes later; an expiry in a row is honest
after exactly the lease length, and the row carries the epoch and address for fencing and for
telling clients where the leader is.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, event, text

from ikasched_common.errors import FailedPrecondition, Unavailable
from ikasched_dashboard.store import db

LEASE_NAME = "active"


class FencedOut(Unavailable):
    """This dashboard no longer holds the lease: its write is refused."""


@dataclass(frozen=True)
class LeaseView:
    """The lease row as an operator sees it."""

    holder: str
    address: str
    epoch: int
    age_s: float
    expires_in_s: float


@dataclass(frozen=True)
class NodeView:
    holder: str
    address: str
    pid: int
    seen_s: float


def new_holder_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Lease:
    """One dashboard's side of the lease (synchronous; call it from a DB thread)."""

    def __init__(self, engine: Engine, holder: str, address: str, lease_ms: int) -> None:
        if engine.dialect.name != "postgresql":
            raise FailedPrecondition("a lease needs PostgreSQL; SQLite runs one dashboard")
        self.engine = engine
        self.holder = holder
        self.address = address
        self.lease_ms = lease_ms
        self.epoch = 0

    def _params(self) -> dict[str, Any]:
        return {
            "name": LEASE_NAME,
            "holder": self.holder,
            "address": self.address,
            "ms": self.lease_ms,
            "epoch": self.epoch,
            "pid": os.getpid(),
        }

    def try_acquire(self) -> bool:
        """Take the lease when nobody holds it or it expired; True when this process holds it."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO dashboard_lease (name, holder, address, epoch) "
                    "VALUES (:name, '', '', 0) ON CONFLICT (name) DO NOTHING"
                ),
                self._params(),
            )
            self._seen(conn)
            row = conn.execute(
                text(
                    "UPDATE dashboard_lease SET holder = :holder, address = :address,"
                    " epoch = epoch + 1, acquired_at = now(),"
                    " expires_at = now() + make_interval(secs => :ms / 1000.0)"
                    " WHERE name = :name AND (expires_at IS NULL OR expires_at < now())"
                    " RETURNING epoch"
                ),
                self._params(),
            ).first()
        if row is None:
            return False
        self.epoch = int(row[0])
        return True

    def renew(self) -> bool:
        """Extend the expiry; False when another dashboard took over (or ours expired)."""
        with self.engine.begin() as conn:
            self._seen(conn)
            row = conn.execute(
                text(
                    "UPDATE dashboard_lease"
                    " SET expires_at = now() + make_interval(secs => :ms / 1000.0)"
                    " WHERE name = :name AND holder = :holder AND epoch = :epoch"
                    " AND expires_at > now() RETURNING epoch"
                ),
                self._params(),
            ).first()
        return row is not None

    def release(self) -> None:
        """Give the lease up at a graceful stop, so a standby takes over at once."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE dashboard_lease SET expires_at = now() - interval '1 second'"
                    " WHERE name = :name AND holder = :holder AND epoch = :epoch"
                ),
                self._params(),
            )
            conn.execute(text("DELETE FROM dashboard_nodes WHERE holder = :holder"), self._params())

    def heartbeat(self) -> None:
        """A standby's presence in the roll."""
        with self.engine.begin() as conn:
            self._seen(conn)

    def _seen(self, conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO dashboard_nodes (holder, address, pid, seen_at)"
                " VALUES (:holder, :address, :pid, now())"
                " ON CONFLICT (holder) DO UPDATE SET seen_at = now(), address = :address"
            ),
            self._params(),
        )

    def check(self, conn: Connection) -> None:
        """The fence: inside a write transaction, refuse it unless this epoch still holds."""
        row = conn.execute(
            text(
                "SELECT holder, epoch, address, expires_at > now() FROM dashboard_lease"
                " WHERE name = :name FOR SHARE"
            ),
            self._params(),
        ).first()
        if row is None or row[0] != self.holder or int(row[1]) != self.epoch or not row[3]:
            holder = "" if row is None else f" (now epoch {row[1]} at {row[2] or 'unknown'})"
            raise FencedOut(
                f"write refused: this dashboard (epoch {self.epoch}) does not hold the lease"
                f"{holder}"
            )


def install_fence(engine: Engine, lease: Lease) -> None:
    """Fence every write transaction (`db.write_transaction`) of `engine` with `lease`."""
    timeout_ms = max(1000, lease.lease_ms // 2)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # a paused process cannot hold a transaction (and its share lock) past half a lease
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")
        dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if db.is_write(conn):
            lease.check(conn)


def lease_status(engine: Engine) -> tuple[LeaseView | None, list[NodeView]]:
    """The lease and the roll of dashboards, for `ikasched cluster status`."""
    with db.read_transaction(engine) as conn:
        row = conn.execute(
            text(
                "SELECT holder, address, epoch,"
                " extract(epoch from now() - acquired_at), extract(epoch from expires_at - now())"
                " FROM dashboard_lease WHERE name = :name"
            ),
            {"name": LEASE_NAME},
        ).first()
        nodes = conn.execute(
            text(
                "SELECT holder, address, pid, extract(epoch from now() - seen_at)"
                " FROM dashboard_nodes ORDER BY holder"
            )
        ).all()
    lease = None
    if row is not None and row[0]:
        lease = LeaseView(str(row[0]), str(row[1]), int(row[2]), float(row[3]), float(row[4]))
    return lease, [NodeView(str(n[0]), str(n[1]), int(n[2]), float(n[3])) for n in nodes]
