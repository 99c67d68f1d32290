"""The lease and its fence on real PostgreSQL (docs/architecture.md §12)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from ikasched_dashboard.leadership import FencedOut, Lease, install_fence, lease_status
from ikasched_dashboard.store import db


@pytest.fixture
def engines(pg_url: str) -> Iterator[tuple[Engine, Engine]]:
    a, b = db.create_engine_for(pg_url), db.create_engine_for(pg_url)
    yield a, b
    a.dispose()
    b.dispose()


def _expire(engine: Engine) -> None:
    """What time does to a lease nobody renews (no sleeping in tests)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE dashboard_lease SET expires_at = now() - interval '1 second'"))


def _write(engine: Engine) -> None:
    with db.write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO dashboard_nodes (holder, pid) VALUES ('probe', 1)"))
        conn.execute(text("DELETE FROM dashboard_nodes WHERE holder = 'probe'"))


def test_one_holder_then_takeover_with_a_higher_epoch(engines: tuple[Engine, Engine]) -> None:
    a_engine, b_engine = engines
    a = Lease(a_engine, "a", "127.0.0.1:1", 5000)
    b = Lease(b_engine, "b", "127.0.0.1:2", 5000)
    assert a.try_acquire() and a.epoch == 1
    assert not b.try_acquire()  # held and not expired
    assert a.renew()
    view, nodes = lease_status(b_engine)
    assert view is not None and (view.holder, view.address, view.epoch) == ("a", "127.0.0.1:1", 1)
    assert {n.holder for n in nodes} == {"a", "b"}
    _expire(a_engine)
    assert b.try_acquire() and b.epoch == 2
    assert not a.renew()  # the old holder learns it lost the lease


def test_the_fence_refuses_the_old_leaders_write(engines: tuple[Engine, Engine]) -> None:
    a_engine, b_engine = engines
    a = Lease(a_engine, "a", "127.0.0.1:1", 5000)
    b = Lease(b_engine, "b", "127.0.0.1:2", 5000)
    install_fence(a_engine, a)
    install_fence(b_engine, b)
    assert a.try_acquire()
    _write(a_engine)  # the leader writes
    with pytest.raises(FencedOut, match=r"\(epoch 0\) does not hold the lease \(now epoch 1"):
        _write(b_engine)  # a standby cannot
    _expire(a_engine)
    with pytest.raises(FencedOut):
        _write(a_engine)  # expired, even before anyone took over
    assert b.try_acquire()
    _write(b_engine)
    with pytest.raises(FencedOut, match=r"now epoch 2 at 127\.0\.0\.1:2"):
        _write(a_engine)
    with db.read_transaction(a_engine) as conn:  # reads are not fenced
        assert conn.execute(text("SELECT count(*) FROM dashboard_lease")).scalar_one() == 1


def test_a_takeover_waits_for_a_write_already_past_the_fence(
    engines: tuple[Engine, Engine],
) -> None:
    """The fence holds the lease row FOR SHARE: the takeover's UPDATE cannot slip in between
    the old leader's check and its commit."""
    a_engine, b_engine = engines
    a = Lease(a_engine, "a", "127.0.0.1:1", 5000)
    install_fence(a_engine, a)
    assert a.try_acquire()
    with db.write_transaction(a_engine) as conn:
        conn.execute(text("INSERT INTO dashboard_nodes (holder, pid) VALUES ('late', 1)"))
        other = b_engine.connect()
        try:
            other.execute(text("SET lock_timeout = '300ms'"))
            with pytest.raises(Exception, match="lock timeout"):
                other.execute(text("UPDATE dashboard_lease SET epoch = epoch + 1"))
        finally:
            other.close()


def test_a_lease_needs_postgresql(tmp_path: object) -> None:
    engine = db.create_engine_for(f"sqlite:///{tmp_path}/x.db")
    try:
        with pytest.raises(Exception, match="needs PostgreSQL"):
            Lease(engine, "a", "x", 5000)
    finally:
        engine.dispose()
