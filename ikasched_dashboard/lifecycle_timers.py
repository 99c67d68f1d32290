"""The lifecycle's bridge to the Dispatcher: one start trigger per enabled plan with a window
start, one one-shot end timer per live instance with a projected end.

Tests pass their own `TimerHost` and fire timers themselves; otherwise the bridge owns a
Dispatcher (on the lifecycle's clock), started after recovery and closed with the lifecycle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from ikasched_common.clock import Clock
from ikasched_common.dispatch import Dispatcher, Fire, FireCallback
from ikasched_common.errors import NotFound
from ikasched_common.quartz import CronTrigger
from ikasched_dashboard.lifecycle_windows import (
    PlanWindow,
    TimerHost,
    end_job_id,
    one_shot_trigger,
    start_job_id,
)

_END_GRACE = timedelta(days=3650)  # a late end is still an end

WindowStartCallback = Callable[[str, datetime], Awaitable[object]]
EndDueCallback = Callable[[str], Awaitable[object]]


class LifecycleTimers:
    """Start triggers and end timers over a TimerHost (see the module doc)."""

    def __init__(
        self,
        timers: TimerHost | None,
        *,
        clock: Clock,
        on_misfire: Callable[[Fire], Awaitable[None]],
    ) -> None:
        self._own_dispatcher: Dispatcher | None = None
        if timers is None:
            self._own_dispatcher = Dispatcher(on_misfire, clock=clock)
            timers = self._own_dispatcher
        self._timers = timers

    def add(
        self, job_id: str, trigger: CronTrigger, callback: FireCallback, grace: timedelta
    ) -> None:
        self.remove(job_id)
        self._timers.add_job(job_id, trigger, callback, misfire_grace=grace)

    def remove(self, job_id: str) -> None:
        # One lookup by id, never a listing of every timer: recovery arms one end timer per
        # live instance, and listing them all on each arm made a restart quadratic in them.
        # APScheduler drops an exhausted one-shot job by itself and then raises
        # JobLookupError (a KeyError) from remove_job; the Dispatcher forgets it first.
        with contextlib.suppress(KeyError, NotFound):
            self._timers.remove_job(job_id)

    def has(self, job_id: str) -> bool:
        return job_id in self._timers.job_ids()

    def arm_start(self, window: PlanWindow, on_start: WindowStartCallback) -> None:
        """The plan's start trigger (removed when the plan is disabled or has none)."""
        job_id = start_job_id(window.name)
        if not window.enabled or window.trigger is None:
            self.remove(job_id)
            return
        name = window.name

        async def fire(f: Fire) -> None:
            await on_start(name, f.scheduled)

        self.add(job_id, window.trigger, fire, window.grace)

    def arm_end(self, instance_id: str, projected_end_ms: int, on_end: EndDueCallback) -> None:
        """The instance's end timer (none without a projected end)."""
        if not projected_end_ms:
            return

        async def fire(_f: Fire) -> None:
            await on_end(instance_id)

        self.add(end_job_id(instance_id), one_shot_trigger(projected_end_ms), fire, _END_GRACE)

    def start(self) -> None:
        if self._own_dispatcher is not None and not self._own_dispatcher.running:
            self._own_dispatcher.start()

    async def close(self) -> None:
        if self._own_dispatcher is not None:
            await self._own_dispatcher.close()
