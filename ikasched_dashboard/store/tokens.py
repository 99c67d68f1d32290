"""Access tokens. Only a hash of each secret is stored; hashing is the caller's (auth's) job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, or_, select, update

from ikasched_common.errors import NotFound
from ikasched_dashboard.store._sql import insert_new, strings_from_json, to_json
from ikasched_dashboard.store.schema import tokens


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    subject: str
    # Role enum value name: VIEWER, OPERATOR, ADMIN, AGENT.
    role: str
    secret_hash: str
    # Plans it may touch; empty = all.
    plan_names: tuple[str, ...] = ()
    # AGENT tokens: the one agent name it is bound to.
    agent_name: str = ""
    created_time: int = 0
    # 0 = never / not revoked / never used.
    expires_time: int = 0
    revoked_time: int = 0
    last_used_time: int = 0

    def active(self, now: int) -> bool:
        return not self.revoked_time and (not self.expires_time or now < self.expires_time)


def create_token(conn: Connection, token: TokenRecord) -> None:
    """Store a token; AlreadyExists if its id (or secret hash) is taken."""
    insert_new(
        conn,
        tokens,
        {
            "id": token.id,
            "subject": token.subject,
            "role": token.role,
            "secret_hash": token.secret_hash,
            "plan_names": to_json(token.plan_names),
            "agent_name": token.agent_name,
            "created_time": token.created_time,
            "expires_time": token.expires_time,
            "revoked_time": token.revoked_time,
            "last_used_time": token.last_used_time,
        },
        what=f"token {token.id}",
    )


def get_token(conn: Connection, token_id: str) -> TokenRecord | None:
    row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
    return None if row is None else _token(row._mapping)


def token_by_hash(conn: Connection, secret_hash: str) -> TokenRecord | None:
    """The token with this secret hash, active or not (the caller checks `active`)."""
    row = conn.execute(select(tokens).where(tokens.c.secret_hash == secret_hash)).first()
    return None if row is None else _token(row._mapping)


def list_tokens(
    conn: Connection, *, include_inactive: bool = False, now: int = 0
) -> list[TokenRecord]:
    """Tokens by creation time; without `include_inactive`, revoked and expired (at `now`)
    ones are left out."""
    stmt = select(tokens).order_by(tokens.c.created_time, tokens.c.id)
    if not include_inactive:
        stmt = stmt.where(
            tokens.c.revoked_time == 0,
            or_(tokens.c.expires_time == 0, tokens.c.expires_time > now),
        )
    return [_token(r._mapping) for r in conn.execute(stmt)]


def revoke_token(conn: Connection, token_id: str, now: int) -> TokenRecord:
    """Revoke at once (a token revoked before keeps its first revocation time)."""
    conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_time == 0)
        .values(revoked_time=now)
    )
    token = get_token(conn, token_id)
    if token is None:
        raise NotFound(f"token {token_id} does not exist")
    return token


def touch_tokens(conn: Connection, last_used: Mapping[str, int]) -> None:
    """Bulk last-used update (the auth layer batches these instead of writing per call)."""
    if last_used:
        conn.execute(
            update(tokens)
            .where(tokens.c.id == bindparam("b_id"), tokens.c.last_used_time < bindparam("b_t"))
            .values(last_used_time=bindparam("b_t")),
            [{"b_id": i, "b_t": t} for i, t in last_used.items()],
        )


def delete_token(conn: Connection, token_id: str) -> bool:
    return conn.execute(delete(tokens).where(tokens.c.id == token_id)).rowcount > 0


def _token(m: Any) -> TokenRecord:
    return TokenRecord(
        id=m["id"],
        subject=m["subject"],
        role=m["role"],
        secret_hash=m["secret_hash"],
        plan_names=strings_from_json(m["plan_names"]),
        agent_name=m["agent_name"],
        created_time=int(m["created_time"]),
        expires_time=int(m["expires_time"]),
        revoked_time=int(m["revoked_time"]),
        last_used_time=int(m["last_used_time"]),
    )
