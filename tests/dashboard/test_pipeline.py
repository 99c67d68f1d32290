"""The orchestrator's pipelined batches: batch N+1 is built on N's uncommitted states while N
commits; when N's commit fails, N+1's work is redone on what was really committed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ikasched_common.journal import MemoryJournal
from ikasched_dashboard.engine.inputs import Hold, Skip
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.orchestrator import Orchestrator
from ikasched_dashboard.store import db, instances
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.testing import chain_plan, store_plan, wait_until


def _orchestrator(tmp_path: Path) -> Orchestrator:
    url = db.default_url(tmp_path)
    db.upgrade(url)
    engine = db.create_engine_for(url)
    store_plan(engine, chain_plan("p", ["a1"], 4))
    return Orchestrator(engine, MemoryJournal(), MemoryJournal())


def _jobs(orch: Orchestrator, iid: str) -> dict[str, tuple[bool, bool]]:
    with read_transaction(orch._engine) as conn:
        return {j.job_identifier: (j.held, j.skip) for j in instances.jobs_of_instance(conn, iid)}


class _GatedCommit:
    """Wraps the pipeline's commit: the `nth` commit waits for `release`, then runs or fails."""

    def __init__(self, orch: Orchestrator, nth: int, fail: bool) -> None:
        self.real: Callable[[Any], None] = orch._pipeline.commit
        self.nth, self.fail = nth, fail
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        orch._pipeline.commit = self

    def __call__(self, batch: Any) -> None:
        self.calls += 1
        if self.calls == self.nth:
            self.entered.set()
            assert self.release.wait(10)
            if self.fail:
                raise RuntimeError("disk full")
        self.real(batch)


def test_batch_built_while_the_previous_commits_sees_its_states(tmp_path: Path) -> None:
    orch = _orchestrator(tmp_path)

    async def scenario() -> None:
        await orch.start()
        try:
            iid = await orch.create_instance(NewInstance("p", 1))
            gate = _GatedCommit(orch, nth=1, fail=False)
            first = asyncio.ensure_future(orch.apply(iid, Hold("a1-j2", "p", actor="ops")))
            await wait_until(gate.entered.is_set)
            seen: list[bool] = []

            def observe(step: Any) -> None:
                # runs in batch N+1 while N (the hold) is still committing
                seen.append(orch._pipeline.inflight is not None)
                seen.append(orch._layers.live(step, iid).state.jobs[("a1-j2", "p")].held)

            second = asyncio.ensure_future(orch._submit(observe))
            third = asyncio.ensure_future(orch.apply(iid, Skip("a1-j3", "p", actor="ops")))
            await wait_until(lambda: bool(seen))
            assert not first.done() and not second.done()  # answered only after commits
            gate.release.set()
            await asyncio.gather(first, second, third)
            assert seen == [True, True]
            jobs = _jobs(orch, iid)
            assert jobs["a1-j2"] == (True, False) and jobs["a1-j3"] == (False, True)
        finally:
            await orch.stop()

    asyncio.run(scenario())


def test_failed_commit_drops_the_batch_built_on_it_and_redoes_its_work(tmp_path: Path) -> None:
    orch = _orchestrator(tmp_path)

    async def scenario() -> None:
        await orch.start()
        try:
            iid = await orch.create_instance(NewInstance("p", 1))
            gate = _GatedCommit(orch, nth=1, fail=True)
            ending = asyncio.ensure_future(orch.end_instance(iid, actor="ops", time_ms=1))
            await wait_until(gate.entered.is_set)
            # built on the (uncommitted) end: the instance looks gone to this batch
            hold = asyncio.ensure_future(orch.apply(iid, Hold("a1-j2", "p", actor="ops")))
            await wait_until(
                lambda: orch._pipeline.inflight is not None and not orch._pipeline.requests
            )
            await asyncio.sleep(0.05)
            gate.release.set()
            results = await asyncio.gather(ending, hold, return_exceptions=True)
            # the end failed; the hold was redone on the live instance, and succeeded
            assert isinstance(results[0], RuntimeError)
            assert not isinstance(results[1], BaseException), results[1]
            assert orch.live_instance_ids() == [iid]
            assert _jobs(orch, iid)["a1-j2"] == (True, False)
        finally:
            await orch.stop()

    asyncio.run(scenario())
