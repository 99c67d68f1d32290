"""Token format and hashing, the authenticator's cache, last-used batching, and the local
admin token of `ikasched up`."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ikasched.v1 import agent_pb2
from ikasched_common.auth import (
    Principal,
    Role,
    bearer_from_metadata,
    bearer_metadata,
    generate_token,
    hash_token,
    read_token_file,
    secret_matches,
    token_id_of,
)
from ikasched_common.errors import PermissionDenied, TokenFormatError, Unauthenticated
from ikasched_dashboard.security import (
    Authenticator,
    check_agent_hello,
    require_plan_access,
    visible_plans,
)
from ikasched_dashboard.services.tokens import (
    LOCAL_ADMIN_SUBJECT,
    TokenSpec,
    bootstrap_admin_token,
    create_token,
)
from ikasched_dashboard.store import db
from ikasched_dashboard.store import tokens as token_store


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_generated_tokens_embed_their_id_and_are_long() -> None:
    new = generate_token()
    assert new.secret.startswith(f"iks_{new.token_id}_")
    assert token_id_of(new.secret) == new.token_id
    # 32 random bytes are 43 url-safe characters after "iks_<16 hex>_".
    assert len(new.secret) == 4 + 16 + 1 + 43
    assert new.secret_hash == hash_token(new.secret) and new.secret not in new.secret_hash
    assert secret_matches(new.secret, new.secret_hash)
    assert not secret_matches(new.secret + "x", new.secret_hash)
    assert len({generate_token().secret for _ in range(200)}) == 200


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "iks_",
        "iks_abc",
        "iks_abc_",
        "iks__secret",
        "iks_ABCD_secret",
        "Bearer iks_ab_cd",
        "ghp_0123_abc",
    ],
)
def test_malformed_tokens_have_no_id(junk: str) -> None:
    with pytest.raises(TokenFormatError):
        token_id_of(junk)


def test_bearer_metadata_parsing() -> None:
    assert bearer_from_metadata(bearer_metadata("iks_ab_cd")) == "iks_ab_cd"
    assert bearer_from_metadata([("Authorization", b"bearer  iks_ab_cd ")]) == "iks_ab_cd"
    assert bearer_from_metadata([("x-other", "1"), ("authorization", "Bearer t")]) == "t"
    for md in (
        [],
        None,
        [("authorization", "Basic dXNlcg==")],
        [("authorization", "Bearer ")],
        [("authorization", "iks_ab_cd")],
    ):
        assert bearer_from_metadata(md) is None


def test_the_store_never_holds_a_secret(engine: Engine, db_path: Path) -> None:
    secrets = [create_token(engine, TokenSpec(f"s{i}", Role.ADMIN))[1] for i in range(5)]
    engine.dispose()
    with db.read_transaction(engine) as conn:
        rows = token_store.list_tokens(conn, include_inactive=True)
    assert {r.secret_hash for r in rows} == {hash_token(s) for s in secrets}
    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    blob = b"".join(p.read_bytes() for p in files)
    for secret in secrets:
        assert secret.encode() not in blob
        assert secret[len("iks_") + 17 :].encode() not in blob
        assert token_id_of(secret).encode() in blob  # the id is public and stored


def test_cache_spares_the_database_and_revocation_lands_within_the_ttl(engine: Engine) -> None:
    clock = Clock()
    record, secret = create_token(engine, TokenSpec("vera", Role.VIEWER, plan_names=("A",)))

    async def main() -> None:
        auth = Authenticator(engine, cache_ttl=2.0, clock=clock)
        for _ in range(100):
            principal = await auth.authenticate(secret)
        assert principal == Principal(record.id, "vera", Role.VIEWER, frozenset({"A"}))
        assert auth.lookups == 1
        # Revoked by another dashboard process: this one still trusts its cache briefly...
        with db.write_transaction(engine) as conn:
            token_store.revoke_token(conn, record.id, 1)
        clock.t += 1.9
        await auth.authenticate(secret)
        # ...and refuses it once the entry is older than the TTL.
        clock.t += 0.1
        with pytest.raises(Unauthenticated, match="revoked"):
            await auth.authenticate(secret)
        assert auth.lookups == 2

    asyncio.run(main())


def test_invalidate_takes_effect_at_once(engine: Engine) -> None:
    record, secret = create_token(engine, TokenSpec("x", Role.ADMIN))

    async def main() -> None:
        auth = Authenticator(engine, clock=Clock())
        await auth.authenticate(secret)
        with db.write_transaction(engine) as conn:
            token_store.revoke_token(conn, record.id, 1)
        auth.invalidate(record.id)
        with pytest.raises(Unauthenticated):
            await auth.authenticate(secret)

    asyncio.run(main())


def test_unknown_and_wrong_tokens_are_refused_and_cached(engine: Engine) -> None:
    _record, secret = create_token(engine, TokenSpec("x", Role.ADMIN))
    unknown = generate_token().secret

    async def main() -> None:
        auth = Authenticator(engine, clock=Clock())
        for _ in range(10):
            with pytest.raises(Unauthenticated, match="invalid token"):
                await auth.authenticate(unknown)
        assert auth.lookups == 1
        with pytest.raises(Unauthenticated, match="invalid token"):
            await auth.authenticate(secret[:-1] + ("a" if secret[-1] != "a" else "b"))
        for missing in (None, "", "not-a-token"):
            with pytest.raises(Unauthenticated):
                await auth.authenticate(missing)

    asyncio.run(main())


def test_expiry_is_checked_on_every_call(engine: Engine) -> None:
    _record, secret = create_token(
        engine, TokenSpec("t", Role.VIEWER, ttl_seconds=60), now_ms=1_000_000
    )
    now = [1_059_999]

    async def main() -> None:
        auth = Authenticator(engine, clock=Clock(), now_ms=lambda: now[0])
        await auth.authenticate(secret)
        now[0] = 1_060_000
        with pytest.raises(Unauthenticated, match="expired"):
            await auth.authenticate(secret)

    asyncio.run(main())


def test_a_token_with_an_unknown_role_is_refused(engine: Engine) -> None:
    new = generate_token()
    with db.write_transaction(engine) as conn:
        token_store.create_token(
            conn,
            token_store.TokenRecord(
                id=new.token_id, subject="odd", role="SUPERUSER", secret_hash=new.secret_hash
            ),
        )

    async def main() -> None:
        with pytest.raises(Unauthenticated):
            await Authenticator(engine).authenticate(new.secret)

    asyncio.run(main())


def _last_used(engine: Engine, token_id: str) -> int:
    with db.read_transaction(engine) as conn:
        record = token_store.get_token(conn, token_id)
    assert record is not None
    return record.last_used_time


def test_last_used_is_written_in_batches(engine: Engine) -> None:
    a, secret_a = create_token(engine, TokenSpec("a", Role.VIEWER))
    b, secret_b = create_token(engine, TokenSpec("b", Role.VIEWER))
    now = [5_000]

    async def main() -> None:
        auth = Authenticator(engine, clock=Clock(), now_ms=lambda: now[0])
        for i in range(50):
            now[0] += 1
            await auth.authenticate(secret_a if i % 2 else secret_b)
        # Nothing written per call.
        assert _last_used(engine, a.id) == 0 and _last_used(engine, b.id) == 0
        assert await auth.flush() == 2
        assert _last_used(engine, a.id) == 5_050 and _last_used(engine, b.id) == 5_049
        assert await auth.flush() == 0
        # The flusher writes once more when it is stopped.
        await auth.authenticate(secret_a)
        now[0] += 10
        await auth.authenticate(secret_b)
        task = asyncio.create_task(auth.run_flusher(interval=3600))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _last_used(engine, b.id) == 5_060

    asyncio.run(main())


def test_bootstrap_admin_token(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "data" / "admin.token"
    first = bootstrap_admin_token(engine, path)
    assert first.created and stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = read_token_file(path)
    assert token_id_of(secret) == first.token_id

    async def who(token: str) -> Principal:
        return await Authenticator(engine).authenticate(token)

    principal = asyncio.run(who(secret))
    assert principal.role is Role.ADMIN and principal.subject == LOCAL_ADMIN_SUBJECT
    assert not principal.plan_limited
    # A later start keeps the working token.
    again = bootstrap_admin_token(engine, path)
    assert not again.created and read_token_file(path) == secret
    # A revoked one is replaced.
    with db.write_transaction(engine) as conn:
        token_store.revoke_token(conn, first.token_id, 1)
    third = bootstrap_admin_token(engine, path)
    assert third.created and third.token_id != first.token_id
    assert asyncio.run(who(read_token_file(path))).role is Role.ADMIN
    # So is a damaged file.
    path.write_text("garbage")
    assert bootstrap_admin_token(engine, path).created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_plan_access_and_agent_hello_rules() -> None:
    limited = Principal("t1", "pat", Role.OPERATOR, frozenset({"A"}))
    unlimited = Principal("t2", "ann", Role.ADMIN)
    require_plan_access(limited, "A")
    require_plan_access(unlimited, "B")
    require_plan_access(None, "B")  # the dashboard itself
    with pytest.raises(PermissionDenied, match="'B'"):
        require_plan_access(limited, "B")
    assert visible_plans(limited) == frozenset({"A"}) and visible_plans(unlimited) is None

    agent = Principal("t3", "agent a1", Role.AGENT, agent_name="a1")
    check_agent_hello(agent, agent_pb2.AgentHello(agent_name="a1"))
    for principal, name in ((agent, "a2"), (agent, ""), (unlimited, "a1"), (None, "a1")):
        with pytest.raises(PermissionDenied):
            check_agent_hello(principal, agent_pb2.AgentHello(agent_name=name))


def test_long_streams_can_revalidate_their_principal(engine: Engine) -> None:
    record, secret = create_token(
        engine, TokenSpec("agent a1", Role.AGENT, agent_name="a1", ttl_seconds=60), now_ms=0
    )
    clock, now = Clock(), [1_000]

    async def main() -> None:
        auth = Authenticator(engine, clock=clock, now_ms=lambda: now[0])
        principal = await auth.authenticate(secret)
        await auth.revalidate(principal)
        now[0] = 60_000
        with pytest.raises(Unauthenticated, match="expired"):
            await auth.revalidate(principal)
        now[0] = 1_000
        with db.write_transaction(engine) as conn:
            token_store.revoke_token(conn, record.id, 2_000)
        await auth.revalidate(principal)  # still cached
        clock.t += 2.0
        with pytest.raises(Unauthenticated, match="revoked"):
            await auth.revalidate(principal)

    asyncio.run(main())
