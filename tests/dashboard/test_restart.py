"""Restart recovery: graceful restart in-process, and SIGKILL of a dashboard subprocess at
random moments while simulated agents drive plans."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine

from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.store import changes, db, instances
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.testing import (
    SimAgent,
    chain_plan,
    free_port,
    provision,
    running_dashboard,
    wait_until,
)
from tests.dashboard.conftest import LONG

ROOT = Path(__file__).resolve().parents[2]


def _statuses(engine: Engine, ids: list[str]) -> dict[str, str]:
    with read_transaction(engine) as conn:
        return {i: (r.status if (r := instances.get_instance(conn, i)) else "") for i in ids}


def test_graceful_restart_keeps_queued_work_and_retry_timers(tmp_path: Path) -> None:
    async def scenario() -> None:
        port = free_port()
        a1 = SimAgent(
            "a1", f"127.0.0.1:{port}", auto=False, triggers=["a1-start"], fail_first=["a1-j2"]
        )
        await a1.start()
        try:
            async with running_dashboard(tmp_path, port) as proc:
                await provision(
                    proc, chain_plan("p", ["a1"], 3, retry={"count": 1, "delaySeconds": 1})
                )
                iid = await proc.orchestrator.create_instance(NewInstance("p", 1))
                await wait_until(lambda: len(a1.queued) == 1)
                (first,) = a1.queued
            # the dashboard is down; the agent finishes j1, then j2 fails once
            await a1.release(first)
            async with running_dashboard(tmp_path, port) as proc:
                assert proc.orchestrator.live_instance_ids() == [iid]
                await wait_until(lambda: a1.initiations[(iid, "a1-j2")] == 1)
                # j2 failed: ERROR, retry due in 1 s; restart before it fires
                await wait_until(lambda: _job(proc, iid) == "ERROR")
            a1.auto = True
            async with running_dashboard(tmp_path, port) as proc:
                await wait_until(lambda: _statuses(proc.engine, [iid])[iid] == "COMPLETE")
                assert a1.initiations == Counter(
                    {(iid, "a1-j1"): 1, (iid, "a1-j2"): 2, (iid, "a1-j3"): 1}
                )
        finally:
            await a1.stop()

    asyncio.run(scenario())


def _job(proc: Dashboard, iid: str) -> str:
    with read_transaction(proc.engine) as conn:
        return {j.job_identifier: j.status for j in instances.jobs_of_instance(conn, iid)}["a1-j2"]


def _spawn(data: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.dashboard.dash_proc", str(data), str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=env,
    )


async def _line(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(60):
        while True:
            line = await loop.run_in_executor(None, proc.stdout.readline)
            if not line:
                raise AssertionError(f"dashboard exited before {prefix}")
            if line.startswith(prefix):
                return line.strip()


def test_sigkill_at_random_moments_nothing_lost_nothing_twice(tmp_path: Path) -> None:
    # 20 kills fit the default size (about 30 s here); the long size kills more, on more work
    kills = 40 if LONG else 20
    count, length = (8, 200) if LONG else (4, 150)

    async def scenario() -> None:
        rng = random.Random(7)
        port = free_port()
        data = tmp_path / "dash"
        target = f"127.0.0.1:{port}"
        agents = [
            SimAgent("a1", target, triggers=["a1-start"], delay=0.01),
            SimAgent("a2", target, delay=0.01),
        ]
        for agent in agents:
            await agent.start()
        child = _spawn(data, port, "--create", str(count), "--length", str(length))
        procs = [child]
        progress: list[int] = []
        try:
            ids = (await _line(child, "CREATED")).split()[1:]
            engine = db.create_engine_for(f"sqlite:///{data / 'dashboard.sqlite'}")
            for _ in range(kills):
                # kill only once the agents are back: a moment inside the run, not before it
                await wait_until(lambda: all(a.client.session is not None for a in agents))
                await asyncio.sleep(rng.uniform(0.0, 0.25))
                progress.append(sum(a.initiations.total() for a in agents))
                child.send_signal(signal.SIGKILL)
                child.wait()
                child = _spawn(data, port)
                procs.append(child)
                await _line(child, "READY")
            await wait_until(
                lambda: set(_statuses(engine, ids).values()) == {"COMPLETE"}, timeout=120
            )
            # the kills fell inside the run (most of them): work had started, was not finished
            inside = [p for p in progress if 0 < p < count * length]
            assert len(inside) >= kills * 3 // 4, progress
            # no job raised twice, none lost
            raised: Counter[tuple[str, str]] = Counter()
            for agent in agents:
                raised.update(agent.initiations)
            expected = {(i, f"a{(n - 1) % 2 + 1}-j{n}") for i in ids for n in range(1, length + 1)}
            assert set(raised) == expected
            assert set(raised.values()) == {1}
            # every job transition audited exactly once
            with read_transaction(engine) as conn:
                trail = Counter(
                    (
                        c.entry.instance_id,
                        c.entry.job_identifier,
                        c.entry.from_status,
                        c.entry.to_status,
                    )
                    for c in changes.changes_after(conn, 0, limit=10**6)
                    if c.entry.job_identifier and c.entry.to_status
                )
            for iid, job in expected:
                assert trail[(iid, job, "WAITING", "RUNNING")] == 1
                assert trail[(iid, job, "RUNNING", "COMPLETE")] == 1
            engine.dispose()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            for agent in agents:
                await agent.stop()

    asyncio.run(scenario())


def test_restart_from_format_1_snapshots_carries_on(tmp_path: Path) -> None:
    """Snapshots stored before format 2 (as the old orchestrator wrote them) still recover."""
    import json

    from ikasched_dashboard.engine.snapshot import from_snapshot, to_snapshot_v1
    from ikasched_dashboard.plans.convert import plan_from_proto

    async def scenario() -> None:
        port = free_port()
        a1 = SimAgent("a1", f"127.0.0.1:{port}", auto=False, triggers=["a1-start"])
        await a1.start()
        proto = chain_plan("p", ["a1"], 3)
        try:
            async with running_dashboard(tmp_path, port) as proc:
                await provision(proc, proto)
                iid = await proc.orchestrator.create_instance(NewInstance("p", 1))
                await wait_until(lambda: len(a1.queued) == 1)
                (first,) = a1.queued
                engine = proc.engine
                with read_transaction(engine) as conn:
                    (stored,) = [s for s in instances.load_snapshots(conn) if s.id == iid]
                data = json.loads(stored.snapshot)
                assert data["state"]["format"] == 2
                plan = plan_from_proto(proto, version=data["state"]["plan_version"])
                state = from_snapshot(plan, data["state"])
                old = {"state": to_snapshot_v1(state), "retries": data["retries"]}
            # rewrite it as format 1 while the dashboard is down
            with db.write_transaction(engine) as conn:
                instances.write_snapshots(conn, [(iid, json.dumps(old).encode())])
            with read_transaction(engine) as conn:
                (again,) = [s for s in instances.load_snapshots(conn) if s.id == iid]
            assert json.loads(again.snapshot)["state"]["format"] == 1
            await a1.release(first)
            a1.auto = True
            async with running_dashboard(tmp_path, port) as proc:
                assert proc.orchestrator.live_instance_ids() == [iid]
                await wait_until(lambda: _statuses(proc.engine, [iid])[iid] == "COMPLETE")
                assert a1.initiations == Counter(
                    {(iid, "a1-j1"): 1, (iid, "a1-j2"): 1, (iid, "a1-j3"): 1}
                )
        finally:
            await a1.stop()

    asyncio.run(scenario())
