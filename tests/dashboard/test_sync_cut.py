"""The SyncInstances an agent gets on (re)connect is a consistent cut of its outbox.

Regression: the gateway used to snapshot the live instances, then write the sync row in a
later transaction; an ActivateInstance committed in between sat before a sync that did not
hold it, and the agent (whose registry takes a sync as the whole set) dropped the instance, so
its jobs were refused. Here instances are created while syncs are queued, with no agent
draining the outbox; replaying the agent's outbox in order into a real agent Registry must
leave every live instance active.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ikasched.v1 import agent_pb2
from ikasched_agent.registry import REGISTRY_BODIES, Registry
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.store.schema import outbox
from ikasched_dashboard.testing import chain_plan, provision, running_dashboard


def _replayed(proc, agent: str) -> Registry:  # type: ignore[no-untyped-def]
    """The agent's registry after applying its outbox, oldest row first."""
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


def test_sync_queued_during_creations_never_drops_an_instance(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            await provision(proc, chain_plan("cut", ["a1", "a2"], 2))
            orch = proc.orchestrator
            for _ in range(6):
                creates = [
                    orch.create_instance(NewInstance("cut", start_time_ms=1, created_by="t"))
                    for _ in range(15)
                ]
                syncs = [proc.gateway._queue_sync("a2") for _ in range(15)]
                # interleave: each sync lands between creations still in flight
                await asyncio.gather(
                    *(x for pair in zip(creates, syncs, strict=True) for x in pair)
                )
                live = set(orch.live_instance_ids("cut"))
                active = set(_replayed(proc, "a2").instances)
                assert live - active == set(), "instances dropped by a stale sync"
                assert active <= live

    asyncio.run(scenario())


def test_activation_committed_while_a_sync_is_being_built_stays_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exact interleaving: the sync starts reading the agent's plans; a PREPARED instance
    is activated and its batch's commit is queued; only then does the read finish."""
    from ikasched_dashboard.store import plans as plan_store

    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            await provision(proc, chain_plan("cut", ["a1", "a2"], 2))
            orch = proc.orchestrator
            iid = await orch.create_instance(
                NewInstance("cut", start_time_ms=1, created_by="t", prepared=True)
            )
            reading = threading.Event()
            real = plan_store.plans_on_agent

            def slow(conn, agent):  # type: ignore[no-untyped-def]
                reading.set()
                deadline = time.monotonic() + 10  # hang guard
                while orch._pipeline.inflight is None and time.monotonic() < deadline:
                    time.sleep(0.001)
                return real(conn, agent)

            monkeypatch.setattr(plan_store, "plans_on_agent", slow)
            sync = asyncio.ensure_future(proc.gateway._queue_sync("a2"))
            while not reading.is_set():
                await asyncio.sleep(0.001)
            await orch.activate_instance(iid, time_ms=2)
            await sync
            monkeypatch.setattr(plan_store, "plans_on_agent", real)
            assert iid in orch.live_instance_ids("cut")
            assert iid in _replayed(proc, "a2").instances, "the sync dropped the activation"

    asyncio.run(scenario())
