"""Retry timers: a ScheduleRetry becomes a timer once its batch has committed.

The pending retries live in the instance's stored snapshot beside the engine state
({"state": ..., "retries": [[job, context, attempt, due_ms], ...]}), so a restart re-arms
them. A timer that fires queues its RetryDue as a request without an answer; the retry
applies only if the instance still waits for that attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ikasched_dashboard.engine.state import JobKey
from ikasched_dashboard.orchestrator.steps import ScheduledRetry


class RetryTimers:
    """The armed timers, per instance; `fire` is called on the event loop when one is due."""

    def __init__(self, fire: Callable[[ScheduledRetry], None]) -> None:
        self._fire = fire
        self._timers: dict[str, dict[tuple[JobKey, int], asyncio.TimerHandle]] = {}

    def arm(self, retry: ScheduledRetry, now: int) -> None:
        """Arm a timer (once per instance, job and attempt)."""
        armed = self._timers.setdefault(retry.instance_id, {})
        key = (retry.job, retry.attempt)
        if key in armed:
            return

        def fire() -> None:
            armed.pop(key, None)
            self._fire(retry)

        delay = max(0.0, (retry.due_ms - now) / 1000)
        armed[key] = asyncio.get_running_loop().call_later(delay, fire)

    def cancel_instance(self, instance_id: str) -> None:
        for handle in self._timers.pop(instance_id, {}).values():
            handle.cancel()

    def cancel_all(self) -> None:
        for armed in self._timers.values():
            for handle in armed.values():
                handle.cancel()
        self._timers.clear()
