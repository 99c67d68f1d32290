"""Agents, tokens, missed runs and the lock coordinator's state."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine

from ikasched_common.errors import AlreadyExists, NotFound
from ikasched_dashboard.store import agents, locks, missed_runs, tokens
from ikasched_dashboard.store.db import read_transaction, write_transaction


def test_agent_presence_upsert_and_queries(engine: Engine) -> None:
    a = agents.AgentPresence(
        name="agent-a",
        connected=True,
        last_seen=100,
        version="0.1.0",
        hostname="host-a",
        connected_since=90,
        labels={"zone": "eu", "os": "linux"},
        instance_id="run-1",
    )
    b = agents.AgentPresence(name="agent-b", connected=True, last_seen=50)
    with write_transaction(engine) as conn:
        agents.save_agent(conn, a)
        agents.save_agent(conn, b)
    with read_transaction(engine) as conn:
        assert agents.get_agent(conn, "agent-a") == a
        assert agents.get_agent(conn, "nope") is None

    restarted = agents.AgentPresence(
        name="agent-a", connected=True, last_seen=300, version="0.2.0", instance_id="run-2"
    )
    with write_transaction(engine) as conn:
        agents.save_agent(conn, restarted)
        agents.touch_agents(conn, {"agent-b": 400, "ghost": 1})
        agents.mark_disconnected(conn, ["agent-b"], now=500)
    with read_transaction(engine) as conn:
        assert agents.get_agent(conn, "agent-a") == restarted
        assert [x.name for x in agents.list_agents(conn, connected_only=True)] == ["agent-a"]
        gone = agents.get_agent(conn, "agent-b")
        assert gone is not None and (gone.connected, gone.last_seen) == (False, 500)
        assert [x.name for x in agents.list_agents(conn)] == ["agent-a", "agent-b"]
    with write_transaction(engine) as conn:
        assert agents.mark_all_disconnected(conn) == 1
        assert agents.list_agents(conn, connected_only=True) == []


def _token(token_id: str, secret_hash: str) -> tokens.TokenRecord:
    return tokens.TokenRecord(
        id=token_id,
        subject=f"{token_id}-user",
        role="OPERATOR",
        secret_hash=secret_hash,
        created_time=100,
    )


def test_tokens_create_lookup_revoke_and_list(engine: Engine) -> None:
    ops = replace(_token("t1", "hash-1"), plan_names=("p1", "p2"))
    agent = replace(_token("t2", "hash-2"), role="AGENT", agent_name="agent-a", expires_time=1000)
    with write_transaction(engine) as conn:
        tokens.create_token(conn, ops)
        tokens.create_token(conn, agent)
        with pytest.raises(AlreadyExists):
            tokens.create_token(conn, _token("t1", "hash-9"))
        with pytest.raises(AlreadyExists):
            tokens.create_token(conn, _token("t9", "hash-1"))
        # The transaction is still usable after the refused inserts.
        tokens.create_token(conn, _token("t3", "hash-3"))
    with read_transaction(engine) as conn:
        assert tokens.token_by_hash(conn, "hash-1") == ops
        assert tokens.token_by_hash(conn, "hash-x") is None
        assert tokens.get_token(conn, "t2") == agent
        assert [t.id for t in tokens.list_tokens(conn, now=500)] == ["t1", "t2", "t3"]
        # t2 has expired at 2000.
        assert [t.id for t in tokens.list_tokens(conn, now=2000)] == ["t1", "t3"]

    with write_transaction(engine) as conn:
        revoked = tokens.revoke_token(conn, "t1", now=600)
        assert tokens.revoke_token(conn, "t1", now=700).revoked_time == 600
        with pytest.raises(NotFound):
            tokens.revoke_token(conn, "nope", now=600)
        tokens.touch_tokens(conn, {"t3": 800})
        tokens.touch_tokens(conn, {"t3": 750})  # older report: ignored
    assert revoked.revoked_time == 600 and not revoked.active(650)
    with read_transaction(engine) as conn:
        assert [t.id for t in tokens.list_tokens(conn, now=500)] == ["t2", "t3"]
        assert [t.id for t in tokens.list_tokens(conn, include_inactive=True)] == [
            "t1",
            "t2",
            "t3",
        ]
        t3 = tokens.get_token(conn, "t3")
        assert t3 is not None and t3.last_used_time == 800 and t3.active(10**12)
    with write_transaction(engine) as conn:
        assert tokens.delete_token(conn, "t3")
        assert not tokens.delete_token(conn, "t3")


def test_missed_runs_are_recorded_once_and_paged(engine: Engine) -> None:
    runs = [
        missed_runs.MissedRunRecord("p1", scheduled_time=1000, detected_time=5000, reason="down"),
        missed_runs.MissedRunRecord("p2", scheduled_time=1000, detected_time=5000),
        missed_runs.MissedRunRecord("p1", scheduled_time=2000, detected_time=5000),
    ]
    with write_transaction(engine) as conn:
        assert missed_runs.record_missed_runs(conn, runs) == 3
    with write_transaction(engine) as conn:
        # Noticed again after another restart: nothing new.
        again = missed_runs.MissedRunRecord("p1", 1000, detected_time=9000, reason="again")
        assert missed_runs.record_missed_runs(conn, [again]) == 0
    with read_transaction(engine) as conn:
        every = missed_runs.list_missed_runs(conn)
        assert [(r.plan_name, r.scheduled_time, r.detected_time, r.reason) for r in every] == [
            ("p1", 1000, 5000, "down"),
            ("p2", 1000, 5000, ""),
            ("p1", 2000, 5000, ""),
        ]
        p1 = missed_runs.list_missed_runs(conn, plan_name="p1", limit=1)
        assert [r.scheduled_time for r in p1] == [1000]
        more = missed_runs.list_missed_runs(conn, plan_name="p1", after_id=p1[0].id)
        assert [r.scheduled_time for r in more] == [2000]


def test_lock_state_save_and_load(engine: Engine) -> None:
    with read_transaction(engine) as conn:
        assert locks.load_lock_state(conn) is None
    with write_transaction(engine) as conn:
        assert locks.save_lock_state(conn, b"first", now=10) == 1
    with write_transaction(engine) as conn:
        assert locks.save_lock_state(conn, b"second", now=20) == 2
    with read_transaction(engine) as conn:
        assert locks.load_lock_state(conn) == locks.LockState(b"second", 2, 20)
