"""Instance lifecycle: time-window starts, PREPARED next instances, TTL ends, missed runs and
restart recovery (reference §5, DESIGN §5).

`Lifecycle` owns the dashboard's timers, one start trigger per enabled plan with a
`time_window_start` and one end timer per live instance with a projected end, and drives the
orchestrator through the `Orchestration` facade. Every decision reads time from a Clock, so
tests move a ManualClock and fire timers themselves (`TimerHost` is what the lifecycle needs of
the Dispatcher).

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
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import Connection, Engine

from ikasched.v1 import plan_pb2
from ikasched_common.blackout import Blackout, epoch_ms, from_epoch_ms
from ikasched_common.clock import Clock, SystemClock
from ikasched_common.dispatch import Dispatcher, Fire, FireCallback, catch_up
from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_common.quartz import CronTrigger
from ikasched_dashboard.engine.inputs import Pairs
from ikasched_dashboard.interfaces import NewInstance, Orchestration
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import missed_runs as missed_store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import read_transaction, write_transaction

log = logging.getLogger(__name__)

DEFAULT_MISFIRE_GRACE_SECONDS = 300
SCHEDULE_ACTOR = "schedule"
RECOVERY_ACTOR = "recovery"
TTL_ACTOR = "ttl"
COMPLETION_ACTOR = "completion"
# Live statuses of an instance that restart recovery considers (reference §5.3).
RECOVERABLE = ("WAITING", "RUNNING", "ERROR", "COMPLETE")
_NOT_LIVE = ("ENDED", "PREPARED")
_MINUTE_MS = 60_000
_END_GRACE = timedelta(days=3650)  # a late end is still an end
_ALL = 1_000_000

T = TypeVar("T")


class TimerHost(Protocol):
    """What the lifecycle needs of the Dispatcher."""

    def add_job(
        self,
        job_id: str,
        trigger: CronTrigger,
        callback: FireCallback,
        *,
        misfire_grace: timedelta | None = None,
    ) -> datetime | None: ...

    def remove_job(self, job_id: str) -> None: ...

    def job_ids(self) -> list[str]: ...


def start_job_id(plan_name: str) -> str:
    return f"start:{plan_name}"


def end_job_id(instance_id: str) -> str:
    return f"end:{instance_id}"


def one_shot_trigger(at_ms: int) -> CronTrigger:
    """A Quartz trigger firing once, at the first whole second at or after `at_ms` (UTC)."""
    at = from_epoch_ms(at_ms)
    if at.microsecond:
        at = at.replace(microsecond=0) + timedelta(seconds=1)
    return CronTrigger(f"{at.second} {at.minute} {at.hour} {at.day} {at.month} ? {at.year}", "UTC")


# --------------------------------------------------------------------------- pure plan timing


@dataclass(frozen=True, slots=True)
class PlanWindow:
    """The time-window settings of one plan version, parsed once."""

    name: str
    version: int
    enabled: bool
    trigger: CronTrigger | None
    timezone: str
    ttl_ms: int
    concurrent: bool
    end_upon_completion: bool
    grace: timedelta
    blackout: Blackout
    created_time_ms: int = 0
    environment_group: str = ""

    @classmethod
    def of(
        cls,
        plan: plan_pb2.Context,
        *,
        version: int = 0,
        enabled: bool = True,
        created_time_ms: int = 0,
    ) -> PlanWindow:
        tz = plan.timezone or "UTC"
        trigger = (
            CronTrigger(
                plan.time_window_start, tz, custom_week_day_of_month=plan.custom_week_day_of_month
            )
            if plan.time_window_start
            else None
        )
        ranges = [(r.start, r.end) for r in plan.blackout_window_date_time_ranges]
        return cls(
            name=plan.name,
            version=version,
            enabled=enabled and not plan.disabled,
            trigger=trigger,
            timezone=tz,
            ttl_ms=max(plan.context_ttl_milliseconds, 0),
            concurrent=plan.able_to_run_concurrently,
            end_upon_completion=plan.end_job_plan_upon_completion,
            grace=timedelta(seconds=plan.misfire_grace_seconds or DEFAULT_MISFIRE_GRACE_SECONDS),
            blackout=Blackout(plan.blackout_window_cron_expressions, ranges, tz),
            created_time_ms=created_time_ms,
            environment_group=plan.environment_group,
        )

    @classmethod
    def of_record(cls, record: plan_store.PlanRecord) -> PlanWindow:
        plan = plan_pb2.Context.FromString(record.plan)
        return cls.of(
            plan,
            version=record.version,
            enabled=record.enabled,
            created_time_ms=record.created_time,
        )

    def next_start(self, after: datetime) -> datetime | None:
        """The next window start strictly after `after`, skipping blackout windows."""
        if self.trigger is None:
            return None
        return self.blackout.next_allowed_fire(self.trigger, after)

    def previous_start(self, at: datetime) -> datetime | None:
        """The last window start at or before `at` (blackouts not considered, as Ikasan)."""
        if self.trigger is None:
            return None
        return self.trigger.previous_fire_time(at + timedelta(milliseconds=1))

    def projected_end_ms(self, start_ms: int) -> int:
        return start_ms + self.ttl_ms if self.ttl_ms else 0


def manual_end_time_ms(window: PlanWindow, now: datetime) -> int:
    """Projected end of an instance created by hand now (reference §5.1 manual creation).

    The computed end is previous window start + TTL. If that is already past: a concurrent
    plan ends at now + TTL; a non-concurrent one at min(now + TTL, next start - 1 min), and is
    refused once now is past next start - 1 min. TTL 0: no end (0).
    """
    if not window.ttl_ms:
        return 0
    now_ms = epoch_ms(now)
    previous = window.previous_start(now)
    computed = window.projected_end_ms(epoch_ms(previous)) if previous is not None else 0
    if computed > now_ms:
        return computed
    if window.concurrent:
        return now_ms + window.ttl_ms
    following = window.next_start(now)
    if following is None:
        return now_ms + window.ttl_ms
    limit = epoch_ms(following) - _MINUTE_MS
    if now_ms > limit:
        raise FailedPrecondition(
            f"plan {window.name} is not able to run concurrently and its next window starts at "
            f"{following.isoformat()}: too late to create an instance by hand"
        )
    return min(now_ms + window.ttl_ms, limit)


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    """What one window start did."""

    plan_name: str
    scheduled_ms: int
    # "created", "activated", "skipped", "blackout", "disabled", "missed"
    action: str
    instance_id: str = ""
    reason: str = ""
    prepared_id: str = ""


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What start-up recovery did (reference §5.3, DESIGN §5 missed runs)."""

    resumed: tuple[str, ...] = ()
    ended: tuple[str, ...] = ()
    dropped_prepared: tuple[str, ...] = ()
    created_late: tuple[WindowOutcome, ...] = ()
    missed: tuple[missed_store.MissedRunRecord, ...] = ()
    prepared: tuple[str, ...] = ()


@dataclass(slots=True)
class _Recovery:
    resumed: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    late: list[WindowOutcome] = field(default_factory=list)
    missed: list[missed_store.MissedRunRecord] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the lifecycle


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
        self._engine = engine
        self._orch = orchestration
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._own_dispatcher: Dispatcher | None = None
        if timers is None:
            self._own_dispatcher = Dispatcher(self.on_misfire, clock=self.clock)
            timers = self._own_dispatcher
        self._timers = timers
        self._windows: dict[str, PlanWindow] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._ending: set[str] = set()

    # -- helpers ------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    def _now_ms(self) -> int:
        return epoch_ms(self.clock.now())

    def _lock(self, plan_name: str) -> asyncio.Lock:
        lock = self._locks.get(plan_name)
        if lock is None:
            lock = self._locks[plan_name] = asyncio.Lock()
        return lock

    async def _read(self, work: Callable[[Connection], T]) -> T:
        """A read transaction off the event loop (the store may wait on a writer)."""

        def run() -> T:
            with read_transaction(self._engine) as conn:
                return work(conn)

        return await asyncio.to_thread(run)

    async def _write(self, work: Callable[[Connection], object]) -> None:
        def run() -> None:
            with write_transaction(self._engine) as conn:
                work(conn)

        await asyncio.to_thread(run)

    async def _load_window(self, plan_name: str) -> PlanWindow | None:
        record = await self._read(lambda c: plan_store.get_plan(c, plan_name))
        if record is None:
            self._windows.pop(plan_name, None)
            return None
        window = PlanWindow.of_record(record)
        self._windows[plan_name] = window
        return window

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

    async def _instances(
        self, plan_name: str, statuses: Iterable[str] = (), excluding: Iterable[str] = ()
    ) -> list[instance_store.InstanceRow]:
        return await self._read(
            lambda c: instance_store.list_instances(
                c,
                plan_name=plan_name,
                statuses=tuple(statuses),
                excluding_statuses=tuple(excluding),
                limit=_ALL,
            )
        )

    async def _row(self, instance_id: str) -> instance_store.InstanceRow | None:
        return await self._read(lambda c: instance_store.get_instance(c, instance_id))

    async def _note(self, plan_name: str, detail: str, *, cause: str, actor: str) -> None:
        """A decision without a status change: logged and kept in the audit trail."""
        log.info("plan %s: %s", plan_name, detail)
        entry = change_store.AuditEntry(
            time=self._now_ms(),
            instance_id="",
            plan_name=plan_name,
            from_status="",
            to_status="",
            cause=cause,
            actor=actor,
            detail=detail,
        )
        await self._write(lambda c: change_store.append_audit(c, [entry]))

    def _add_timer(
        self, job_id: str, trigger: CronTrigger, callback: FireCallback, grace: timedelta
    ) -> None:
        self._remove_timer(job_id)
        self._timers.add_job(job_id, trigger, callback, misfire_grace=grace)

    def _remove_timer(self, job_id: str) -> None:
        if job_id in self._timers.job_ids():
            # APScheduler drops an exhausted one-shot job by itself and then raises
            # JobLookupError (a KeyError) from remove_job; the Dispatcher forgets it first.
            with contextlib.suppress(KeyError, NotFound):
                self._timers.remove_job(job_id)

    def has_end_timer(self, instance_id: str) -> bool:
        return end_job_id(instance_id) in self._timers.job_ids()

    def has_start_trigger(self, plan_name: str) -> bool:
        return start_job_id(plan_name) in self._timers.job_ids()

    # -- timers -------------------------------------------------------------------------------

    def _register_start(self, window: PlanWindow) -> None:
        job_id = start_job_id(window.name)
        if not window.enabled or window.trigger is None:
            self._remove_timer(job_id)
            return
        name = window.name

        async def fire(f: Fire) -> None:
            await self.on_window_start(name, f.scheduled)

        self._add_timer(job_id, window.trigger, fire, window.grace)

    def _register_end(self, instance_id: str, projected_end_ms: int) -> None:
        if not projected_end_ms:
            return

        async def fire(_f: Fire) -> None:
            await self.on_end_due(instance_id)

        self._add_timer(
            end_job_id(instance_id), one_shot_trigger(projected_end_ms), fire, _END_GRACE
        )

    async def on_misfire(self, fire: Fire) -> None:
        """The Dispatcher's misfire route: a start beyond its grace is a missed run; an end is
        still carried out."""
        if fire.job_id.startswith("end:"):
            await self.on_end_due(fire.job_id[4:])
        elif fire.job_id.startswith("start:"):
            plan_name = fire.job_id[6:]
            window = await self.window(plan_name)
            grace = window.grace if window is not None else timedelta(0)
            await self._record_missed(
                plan_name,
                [fire.scheduled],
                fire.actual,
                f"window start fired {_seconds(fire.lateness)} late, beyond the "
                f"misfire grace of {_seconds(grace)}",
            )
        else:
            log.warning("misfire of unknown timer %s", fire.job_id)

    async def _record_missed(
        self, plan_name: str, fires: Iterable[datetime], now: datetime, reason: str
    ) -> list[missed_store.MissedRunRecord]:
        records = [
            missed_store.MissedRunRecord(plan_name, epoch_ms(f), epoch_ms(now), reason)
            for f in fires
        ]
        if not records:
            return records
        notes = [
            change_store.AuditEntry(
                time=epoch_ms(now),
                instance_id="",
                plan_name=plan_name,
                from_status="",
                to_status="",
                cause="missed-run",
                actor=SCHEDULE_ACTOR,
                detail=f"missed window start at {from_epoch_ms(r.scheduled_time).isoformat()}: "
                f"{reason}",
            )
            for r in records
        ]

        def record(c: Connection) -> None:
            # a restart that notices the same gap again adds neither a row nor a note
            if missed_store.record_missed_runs(c, records):
                change_store.append_audit(c, notes)

        await self._write(record)
        for r in records:
            log.warning(
                "plan %s: missed window start at %s: %s",
                plan_name,
                from_epoch_ms(r.scheduled_time).isoformat(),
                reason,
            )
        return records

    # -- window start (reference §5.1) --------------------------------------------------------

    async def on_window_start(
        self, plan_name: str, scheduled: datetime, *, actor: str = SCHEDULE_ACTOR
    ) -> WindowOutcome:
        """Create (or activate the PREPARED) instance for the window start at `scheduled`."""
        async with self._lock(plan_name):
            return await self._window_start(plan_name, scheduled, actor)

    async def _window_start(self, plan_name: str, scheduled: datetime, actor: str) -> WindowOutcome:
        scheduled_ms = epoch_ms(scheduled)
        window = await self._load_window(plan_name)
        if window is None or not window.enabled:
            return WindowOutcome(
                plan_name, scheduled_ms, "disabled", reason="plan missing or disabled"
            )
        if window.blackout.contains(scheduled):
            await self._note(
                plan_name,
                f"instance not created: window start "
                f"{scheduled.isoformat()} is inside a blackout window",
                cause="window-start",
                actor=actor,
            )
            prepared_id = await self._prepare_next(window, scheduled)
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
            await self._note(plan_name, reason, cause="window-start", actor=actor)
            return WindowOutcome(plan_name, scheduled_ms, "skipped", reason=reason)
        end_ms = window.projected_end_ms(scheduled_ms)
        prepared = await self._instances(plan_name, statuses=("PREPARED",))
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
        self._register_end(instance_id, end_ms)
        prepared_id = await self._prepare_next(window, scheduled)
        return WindowOutcome(plan_name, scheduled_ms, action, instance_id, prepared_id=prepared_id)

    async def _prepare_next(self, window: PlanWindow, after: datetime) -> str:
        """Make sure the next window start has its PREPARED instance; its id (or "")."""
        if not window.ttl_ms or not window.enabled:
            return ""
        following = window.next_start(after)
        if following is None:
            return ""
        start_ms = epoch_ms(following)
        existing = await self._instances(window.name, statuses=("PREPARED",))
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

    # -- ends (reference §5.2) ----------------------------------------------------------------

    async def on_end_due(self, instance_id: str) -> bool:
        """The TTL end timer fired: end the instance unless it runs until manually ended."""
        self._remove_timer(end_job_id(instance_id))
        row = await self._row(instance_id)
        if row is None or row.status in _NOT_LIVE:
            return False
        if row.run_until_manually_ended:
            log.info(
                "instance %s reached its projected end but runs until manually ended", instance_id
            )
            return False
        await self._end(instance_id, TTL_ACTOR, kill_running_jobs=True)
        return True

    async def _end(self, instance_id: str, actor: str, *, kill_running_jobs: bool) -> None:
        self._remove_timer(end_job_id(instance_id))
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
        row = await self._row(instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} not found")
        if row.status == "ENDED":
            raise FailedPrecondition(f"instance {instance_id} has already ENDED")
        if row.status == "PREPARED":
            raise FailedPrecondition(
                f"instance {instance_id} is PREPARED: it is not live (disable the plan to drop it)"
            )
        await self._end(instance_id, actor, kill_running_jobs=kill_running_jobs)

    async def on_instance_complete(self, instance_id: str) -> bool:
        """The orchestrator saw the root become COMPLETE: end the instance if the plan says
        endJobPlanUponCompletion and it does not run until manually ended."""
        row = await self._row(instance_id)
        if row is None or row.status in _NOT_LIVE or row.run_until_manually_ended:
            return False
        window = await self.window(row.plan_name)
        if window is None or not window.end_upon_completion:
            return False
        await self._end(instance_id, COMPLETION_ACTOR, kill_running_jobs=False)
        return True

    async def run_until_manually_ended_changed(self, instance_id: str, enabled: bool) -> None:
        """Keep the end timer in step with the flag (a cleared flag re-arms a fired timer)."""
        if enabled:
            return
        row = await self._row(instance_id)
        if row is None or row.status in _NOT_LIVE or not row.projected_end_time:
            return
        if not self.has_end_timer(instance_id):
            at = max(row.projected_end_time, self._now_ms() + 1000)
            self._register_end(instance_id, at)

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
    ) -> str:
        """Create an instance now (reference §5.1 manual creation); its id."""
        async with self._lock(plan_name):
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
                )
            )
            self._register_end(instance_id, end_ms)
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
        (its running jobs killed, reference §4.2 resetContextInstance)."""
        row = await self._row(instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} not found")
        if row.status in _NOT_LIVE:
            raise FailedPrecondition(f"instance {instance_id} is {row.status}: not live")
        await self._end(instance_id, actor, kill_running_jobs=True)
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
        async with self._lock(plan_name):
            for p in await self._instances(plan_name, statuses=("PREPARED",)):
                await self._orch.drop_prepared(p.id)
            window = await self._load_window(plan_name)
            if window is None:
                self._remove_timer(start_job_id(plan_name))
                return
            self._register_start(window)
            await self._prepare_next(window, self._now())

    async def plan_removed(self, plan_name: str) -> None:
        """A plan was deleted: no more starts, no PREPARED instances."""
        async with self._lock(plan_name):
            self._remove_timer(start_job_id(plan_name))
            for p in await self._instances(plan_name, statuses=("PREPARED",)):
                await self._orch.drop_prepared(p.id)
            self._windows.pop(plan_name, None)

    # -- start-up (reference §5.3, DESIGN §5) -------------------------------------------------

    async def start(self) -> RecoveryReport:
        """Recover instances and timers after a (re)start, catch up missed window starts, then
        start dispatching."""
        acc = _Recovery()
        records = await self._read(lambda c: plan_store.list_plans(c, limit=_ALL))
        known = set()
        for record in records:
            known.add(record.name)
            window = PlanWindow.of_record(record)
            self._windows[record.name] = window
            async with self._lock(record.name):
                await self._recover_plan(window, acc)
        # instances of deleted plans: keep their end timers
        for row in await self._instances("", excluding=_NOT_LIVE):
            if row.plan_name not in known:
                await self._recover_live(row, None, acc)
        if self._own_dispatcher is not None and not self._own_dispatcher.running:
            self._own_dispatcher.start()
        return RecoveryReport(
            resumed=tuple(acc.resumed),
            ended=tuple(acc.ended),
            dropped_prepared=tuple(acc.dropped),
            created_late=tuple(acc.late),
            missed=tuple(acc.missed),
            prepared=tuple(acc.prepared),
        )

    async def _recover_plan(self, window: PlanWindow, acc: _Recovery) -> None:
        now = self._now()
        now_ms = epoch_ms(now)
        rows = await self._instances(window.name, excluding=("ENDED",))
        for row in rows:
            if row.status in RECOVERABLE:
                await self._recover_live(row, window, acc)
        if window.enabled and window.trigger is not None:
            # a late window start activates its PREPARED instance, so catch up first
            await self._catch_up(window, rows, now, acc)
        # PREPARED: dropped when disabled or past; kept when future
        for row in await self._instances(window.name, statuses=("PREPARED",)):
            if not window.enabled or row.start_time <= now_ms:
                await self._orch.drop_prepared(row.id)
                acc.dropped.append(row.id)
        if not window.enabled or window.trigger is None:
            self._remove_timer(start_job_id(window.name))
            return
        self._register_start(window)
        prepared = await self._prepare_next(window, now)
        if prepared:
            acc.prepared.append(prepared)

    async def _recover_live(
        self, row: instance_store.InstanceRow, window: PlanWindow | None, acc: _Recovery
    ) -> None:
        verdict = self._recover_instance(row, window, acc)
        if verdict:
            await self._end(row.id, RECOVERY_ACTOR, kill_running_jobs=True)
            acc.ended.append(row.id)
            log.info("recovery: instance %s of %s ENDED (%s)", row.id, row.plan_name, verdict)

    def _recover_instance(
        self, row: instance_store.InstanceRow, window: PlanWindow | None, acc: _Recovery
    ) -> str:
        """Resume (re-arm the end timer) or say why the instance must end."""
        now = self._now()
        now_ms = epoch_ms(now)
        rum = row.run_until_manually_ended
        end = row.projected_end_time
        if not rum and (end == 0 or end <= now_ms):
            return "past its projected end" if end else "no projected end"
        if rum or row.start_time <= now_ms < end:
            if window is not None and window.blackout.contains(now):
                return "inside a blackout window"
            if not rum:
                self._register_end(row.id, end)
            acc.resumed.append(row.id)
            return ""
        return "outside its operating window"

    async def _catch_up(
        self,
        window: PlanWindow,
        rows: list[instance_store.InstanceRow],
        now: datetime,
        acc: _Recovery,
    ) -> None:
        assert window.trigger is not None
        missed = await self._read(
            lambda c: missed_store.list_missed_runs(c, plan_name=window.name, limit=_ALL)
        )
        marks = [window.created_time_ms]
        marks += [r.start_time for r in rows if r.status != "PREPARED"]
        marks += [m.scheduled_time for m in missed]
        ended = await self._read(
            lambda c: instance_store.list_instances(
                c, plan_name=window.name, statuses=("ENDED",), limit=1
            )
        )
        marks += [r.start_time for r in ended]
        last = from_epoch_ms(max(marks))
        if last >= now:
            return
        due = catch_up(window.trigger, last, now, window.grace)
        late = [f for f in due.late if not window.blackout.contains(f)]
        gone = [f for f in due.missed if not window.blackout.contains(f)]
        if gone:
            acc.missed.extend(
                await self._record_missed(
                    window.name,
                    gone,
                    now,
                    "dashboard was down; more than the misfire grace of"
                    f" {_seconds(window.grace)} late",
                )
            )
        if late:
            acc.missed.extend(
                await self._record_missed(
                    window.name,
                    late[:-1],
                    now,
                    "dashboard was down; superseded by a later window start that was created late",
                )
            )
            outcome = await self._window_start(window.name, late[-1], RECOVERY_ACTOR)
            acc.late.append(outcome)

    async def close(self) -> None:
        if self._own_dispatcher is not None:
            await self._own_dispatcher.close()


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():g} s"


__all__ = [
    "DEFAULT_MISFIRE_GRACE_SECONDS",
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
