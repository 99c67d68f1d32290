"""Plan timing for the lifecycle: a plan's window settings (PlanWindow), its timer ids and
one-shot end triggers, the projected end of a manual instance, and what a window start or
start-up recovery did. Pure: no store, no timers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from ikasched.v1 import plan_pb2
from ikasched_common.blackout import Blackout, epoch_ms, from_epoch_ms
from ikasched_common.calendar_trigger import MAX_SHIFT_DAYS, CalendarTrigger, check_shift
from ikasched_common.calendars import CalendarBook
from ikasched_common.dispatch import FireCallback
from ikasched_common.errors import FailedPrecondition, InvalidArgument
from ikasched_common.quartz import CronTrigger
from ikasched_dashboard.store import missed_runs as missed_store
from ikasched_dashboard.store import plans as plan_store

DEFAULT_MISFIRE_GRACE_SECONDS = 300
_MINUTE_MS = 60_000


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
    #: the calendar the window starts run on ("" = every day)
    calendar: str = ""

    @classmethod
    def of(
        cls,
        plan: plan_pb2.Context,
        *,
        version: int = 0,
        enabled: bool = True,
        created_time_ms: int = 0,
        calendars: CalendarBook | None = None,
    ) -> PlanWindow:
        """The window of `plan`; a plan with a calendar reads its days from `calendars` (a
        calendar missing there has no days, so the window never starts)."""
        tz = plan.timezone or "UTC"
        shift = check_shift(plan.calendar_shift, "plan.calendar_shift")
        if plan.calendar_shift and not (plan.calendar or plan.exclude_calendar):
            raise InvalidArgument(
                "needs plan.calendar or plan.exclude_calendar", field="plan.calendar_shift"
            )
        trigger: CronTrigger | None = None
        if plan.time_window_start and (plan.calendar or plan.exclude_calendar):
            book = calendars if calendars is not None else CalendarBook({})
            trigger = CalendarTrigger(
                plan.time_window_start,
                tz,
                days=book.days_of(plan.calendar, plan.exclude_calendar),
                shift=shift,
                custom_week_day_of_month=plan.custom_week_day_of_month,
            )
        elif plan.time_window_start:
            trigger = CronTrigger(
                plan.time_window_start, tz, custom_week_day_of_month=plan.custom_week_day_of_month
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
            calendar=plan.calendar or plan.exclude_calendar,
        )

    @classmethod
    def of_record(
        cls, record: plan_store.PlanRecord, calendars: CalendarBook | None = None
    ) -> PlanWindow:
        plan = plan_pb2.Context.FromString(record.plan)
        return cls.of(
            plan,
            version=record.version,
            enabled=record.enabled,
            created_time_ms=record.created_time,
            calendars=calendars,
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


def calendar_notes(window: PlanWindow, scheduled: datetime) -> list[str]:
    """Why the window starts since the previous one were shifted or skipped by the plan's
    calendar (docs/semantics.md §13.3): one audit line each, so no day is a silent gap.

    A skip is told at the next start after it; a shift at the start it moved to."""
    trigger = window.trigger
    if not isinstance(trigger, CalendarTrigger):
        return []
    span = timedelta(days=MAX_SHIFT_DAYS + 1)
    previous = trigger.previous_fire_time(scheduled)
    since = scheduled - span if previous is None else max(previous, scheduled - span)
    notes: list[str] = []
    for adj in trigger.adjustments(since - span, scheduled + span):
        if adj.action == "run":
            continue
        moment = adj.fires_at if adj.fires_at is not None else adj.scheduled
        if since < moment <= scheduled and (adj.action == "shifted" or adj.scheduled > since):
            notes.append(f"window start {adj.scheduled.isoformat()} {adj.reason}")
    return notes


def manual_end_time_ms(window: PlanWindow, now: datetime) -> int:
    """Projected end of an instance created by hand now (docs/semantics.md §9.2 manual creation).

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
    """What start-up recovery did (docs/semantics.md §9.6, docs/architecture.md §6.4 missed
    runs)."""

    resumed: tuple[str, ...] = ()
    ended: tuple[str, ...] = ()
    dropped_prepared: tuple[str, ...] = ()
    created_late: tuple[WindowOutcome, ...] = ()
    missed: tuple[missed_store.MissedRunRecord, ...] = ()
    prepared: tuple[str, ...] = ()
    #: plans whose stored row could not be loaded: skipped, logged, listed with load_error
    quarantined: tuple[str, ...] = ()


@dataclass(slots=True)
class RecoveryTally:
    """What recovery did so far (frozen into a RecoveryReport at the end)."""

    resumed: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    late: list[WindowOutcome] = field(default_factory=list)
    missed: list[missed_store.MissedRunRecord] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)

    def report(self) -> RecoveryReport:
        return RecoveryReport(
            resumed=tuple(self.resumed),
            ended=tuple(self.ended),
            dropped_prepared=tuple(self.dropped),
            created_late=tuple(self.late),
            missed=tuple(self.missed),
            prepared=tuple(self.prepared),
            quarantined=tuple(self.quarantined),
        )


def seconds_text(delta: timedelta) -> str:
    return f"{delta.total_seconds():g} s"
