"""A cron trigger that fires only on the days of a calendar, with a shift policy
(docs/semantics.md §13.3).

`CalendarTrigger` is a `CronTrigger` (the dispatcher, blackouts and catch-up use it unchanged)
whose fires are adjusted day by day, on the trigger's own wall clock:

- a fire on a day of the calendar fires as the cron says (the DST policy of quartz.py holds);
- a fire on any other day follows the shift policy: ``skip`` (it does not fire), ``next`` /
  ``previous`` (it fires at the same wall time on the next / previous day of the calendar),
  ``nearest`` (the closer of the two; on a tie, the next). A wall time that does not exist on
  the target day (a spring-forward gap) fires when the gap ends; one that exists twice fires at
  its first occurrence. A shift looks at most MAX_SHIFT_DAYS away; beyond that it is skipped.
- several fires that land on the same instant fire once: shifting Saturday's and Sunday's
  06:00 onto Monday, which fires at 06:00 itself, gives one fire on Monday.

`adjustments` lists what the calendar did to the cron's own fires in a span (run, shifted
to when, or skipped) and why, for `calendar dates`, `plan next-fires` and the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ikasched_common.calendars import CalendarDays
from ikasched_common.errors import InvalidArgument
from ikasched_common.quartz_fires import CronTrigger, _transition_after
from ikasched_common.quartz_parse import MAX_YEAR, MIN_YEAR, CronExpression

SHIFTS = ("skip", "next", "previous", "nearest")
MAX_SHIFT_DAYS = 31
_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_SPAN = timedelta(days=MAX_SHIFT_DAYS + 1)
_SLACK = timedelta(hours=3)
_MAX_DAYS_LOOKED_AT = 5_000


def check_shift(value: str, field: str = "calendar_shift") -> str:
    """The shift policy named by `value` ("" = skip); InvalidArgument naming the field."""
    shift = value.strip().lower() or "skip"
    if shift not in SHIFTS:
        raise InvalidArgument(f"{value!r} is not one of {', '.join(SHIFTS)}", field=field)
    return shift


def wall_instant(tz: ZoneInfo, wall: datetime) -> datetime:
    """The aware UTC instant a naive wall time names in `tz`: its first occurrence, or the end
    of the gap when it falls in one."""
    first = wall.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == wall:
        return utc
    later = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    transition = _transition_after(tz, min(utc, later).replace(tzinfo=None))
    return utc if transition is None else transition.at.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """What the calendar did to one fire of the cron: "run", "shifted" or "skipped"."""

    scheduled: datetime
    action: str
    fires_at: datetime | None
    reason: str


class CalendarTrigger(CronTrigger):
    """A CronTrigger whose fires land only on the days of `days`, by `shift`."""

    __slots__ = ("days", "shift")

    def __init__(
        self,
        expression: str | CronExpression,
        timezone: str = "UTC",
        *,
        days: CalendarDays,
        shift: str = "skip",
        custom_week_day_of_month: bool = False,
    ) -> None:
        super().__init__(expression, timezone, custom_week_day_of_month=custom_week_day_of_month)
        self.days = days
        self.shift = check_shift(shift)

    def __repr__(self) -> str:
        return (
            f"CalendarTrigger({self.expression.text!r}, {self.timezone!r}, "
            f"calendar={self.days.name!r}, shift={self.shift!r})"
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CalendarTrigger)
            and CronTrigger.__eq__(self, other)
            and (other.days.name, other.days.version, other.shift)
            == (self.days.name, self.days.version, self.shift)
        )

    def __hash__(self) -> int:
        return hash((CronTrigger.__hash__(self), self.days.name, self.days.version, self.shift))

    # -- days ---------------------------------------------------------------------------------

    def _local_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def _start_of(self, day: date) -> datetime:
        return wall_instant(self.tz, datetime.combine(day, time()))

    def target(self, day: date) -> date | None:
        """The day a fire on `day` lands on (None: skipped)."""
        if day in self.days:
            return day
        if self.shift == "skip":
            return None
        forward = next(
            (day + k * _DAY for k in range(1, MAX_SHIFT_DAYS + 1) if day + k * _DAY in self.days),
            None,
        )
        backward = next(
            (day - k * _DAY for k in range(1, MAX_SHIFT_DAYS + 1) if day - k * _DAY in self.days),
            None,
        )
        if self.shift == "next":
            return forward
        if self.shift == "previous":
            return backward
        if forward is None or backward is None:
            return forward or backward
        return backward if (day - backward) < (forward - day) else forward

    def _sources(self, day: date) -> list[date]:
        """The days whose fires land on `day` (a day of the calendar), itself first."""
        found = [day]
        if self.shift == "skip":
            return found
        for k in range(1, MAX_SHIFT_DAYS + 1):
            for other in (day - k * _DAY, day + k * _DAY):
                if other not in self.days and self.target(other) == day:
                    found.append(other)
        return found

    def _moved(self, fire: datetime, source: date, day: date) -> datetime:
        """`fire` (on `source`) moved to the same wall time on `day`."""
        if source == day:
            return fire
        wall = fire.astimezone(self.tz).replace(tzinfo=None)
        return wall_instant(self.tz, datetime.combine(day, wall.time()))

    # -- fires --------------------------------------------------------------------------------

    def _near(self, source: date, at: datetime, margin: timedelta) -> datetime:
        """The instant on `source` at `at`'s wall time, moved by `margin` (for DST slack)."""
        wall = at.astimezone(self.tz).replace(tzinfo=None)
        return wall_instant(self.tz, datetime.combine(source, wall.time())) + margin

    def _first_on(self, source: date, day: date, after: datetime) -> datetime | None:
        """The earliest fire of `source`, moved to `day`, strictly after `after`."""
        at = max(after, self._start_of(source) - _SECOND)
        if source != day and day == self._local_day(after):
            at = max(at, self._near(source, after, -_SLACK))
        while True:
            fire = CronTrigger.next_fire_time(self, at)
            if fire is None or self._local_day(fire) != source:
                return None
            moved = self._moved(fire, source, day)
            if moved > after:
                return moved
            at = fire

    def _last_on(self, source: date, day: date, before: datetime) -> datetime | None:
        """The latest fire of `source`, moved to `day`, strictly before `before`."""
        at = min(before, self._start_of(source + _DAY))
        if source != day and day == self._local_day(before):
            at = min(at, self._near(source, before, _SLACK))
        while True:
            fire = CronTrigger.previous_fire_time(self, at)
            if fire is None or self._local_day(fire) != source:
                return None
            moved = self._moved(fire, source, day)
            if moved < before:
                return moved
            at = fire

    def _reach(self) -> tuple[timedelta, timedelta]:
        """How far a fire may move (back, forward) under the policy."""
        back = _SPAN if self.shift in ("previous", "nearest") else timedelta(0)
        forward = _SPAN if self.shift in ("next", "nearest") else timedelta(0)
        return back, forward

    def next_fire_time(self, after: datetime) -> datetime | None:
        """First fire strictly after `after` on a day of the calendar (shifts applied)."""
        back, forward = self._reach()
        day = self._local_day(after)
        for _ in range(_MAX_DAYS_LOOKED_AT):
            # the cron's first fire that could land on `day` or later, and where it can land
            start = max(after - forward, self._start_of(day) - forward - _SECOND)
            earliest = CronTrigger.next_fire_time(self, start)
            if earliest is None:
                return None
            day = max(day, self._local_day(earliest) - back)
            if day.year > MAX_YEAR:
                return None
            if day in self.days:
                fires = [f for s in self._sources(day) if (f := self._first_on(s, day, after))]
                if fires:
                    return min(fires)
            day += _DAY
        return None

    def previous_fire_time(self, before: datetime) -> datetime | None:
        """Last fire strictly before `before` on a day of the calendar (shifts applied)."""
        back, forward = self._reach()
        day = self._local_day(before)
        for _ in range(_MAX_DAYS_LOOKED_AT):
            end = min(before + back, self._start_of(day + _DAY) + back)
            latest = CronTrigger.previous_fire_time(self, end)
            if latest is None:
                return None
            day = min(day, self._local_day(latest) + forward)
            if day.year < MIN_YEAR:
                return None
            if day in self.days:
                fires = [f for s in self._sources(day) if (f := self._last_on(s, day, before))]
                if fires:
                    return max(fires)
            day -= _DAY
        return None

    def adjustments(self, after: datetime, until: datetime, limit: int = 1000) -> list[Adjustment]:
        """What the calendar does to the cron's own fires in (after, until]."""
        out: list[Adjustment] = []
        at = after
        while len(out) < limit:
            fire = CronTrigger.next_fire_time(self, at)
            if fire is None or fire > until:
                break
            at = fire
            source = self._local_day(fire)
            verdict = self.days.verdict(source)
            if verdict.member:
                out.append(Adjustment(fire, "run", fire, verdict.reason))
                continue
            day = self.target(source)
            if day is None:
                why = "shift skip" if self.shift == "skip" else f"no day within {MAX_SHIFT_DAYS}"
                out.append(
                    Adjustment(
                        fire,
                        "skipped",
                        None,
                        f"skipped by calendar {self.days.name}: {verdict.reason} ({why})",
                    )
                )
                continue
            moved = self._moved(fire, source, day)
            out.append(
                Adjustment(
                    fire,
                    "shifted",
                    moved,
                    f"shifted ({self.shift}) by calendar {self.days.name} to {day.isoformat()}: "
                    f"{verdict.reason}",
                )
            )
        return out
