"""Instance lifecycle: time-window starts, PREPARED next instances, TTL ends, missed runs and
restart recovery (docs/semantics.md §9, docs/architecture.md §6).

`Lifecycle` owns the dashboard's timers, one start trigger per enabled plan with a
`time_window_start` and one end timer per live instance with a projected end, and drives the
orchestrator through the `Orchestration` facade. Every decision reads time from a Clock, so
tests move a ManualClock and fire timers themselves (`TimerHost` is what the lifecycle needs of
the Dispatcher).

The parts: plan timing in lifecycle_windows (PlanWindow, timer ids, outcomes), the Dispatcher
bridge in lifecycle_timers, store access in lifecycle_records, start-up recovery in
lifecycle_recovery; this module keeps the decisions (window starts, ends, manual creation and
reset, plan changes).

Choices worth knowing:
- A window start is handled under a per-plan lock: manual creates, reschedules and starts of one
  plan never interleave.
- An instance's start_time is its window start; projected end = that start + TTL. TTL 0 means
  no end timer (and no PREPARED next instance), as in Ikasan.
- A start fire later than the plan's misfire grace (default 300 s) is never run: it becomes a
  missed-run record. On start-up, window starts that fell while the dashboard was down are
  classified the same way; of several late ones only the newest is created (the others are
  recorded as missed, superseded).
- A skipped window start (non-concurrent plan with a live instance) is logged and written to
  the audit trail with empty statuses and the reason in `detail`.
- End timers are one-shot Quartz expressions with a year, built from the UTC timestamp.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine

from ikasched_common.blackout import epoch_ms
from ikasched_common.clock import Clock, SystemClock
from ikasched_common.dispatch import Fire
from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_dashboard.engine.inputs import Pairs
from ikasched_dashboard.interfaces import NewInstance, Orchestration
from ikasched_dashboard.lifecycle_records import SCHEDULE_ACTOR, LifecycleRecords
from ikasched_dashboard.lifecycle_recovery import RECOVERABLE, StartupRecovery
from ikasched_dashboard.lifecycle_timers import LifecycleTimers
from ikasched_dashboard.lifecycle_windows import (
    DEFAULT_MISFIRE_GRACE_SECONDS,
    PlanWindow,
    RecoveryReport,
    TimerHost,
    WindowOutcome,
    calendar_notes,
    end_job_id,
    manual_end_time_ms,
    one_shot_trigger,
    seconds_text,
    start_job_id,
)

log = logging.getLogger(__name__)

TTL_ACTOR = "ttl"
COMPLETION_ACTOR = "completion"
_NOT_LIVE = ("ENDED", "PREPARED")


class Lifecycle:
    """Time windows and instance ends of every plan, over the store and the orchestrator."""

    def __init__(
        self,
        engine: Engine,
        orchestration: Orchestration,
        *,
        clock: Clock | None = None,
        timers: TimerHost | None = None,
    ) -> None:
        self._orch = orchestration
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._records = LifecycleRecords(engine, self.clock)
        self._timers = LifecycleTimers(timers, clock=self.clock, on_misfire=self.on_misfire)
        self._windows: dict[str, PlanWindow] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._ending: set[str] = set()

    # -- helpers ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    def _now_ms(self) -> int:
        return epoch_ms(self.clock.now())

    def lock(self, plan_name: str) -> asyncio.Lock:
        """The plan's lock: its window starts, manual creates and reschedules never interleave."""
        lock = self._locks.get(plan_name)
        if lock is None:
            lock = self._locks[plan_name] = asyncio.Lock()
        return lock

    async def _load_window(self, plan_name: str) -> PlanWindow | None:
        record = await self._records.plan(plan_name)
        if record is None:
            self._windows.pop(plan_name, None)
            return None
        window = PlanWindow.of_record(record, await self._records.calendars())
        self._windows[plan_name] = window
        return window

    def remember_window(self, window: PlanWindow) -> None:
        self._windows[window.name] = window

    async def window(self, plan_name: str) -> PlanWindow | None:
        """The cached window settings of a plan (loaded from the store when not cached)."""
        found = self._windows.get(plan_name)
        return found if found is not None else await self._load_window(plan_name)

    async def next_window_start(self, plan_name: str) -> datetime | None:
        """The next window start of an enabled plan (blackouts skipped), else None."""
        window = await self.window(plan_name)
        if window is None or not window.enabled:
            return None
        return window.next_start(self._now())

    def remove_timer(self, job_id: str) -> None:
        self._timers.remove(job_id)

    def has_end_timer(self, instance_id: str) -> bool:
        return self._timers.has(end_job_id(instance_id))

    def has_start_trigger(self, plan_name: str) -> bool:
        return self._timers.has(start_job_id(plan_name))

    # -- timers -------------------------------------------------------------------------------

    def arm_start(self, window: PlanWindow) -> None:
        """The plan's start trigger, firing `on_window_start`."""
        self._timers.arm_start(window, self.on_window_start)

    def arm_end(self, instance_id: str, projected_end_ms: int) -> None:
        """The instance's end timer, firing `on_end_due`."""
        self._timers.arm_end(instance_id, projected_end_ms, self.on_end_due)

    async def on_misfire(self, fire: Fire) -> None:
        """The Dispatcher's misfire route: a start beyond its grace is a missed run; an end is
        still carried out."""
        if fire.job_id.startswith("end:"):
            await self.on_end_due(fire.job_id[4:])
        elif fire.job_id.startswith("start:"):
            plan_name = fire.job_id[6:]
            window = await self.window(plan_name)
            grace = window.grace if window is not None else timedelta(0)
            await self._records.record_missed(
                plan_name,
                [fire.scheduled],
                fire.actual,
                f"window start fired {seconds_text(fire.lateness)} late, beyond the "
                f"misfire grace of {seconds_text(grace)}",
            )
        else:
            log.warning("misfire of unknown timer %s", fire.job_id)

    # -- window start (docs/semantics.md §9.2) -----------------------------------------------------

    async def on_window_start(
        self, plan_name: str, scheduled: datetime, *, actor: str = SCHEDULE_ACTOR
    ) -> WindowOutcome:
        """Create (or activate the PREPARED) instance for the window start at `scheduled`."""
        async with self.lock(plan_name):
            return await self.window_start_unlocked(plan_name, scheduled, actor)

    async def window_start_unlocked(
        self, plan_name: str, scheduled: datetime, actor: str
    ) -> WindowOutcome:
        """`on_window_start` for a caller already holding the plan's lock (recovery)."""
        scheduled_ms = epoch_ms(scheduled)
        window = await self._load_window(plan_name)
        if window is None or not window.enabled:
            return WindowOutcome(
                plan_name, scheduled_ms, "disabled", reason="plan missing or disabled"
            )
        for note in calendar_notes(window, scheduled):
            await self._records.note(plan_name, note, cause="calendar", actor=actor)
        if window.blackout.contains(scheduled):
            await self._records.note(
                plan_name,
                f"instance not created: window start "
                f"{scheduled.isoformat()} is inside a blackout window",
                cause="window-start",
                actor=actor,
            )
            prepared_id = await self.prepare_next(window, scheduled)
            return WindowOutcome(
                plan_name,
                scheduled_ms,
                "blackout",
                reason="inside a blackout window",
                prepared_id=prepared_id,
            )
        live = self._orch.live_instance_ids(plan_name)
        if not window.concurrent and live:
            reason = (
                f"instance not created: plan is not able to run concurrently and "
                f"instance(s) {', '.join(sorted(live))} are live"
            )
            await self._records.note(plan_name, reason, cause="window-start", actor=actor)
            return WindowOutcome(plan_name, scheduled_ms, "skipped", reason=reason)
        end_ms = window.projected_end_ms(scheduled_ms)
        prepared = await self._records.instances(plan_name, statuses=("PREPARED",))
        match = next((p for p in prepared if p.start_time == scheduled_ms), None)
        for stale in prepared:
            if stale is not match and stale.start_time <= scheduled_ms:
                await self._orch.drop_prepared(stale.id)
        if match is not None:
            await self._orch.activate_instance(
                match.id, time_ms=self._now_ms(), projected_end_time_ms=end_ms
            )
            instance_id, action = match.id, "activated"
        else:
            instance_id = await self._orch.create_instance(
                NewInstance(
                    plan_name=plan_name,
                    start_time_ms=scheduled_ms,
                    projected_end_time_ms=end_ms,
                    created_by=actor,
                )
            )
            action = "created"
        self.arm_end(instance_id, end_ms)
        prepared_id = await self.prepare_next(window, scheduled)
        return WindowOutcome(plan_name, scheduled_ms, action, instance_id, prepared_id=prepared_id)

    async def prepare_next(self, window: PlanWindow, after: datetime) -> str:
        """Make sure the next window start has its PREPARED instance; its id (or "")."""
        if not window.ttl_ms or not window.enabled:
            return ""
        following = window.next_start(after)
        if following is None:
            return ""
        start_ms = epoch_ms(following)
        existing = await self._records.instances(window.name, statuses=("PREPARED",))
        for p in existing:
            if p.start_time == start_ms:
                return p.id
        return await self._orch.create_instance(
            NewInstance(
                plan_name=window.name,
                start_time_ms=start_ms,
                projected_end_time_ms=window.projected_end_ms(start_ms),
                created_by=SCHEDULE_ACTOR,
                prepared=True,
            )
        )

    # -- ends (docs/semantics.md §9.3) -------------------------------------------------------------

    async def on_end_due(self, instance_id: str) -> bool:
        """The TTL end timer fired: end the instance unless it runs until manually ended."""
        self.remove_timer(end_job_id(instance_id))
        row = await self._records.instance(instance_id)
        if row is None or row.status in _NOT_LIVE:
            return False
        if row.run_until_manually_ended:
            log.info(
                "instance %s reached its projected end but runs until manually ended", instance_id
            )
            return False
        await self.end_as(instance_id, TTL_ACTOR, kill_running_jobs=True)
        return True

    async def end_as(self, instance_id: str, actor: str, *, kill_running_jobs: bool) -> None:
        """End the instance as `actor` (once, however many timers and verbs ask at once)."""
        self.remove_timer(end_job_id(instance_id))
        if instance_id in self._ending:
            return
        self._ending.add(instance_id)
        try:
            await self._orch.end_instance(
                instance_id,
                actor=actor,
                time_ms=self._now_ms(),
                kill_running_jobs=kill_running_jobs,
            )
        finally:
            self._ending.discard(instance_id)

    async def end_instance(
        self, instance_id: str, *, actor: str, kill_running_jobs: bool = True
    ) -> None:
        """A manual end (ignores run-until-manually-ended)."""
        row = await self._records.instance(instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} not found")
        if row.status == "ENDED":
            raise FailedPrecondition(f"instance {instance_id} has already ENDED")
        if row.status == "PREPARED":
            raise FailedPrecondition(
                f"instance {instance_id} is PREPARED: it is not live (disable the plan to drop it)"
            )
        await self.end_as(instance_id, actor, kill_running_jobs=kill_running_jobs)

    async def on_instance_complete(self, instance_id: str) -> bool:
        """The orchestrator saw the root become COMPLETE: end the instance if the plan says
        endJobPlanUponCompletion and it does not run until manually ended."""
        row = await self._records.instance(instance_id)
        if row is None or row.status in _NOT_LIVE or row.run_until_manually_ended:
            return False
        window = await self.window(row.plan_name)
        if window is None or not window.end_upon_completion:
            return False
        await self.end_as(instance_id, COMPLETION_ACTOR, kill_running_jobs=False)
        return True

    async def run_until_manually_ended_changed(self, instance_id: str, enabled: bool) -> None:
        """Keep the end timer in step with the flag (a cleared flag re-arms a fired timer)."""
        if enabled:
            return
        row = await self._records.instance(instance_id)
        if row is None or row.status in _NOT_LIVE or not row.projected_end_time:
            return
        if not self.has_end_timer(instance_id):
            at = max(row.projected_end_time, self._now_ms() + 1000)
            self.arm_end(instance_id, at)

    # -- manual creation and reset ------------------------------------------------------------

    async def create_manual(
        self,
        plan_name: str,
        *,
        actor: str,
        parameters: Pairs = (),
        hold_command_jobs: bool = False,
        ignore_blackout: bool = False,
        reset_from_instance_id: str = "",
        instance_id: str = "",
    ) -> str:
        """Create an instance now (docs/semantics.md §9.2 manual creation); its id
        (`instance_id` when given, else a new one)."""
        async with self.lock(plan_name):
            window = await self._load_window(plan_name)
            if window is None:
                raise NotFound(f"plan {plan_name} not found")
            if not window.enabled:
                raise FailedPrecondition(f"plan {plan_name} is disabled")
            now = self._now()
            if not ignore_blackout and window.blackout.contains(now):
                raise FailedPrecondition(f"plan {plan_name} is inside a blackout window now")
            live = [
                i for i in self._orch.live_instance_ids(plan_name) if i != reset_from_instance_id
            ]
            if not window.concurrent and live:
                raise FailedPrecondition(
                    f"plan {plan_name} is not able to run concurrently and instance(s) "
                    f"{', '.join(sorted(live))} are live"
                )
            end_ms = manual_end_time_ms(window, now)
            instance_id = await self._orch.create_instance(
                NewInstance(
                    plan_name=plan_name,
                    start_time_ms=epoch_ms(now),
                    projected_end_time_ms=end_ms,
                    parameters=parameters,
                    hold_command_jobs=hold_command_jobs,
                    created_by=actor,
                    reset_from_instance_id=reset_from_instance_id,
                    instance_id=instance_id,
                )
            )
            self.arm_end(instance_id, end_ms)
            return instance_id

    async def reset_instance(
        self,
        instance_id: str,
        *,
        actor: str,
        parameters: Pairs = (),
        hold_command_jobs: bool = False,
    ) -> str:
        """Replace an instance by a new one from the current plan; the old one ENDS first
        (its running jobs killed, docs/semantics.md §9.4)."""
        row = await self._records.instance(instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} not found")
        if row.status in _NOT_LIVE:
            raise FailedPrecondition(f"instance {instance_id} is {row.status}: not live")
        await self.end_as(instance_id, actor, kill_running_jobs=True)
        return await self.create_manual(
            row.plan_name,
            actor=actor,
            parameters=parameters,
            hold_command_jobs=hold_command_jobs,
            ignore_blackout=True,
            reset_from_instance_id=instance_id,
        )

    # -- plan changes -------------------------------------------------------------------------

    async def plan_changed(self, plan_name: str) -> None:
        """A plan was provisioned, enabled or disabled: drop PREPARED instances, re-register the
        start trigger and prepare the next instance (Ikasan's reSchedule)."""
        async with self.lock(plan_name):
            for p in await self._records.instances(plan_name, statuses=("PREPARED",)):
                await self._orch.drop_prepared(p.id)
            window = await self._load_window(plan_name)
            if window is None:
                self.remove_timer(start_job_id(plan_name))
                return
            self.arm_start(window)
            await self.prepare_next(window, self._now())

    async def calendar_changed(self, calendar_name: str, plan_names: list[str]) -> None:
        """A calendar was applied: the plans using it reschedule as on a plan change."""
        for plan_name in plan_names:
            await self.plan_changed(plan_name)
        log.info("calendar %s changed: rescheduled %s", calendar_name, plan_names)

    async def plan_removed(self, plan_name: str) -> None:
        """A plan was deleted: no more starts, no PREPARED instances."""
        async with self.lock(plan_name):
            self.remove_timer(start_job_id(plan_name))
            for p in await self._records.instances(plan_name, statuses=("PREPARED",)):
                await self._orch.drop_prepared(p.id)
            self._windows.pop(plan_name, None)

    # -- start-up (docs/semantics.md §9.6, docs/architecture.md §6.4) ------------------------------

    async def start(self) -> RecoveryReport:
        """Recover instances and timers after a (re)start, catch up missed window starts, then
        start dispatching."""
        report = await StartupRecovery(self, self._records, self._orch).run()
        self._timers.start()
        return report

    async def close(self) -> None:
        await self._timers.close()


__all__ = [
    "DEFAULT_MISFIRE_GRACE_SECONDS",
    "RECOVERABLE",
    "Lifecycle",
    "PlanWindow",
    "RecoveryReport",
    "TimerHost",
    "WindowOutcome",
    "end_job_id",
    "manual_end_time_ms",
    "one_shot_trigger",
    "start_job_id",
]
