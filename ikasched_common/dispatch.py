"""Catch-up of missed fires, and the thin APScheduler edge that dispatches fires.

Fire times are computed only by quartz.CronTrigger (pure); APScheduler (>= 3.11.1, < 4) merely
wakes the event loop at those times. Its own misfire handling is switched off
(``misfire_grace_time=None``, ``coalesce=False``: its 1 s default drops late fires with only a
log line), and the Dispatcher judges lateness itself against its Clock:

- a fire no later than the grace goes to the job's callback;
- a later fire goes to ``on_misfire`` instead (it is never run and never dropped silently).

Callers that must run something late on start-up (a time window missed while the dashboard was
down) use the pure ``catch_up`` with the clock's "now" instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from ikasched_common.clock import Clock, SystemClock
from ikasched_common.errors import AlreadyExists, InvalidArgument, NotFound
from ikasched_common.quartz import CronTrigger

__all__ = [
    "CatchUp",
    "Dispatcher",
    "Fire",
    "FireCallback",
    "QuartzTrigger",
    "catch_up",
]

_log = logging.getLogger(__name__)
_MICROSECOND = timedelta(microseconds=1)


# --------------------------------------------------------------------------- pure catch-up


@dataclass(frozen=True, slots=True)
class CatchUp:
    """Fires that fell due between the last handled fire and now."""

    late: tuple[datetime, ...]  # within the grace: run them now
    missed: tuple[datetime, ...]  # beyond the grace: record as missed runs
    truncated: bool  # more than ``limit`` fires were due; only the latest are listed


def catch_up(
    trigger: CronTrigger,
    last_fire: datetime,
    now: datetime,
    grace: timedelta,
    *,
    limit: int = 1000,
) -> CatchUp:
    """Classify fires in (last_fire, now] by lateness against ``grace``."""
    if limit < 1:
        raise InvalidArgument("must be 1 or more", field="limit")
    fires: list[datetime] = []
    truncated = False
    at = last_fire
    while True:
        fire = trigger.next_fire_time(at)
        if fire is None or fire > now:
            break
        fires.append(fire)
        if len(fires) > limit:
            del fires[0]
            truncated = True
        at = fire
    late = tuple(f for f in fires if now - f <= grace)
    missed = tuple(f for f in fires if now - f > grace)
    return CatchUp(late, missed, truncated)


# --------------------------------------------------------------------------- APScheduler edge


class QuartzTrigger(BaseTrigger):  # type: ignore[misc]
    """APScheduler trigger whose fire times come from our CronTrigger."""

    __slots__ = ("trigger",)

    def __init__(self, trigger: CronTrigger) -> None:
        self.trigger = trigger

    def __repr__(self) -> str:
        return f"QuartzTrigger({self.trigger!r})"

    def __str__(self) -> str:
        return f"quartz[{self.trigger.expression.text} {self.trigger.timezone}]"

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is not None:
            return self.trigger.next_fire_time(previous_fire_time)
        return self.trigger.next_fire_time(now - _MICROSECOND)  # at or after now


@dataclass(frozen=True, slots=True)
class Fire:
    """One dispatched fire: when it was due and when it was handed over."""

    job_id: str
    scheduled: datetime
    actual: datetime

    @property
    def lateness(self) -> timedelta:
        return self.actual - self.scheduled


FireCallback = Callable[[Fire], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class _Job:
    callback: FireCallback
    grace: timedelta


async def _wake() -> None:
    """APScheduler's job body; the real work is started from the submission event."""


class Dispatcher:
    """Runs callbacks at CronTrigger fire times on the running asyncio loop."""

    def __init__(
        self,
        on_misfire: FireCallback,
        *,
        clock: Clock | None = None,
        misfire_grace: timedelta = timedelta(seconds=30),
    ) -> None:
        if misfire_grace < timedelta(0):
            raise InvalidArgument("must not be negative", field="misfire_grace")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.misfire_grace = misfire_grace
        self._on_misfire = on_misfire
        self._jobs: dict[str, _Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES)

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Start dispatching; call from inside the running event loop."""
        asyncio.get_running_loop()
        self._scheduler.start()
        self._running = True

    def shutdown(self) -> None:
        """Stop dispatching now; callbacks already started keep running (see ``close``)."""
        if self._running:
            self._running = False
            self._scheduler.shutdown(wait=False)  # APScheduler defers this to the loop

    async def close(self) -> None:
        """Stop dispatching and wait for every callback already started."""
        self.shutdown()
        await asyncio.sleep(0)  # let APScheduler's deferred shutdown run
        await self.drain()

    async def drain(self) -> None:
        """Wait for every callback started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def add_job(
        self,
        job_id: str,
        trigger: CronTrigger,
        callback: FireCallback,
        *,
        misfire_grace: timedelta | None = None,
    ) -> datetime | None:
        """Schedule ``callback`` at every fire from now on; returns the first fire time."""
        if job_id in self._jobs:
            raise AlreadyExists(f"dispatch job {job_id!r} already exists")
        grace = self.misfire_grace if misfire_grace is None else misfire_grace
        if grace < timedelta(0):
            raise InvalidArgument("must not be negative", field="misfire_grace")
        self._jobs[job_id] = _Job(callback, grace)
        job = self._scheduler.add_job(
            _wake,
            trigger=QuartzTrigger(trigger),
            id=job_id,
            name=job_id,
            misfire_grace_time=None,
            coalesce=False,
            max_instances=1_000_000,  # never let APScheduler skip a fire for overlap
            replace_existing=False,
        )
        return self._next_run_time(job)

    def remove_job(self, job_id: str) -> None:
        if self._jobs.pop(job_id, None) is None:
            raise NotFound(f"dispatch job {job_id!r} does not exist")
        # a one-shot trigger that has fired is already gone from APScheduler
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job_id)

    def job_ids(self) -> list[str]:
        return sorted(self._jobs)

    def next_fire_time(self, job_id: str) -> datetime | None:
        if job_id not in self._jobs:
            raise NotFound(f"dispatch job {job_id!r} does not exist")
        return self._next_run_time(self._scheduler.get_job(job_id))

    @staticmethod
    def _next_run_time(job: Any) -> datetime | None:
        at = getattr(job, "next_run_time", None) if job is not None else None
        return at.astimezone(UTC) if isinstance(at, datetime) else None

    def _on_event(self, event: JobSubmissionEvent) -> None:
        job = self._jobs.get(event.job_id)
        if job is None or not self._running:
            return
        actual = self.clock.now()
        if event.code == EVENT_JOB_MAX_INSTANCES:
            _log.warning("dispatch job %s hit APScheduler's instance limit", event.job_id)
        for scheduled in event.scheduled_run_times:
            fire = Fire(event.job_id, scheduled.astimezone(UTC), actual)
            target = job.callback if fire.lateness <= job.grace else self._on_misfire
            self._spawn(target, fire)

    def _spawn(self, target: FireCallback, fire: Fire) -> None:
        task = asyncio.get_running_loop().create_task(self._call(target, fire))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _call(target: FireCallback, fire: Fire) -> None:
        try:
            result = target(fire)
            if inspect.isawaitable(result):
                await result
        except Exception:
            _log.exception(
                "dispatch callback failed for %s fire at %s", fire.job_id, fire.scheduled
            )
