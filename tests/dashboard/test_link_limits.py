"""Large messages and reconnect storms never wedge an agent link nor grow its outbox without
bound (docs/architecture.md §4.9, §4.11).

Regression: two live instances with 2.4 MB parameters made the on-connect SyncInstances larger
than a link frame; every connection failed on it, every reconnect queued another sync, and the
outbox grew by gigabytes. Here a real core dashboard and a simulated agent talk over gRPC on
127.0.0.1.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ikasched.v1 import agent_pb2
from ikasched_agent.registry import REGISTRY_BODIES, Registry
from ikasched_common.errors import ResourceExhausted
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.store import messages as message_store
from ikasched_dashboard.store import outbox_link
from ikasched_dashboard.store.db import read_transaction, write_transaction
from ikasched_dashboard.store.schema import outbox
from ikasched_dashboard.testing import (
    SimAgent,
    chain_plan,
    provision,
    running_dashboard,
    wait_until,
)
from tests.dashboard.support import orchestrator_idle

BIG = 2_400_000  # one parameter value: two of them no longer fit a 4 MiB frame together


def _outbox(proc: Dashboard, agent: str) -> tuple[int, int]:
    """(rows, bytes) queued for the agent."""
    with read_transaction(proc.engine) as conn:
        rows, size = conn.execute(
            select(func.count(), func.coalesce(func.sum(func.length(outbox.c.message)), 0)).where(
                outbox.c.agent_name == agent
            )
        ).one()
    return int(rows), int(size)


def _replayed(proc: Dashboard, agent: str) -> Registry:
    with read_transaction(proc.engine) as conn:
        rows = conn.execute(
            select(outbox.c.message).where(outbox.c.agent_name == agent).order_by(outbox.c.id)
        ).all()
    registry = Registry(agent)
    for (raw,) in rows:
        msg = agent_pb2.DashboardMessage.FromString(raw)
        if msg.WhichOneof("body") in REGISTRY_BODIES:
            registry.apply(msg)
    return registry


async def _big_instances(proc: Dashboard, count: int) -> list[str]:
    await provision(proc, chain_plan("big", ["a1"], 1))
    return [
        await proc.orchestrator.create_instance(
            NewInstance(
                "big",
                start_time_ms=1,
                created_by="t",
                parameters=(("BLOB", chr(ord("a") + n) * BIG),),
            )
        )
        for n in range(count)
    ]


def test_large_parameters_and_reconnects_keep_the_link_working(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            ids = await _big_instances(proc, 2)
            agent = SimAgent("a1", f"127.0.0.1:{proc.port}", triggers=["a1-start"])
            await agent.start()
            try:
                # the sync reaches the agent (in parts) and the instances run there
                await wait_until(lambda: {(i, "a1-start") for i in ids} <= agent.fired, 30)
                await wait_until(lambda: all(agent.initiations[(i, "a1-j1")] for i in ids), 30)
                syncs = [m for m in agent.received if m.WhichOneof("body") == "sync_instances"]
                assert {m.sync_instances.parts for m in syncs} == {2}
                # a reconnect storm: each reconnect queues a sync; none piles up
                for _ in range(15):
                    before = proc.gateway.link.session("a1")
                    proc.gateway.link.disconnect("a1", "test: reconnect storm")

                    def reconnected(old: object = before) -> bool:
                        now = proc.gateway.link.session("a1")
                        return now is not None and now is not old

                    await wait_until(reconnected, 30)
                await wait_until(lambda: _outbox(proc, "a1")[0] == 0, 30)
                rows, size = _outbox(proc, "a1")
                assert (rows, size) == (0, 0)
                # the link still carries work after the storm
                more = await proc.orchestrator.create_instance(
                    NewInstance("big", start_time_ms=1, created_by="t")
                )
                await wait_until(lambda: agent.initiations[(more, "a1-j1")] >= 1, 30)
            finally:
                await agent.stop()

    asyncio.run(scenario())


def test_syncs_queued_while_the_agent_is_away_supersede_each_other(tmp_path: Path) -> None:
    """No agent drains the outbox: fifty reconnect syncs leave one sync's rows, and an older
    sync already sent keeps its link seq but not its size."""

    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            ids = await _big_instances(proc, 2)
            await proc.gateway._queue_sync("a1")
            one_sync = _outbox(proc, "a1")

            def claim() -> None:  # as a sender would: the rows get link seqs
                with write_transaction(proc.engine) as conn:
                    outbox_link.ensure_link_row(conn, "a1")
                    outbox_link.claim_unsent(conn, "a1", 1000)

            await asyncio.to_thread(claim)
            for _ in range(50):
                await proc.gateway._queue_sync("a1")
            await orchestrator_idle(proc.orchestrator)
            rows, size = _outbox(proc, "a1")
            assert rows <= 2 * one_sync[0]
            assert size < one_sync[1] + 100_000, "stale syncs kept their size"
            with read_transaction(proc.engine) as conn:
                kinds = [r.type_name for r in message_store.peek_outbox(conn, "a1", 1000)]
            assert message_store.SUPERSEDED in kinds
            # replayed in order, the outbox still leaves the agent holding every instance
            assert set(_replayed(proc, "a1").instances) == set(ids)

    asyncio.run(scenario())


def test_a_message_no_frame_carries_is_never_queued(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            await provision(proc, chain_plan("huge", ["a1"], 1))
            rows = _outbox(proc, "a1")[0]
            with pytest.raises(ResourceExhausted, match="link message carries at most"):
                await proc.orchestrator.create_instance(
                    NewInstance(
                        "huge",
                        start_time_ms=1,
                        created_by="t",
                        parameters=(("BLOB", "x" * 5_000_000),),
                    )
                )
            assert _outbox(proc, "a1")[0] == rows
            assert proc.orchestrator.live_instance_ids("huge") == []

    asyncio.run(scenario())
