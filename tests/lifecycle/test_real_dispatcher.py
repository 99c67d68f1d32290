"""The lifecycle on the real Dispatcher (APScheduler on the running loop, system clock): a
per-second window start creates instances and their one-shot end timers end them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import Engine

from ikasched_common.blackout import epoch_ms
from ikasched_common.clock import SystemClock
from ikasched_dashboard.lifecycle import Lifecycle, start_job_id
from ikasched_dashboard.plans.loader import load_plan_text

from .fakes import FakeOrchestration, save_plan
from .test_lifecycle import PLAN


async def _until(done: Callable[[], bool]) -> None:
    while not done():
        await asyncio.sleep(0.01)


async def test_per_second_windows_start_and_end_on_the_real_dispatcher(engine: Engine) -> None:
    clock = SystemClock()
    p = load_plan_text(PLAN)
    p.time_window_start = "* * * * * ?"
    p.context_ttl_milliseconds = 1000
    p.able_to_run_concurrently = True
    save_plan(engine, p, now_ms=epoch_ms(clock.now()))
    orch = FakeOrchestration(engine, clock)
    lc = Lifecycle(engine, orch, clock=clock)
    try:
        await lc.start()
        assert lc.has_start_trigger("daily") and start_job_id("daily") == "start:daily"
        # a window start activates the PREPARED instance made for it
        await asyncio.wait_for(_until(lambda: bool(orch.activated)), 20)
        first = orch.activated[0]
        await asyncio.wait_for(_until(lambda: any(e.instance_id == first for e in orch.ended)), 20)
        end = next(e for e in orch.ended if e.instance_id == first)
        assert end.actor == "ttl" and end.kill_running_jobs
        row = orch.live[first].row
        # projected end = its (whole-second) window start + TTL; the end came no earlier
        assert row.projected_end_time % 1000 == 0
        assert end.time_ms >= row.projected_end_time
        assert not lc.has_end_timer(first)
    finally:
        await lc.close()
