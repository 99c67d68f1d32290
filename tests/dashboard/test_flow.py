"""End to end through a real dashboard: plan provisioned, instance created, chain completes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.store import agents as agent_store
from ikasched_dashboard.store import changes, instances
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.store.schema import outbox
from ikasched_dashboard.testing import (
    SimAgent,
    chain_plan,
    provision,
    running_dashboard,
    wait_until,
)


def _status(process, iid: str) -> str:  # type: ignore[no-untyped-def]
    with read_transaction(process.engine) as conn:
        row = instances.get_instance(conn, iid)
    return row.status if row is not None else ""


def test_chain_runs_to_complete_across_two_agents(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            target = f"127.0.0.1:{proc.port}"
            a1 = SimAgent("a1", target, triggers=["a1-start"])
            a2 = SimAgent("a2", target)
            await a1.start()
            await a2.start()
            try:
                await provision(proc, chain_plan("chain", ["a1", "a2"], 6))
                iid = await proc.orchestrator.create_instance(
                    NewInstance("chain", start_time_ms=1, created_by="tester")
                )
                await wait_until(lambda: _status(proc, iid) == "COMPLETE")
                # each job was initiated exactly once, on its own agent
                assert a1.initiations == {(iid, f"a1-j{n}"): 1 for n in (1, 3, 5)}
                assert a2.initiations == {(iid, f"a2-j{n}"): 1 for n in (2, 4, 6)}
                kinds = {m.WhichOneof("body") for m in a1.received}
                assert {"provision_jobs", "activate_instance", "initiation"} <= kinds
                with read_transaction(proc.engine) as conn:
                    jobs = {j.job_identifier: j for j in instances.jobs_of_instance(conn, iid)}
                    audit = changes.changes_after(conn, 0, instance_id=iid, limit=10_000)
                    presence = agent_store.get_agent(conn, "a1")
                    left = conn.execute(select(outbox.c.id)).all()
                assert {j.status for j in jobs.values()} == {"COMPLETE"}
                assert jobs["a2-j4"].initiation_id and jobs["a2-j4"].attempts == 1
                assert jobs["a2-j4"].start_time > 0 and jobs["a2-j4"].end_time > 0
                # audit: one row per transition of a job, with cause and actor
                j3 = [
                    (c.entry.from_status, c.entry.to_status, c.entry.cause, c.entry.actor)
                    for c in audit
                    if c.entry.job_identifier == "a1-j3" and c.entry.to_status
                ]
                init3 = jobs["a1-j3"].initiation_id
                assert j3 == [
                    ("WAITING", "RUNNING", f"{init3}:starting", "agent:a1"),
                    ("RUNNING", "COMPLETE", f"{init3}:completed", "agent:a1"),
                ]
                assert presence is not None and presence.connected
                assert presence.version == "sim-1" and presence.labels == {"role": "sim"}
                await wait_until(lambda: not conn_rows(proc))
                assert proc.orchestrator.live_instance_ids() == [iid]
                del left
            finally:
                await a1.stop()
                await a2.stop()

    asyncio.run(scenario())


def conn_rows(proc: Dashboard) -> list[object]:
    with read_transaction(proc.engine) as conn:
        return list(conn.execute(select(outbox.c.id)).all())
