"""Quartz cron expressions and the trigger that computes their fire times.

Grammar (Quartz's, 6 or 7 whitespace-separated fields)::

    second minute hour day-of-month month day-of-week [year]

- ``*``, lists ``a,b``, ranges ``a-b`` (a range whose start is after its end wraps, e.g. hours
  ``22-2``), steps ``a/s``, ``*/s``, ``a-b/s``; months ``JAN``-``DEC``; days ``SUN``-``SAT``
  with Quartz numbering 1=SUN ... 7=SAT; year 1970-2199 (no year field = every year).
- day-of-month: ``L`` (last day), ``L-n`` (n days before the last, n 0-30), ``nW`` (weekday
  nearest day n, never crossing into another month: ``1W`` on a Saturday is Monday the 3rd, ``31W``
  on a Sunday is Friday the 29th; ``nW`` in a month shorter than n does not fire), ``LW`` (last
  weekday). With ``custom_week_day_of_month`` (Ikasan's flag) ``nW`` is the n-th weekday
  (Mon-Fri) of the month instead.
- day-of-week: ``L`` alone is 7 (Saturday), ``nL`` the last day n of the month (``6L`` = last
  Friday), ``n#k`` the k-th day n of the month (``2#1`` = first Monday, k 1-5).
- Items in one field form a union, so ``L,15`` is "the 15th and the last day".
- Exactly one of day-of-month and day-of-week is ``?``, as in Quartz; we are strict: ``* * *`` in
  both, or ``?`` in both, is refused with a message saying what to write. ``*`` in one field with
  ``?`` in the other is the usual way to say "every day".

``parse_cron`` refuses an expression that can never fire for a reason visible without a clock
(31 February, ``30 FEB``, ``31`` of only 30-day months, ``29 FEB`` in non-leap years only).
An expression whose years are all in the past parses; its trigger simply returns ``None``.

Time zones and the DST policy (DESIGN.md §5; we differ from Quartz, which silently skips):
fire times are computed on the zone's wall clock, one UTC offset segment at a time, never by
stepping second by second.

- *Fixed hours*: the hour field holds only single values (``2`` or ``1,13``; no ``*``, range or
  step). A wall time inside a skipped (spring-forward) gap fires once, at the instant the gap
  ends, i.e. the transition instant (London 2026-03-29: ``0 30 1 * * ?`` fires at 01:00 UTC =
  02:00 BST). Several matching wall times in one gap still fire once. A wall time in a repeated
  (fall-back) stretch fires once, at its first occurrence.
- *Other hours* (``*``, ranges, steps): fire at every real instant whose local wall time
  matches. Wall times inside a gap do not exist and do not fire; wall times in a repeated stretch
  exist twice and fire twice (every 15 minutes across London's fall-back hour gives 8 fires in
  the two real hours 00:00-02:00 UTC, evenly 15 minutes apart). The real-time cadence
  continues and no instant ever fires twice.

Every datetime in and out of the public API is timezone-aware; results are in UTC.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ikasched_common.errors import InvalidArgument

if TYPE_CHECKING:
    from ikasched_common.blackout import Blackout

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "Blackout",
    "CronExpression",
    "CronNeverFiresError",
    "CronSyntaxError",
    "CronTrigger",
    "DayOfMonthSpec",
    "DayOfWeekSpec",
    "parse_cron",
    "zone",
]

MIN_YEAR = 1970
MAX_YEAR = 2199

_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class CronSyntaxError(InvalidArgument):
    """A Quartz cron expression is malformed; the message names the field."""

    def __init__(
        self, message: str, *, field: str = "cron expression", expression: str = ""
    ) -> None:
        super().__init__(message, field=field)
        self.expression = expression


class CronNeverFiresError(CronSyntaxError):
    """The expression is well formed but no calendar date can ever satisfy it."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; an empty name means UTC."""
    key = name.strip() or "UTC"
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidArgument(f"unknown time zone {name!r}", field="timezone") from exc


# --------------------------------------------------------------------------- expression model


@dataclass(frozen=True, slots=True)
class DayOfMonthSpec:
    """The day-of-month field when day-of-week is ``?``."""

    days: frozenset[int] = frozenset()
    last_offsets: frozenset[int] = frozenset()  # L-n as n; plain L is 0
    nearest_weekday: frozenset[int] = frozenset()  # nW as n
    last_weekday: bool = False  # LW


@dataclass(frozen=True, slots=True)
class DayOfWeekSpec:
    """The day-of-week field (Quartz numbering, 1=SUN) when day-of-month is ``?``."""

    days: frozenset[int] = frozenset()
    last: frozenset[int] = frozenset()  # nL as n
    nth: frozenset[tuple[int, int]] = frozenset()  # n#k as (n, k)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed Quartz cron expression; sorted value tuples per plain field."""

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayOfMonthSpec | None
    months: tuple[int, ...]
    day_of_week: DayOfWeekSpec | None
    years: tuple[int, ...]
    fixed_hour: bool
    _day_cache: dict[tuple[int, int, bool], tuple[int, ...]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def __str__(self) -> str:
        return self.text

    def days(
        self, year: int, month: int, custom_week_day_of_month: bool = False
    ) -> tuple[int, ...]:
        """The sorted days of ``year``-``month`` on which the expression fires."""
        key = (year, month, custom_week_day_of_month)
        found = self._day_cache.get(key)
        if found is None:
            found = _month_days(self, year, month, custom_week_day_of_month)
            if len(self._day_cache) > 4096:  # bounded: long-lived triggers walk many months
                self._day_cache.clear()
            self._day_cache[key] = found
        return found

    def matches(self, wall: datetime, custom_week_day_of_month: bool = False) -> bool:
        """Whether a naive local wall time (to the second) satisfies every field."""
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and wall.year in self.years
            and wall.day in self.days(wall.year, wall.month, custom_week_day_of_month)
        )

    def can_fire(self, custom_week_day_of_month: bool = False) -> bool:
        """Whether some selected year and month has at least one matching day."""
        return any(
            _month_days(self, year, month, custom_week_day_of_month)
            for year in self.years
            for month in self.months
        )

    def next_wall(self, start: datetime, custom: bool = False) -> datetime | None:
        """First naive wall time at or after ``start`` that matches, or None."""
        years = self.years
        for year in years[bisect_left(years, start.year) :]:
            in_year = year == start.year
            for month in self.months[bisect_left(self.months, start.month if in_year else 1) :]:
                in_month = in_year and month == start.month
                days = self.days(year, month, custom)
                for day in days[bisect_left(days, start.day if in_month else 1) :]:
                    in_day = in_month and day == start.day
                    hours = self.hours[bisect_left(self.hours, start.hour if in_day else 0) :]
                    for hour in hours:
                        in_hour = in_day and hour == start.hour
                        minutes = self.minutes[
                            bisect_left(self.minutes, start.minute if in_hour else 0) :
                        ]
                        for minute in minutes:
                            in_minute = in_hour and minute == start.minute
                            i = bisect_left(self.seconds, start.second if in_minute else 0)
                            if i < len(self.seconds):
                                return datetime(year, month, day, hour, minute, self.seconds[i])
        return None

    def previous_wall(self, start: datetime, custom: bool = False) -> datetime | None:
        """Last naive wall time at or before ``start`` that matches, or None."""
        years = self.years
        for year in reversed(years[: bisect_right(years, start.year)]):
            in_year = year == start.year
            months = self.months[: bisect_right(self.months, start.month if in_year else 12)]
            for month in reversed(months):
                in_month = in_year and month == start.month
                days = self.days(year, month, custom)
                for day in reversed(days[: bisect_right(days, start.day if in_month else 31)]):
                    in_day = in_month and day == start.day
                    hours = self.hours[: bisect_right(self.hours, start.hour if in_day else 23)]
                    for hour in reversed(hours):
                        in_hour = in_day and hour == start.hour
                        minutes = self.minutes[
                            : bisect_right(self.minutes, start.minute if in_hour else 59)
                        ]
                        for minute in reversed(minutes):
                            in_minute = in_hour and minute == start.minute
                            i = bisect_right(self.seconds, start.second if in_minute else 59)
                            if i:
                                return datetime(year, month, day, hour, minute, self.seconds[i - 1])
        return None


def _quartz_dow(python_weekday: int) -> int:
    """Monday=0 ... Sunday=6 to Quartz's 1=SUN ... 7=SAT."""
    return (python_weekday + 1) % 7 + 1


def _month_days(expr: CronExpression, year: int, month: int, custom: bool) -> tuple[int, ...]:
    first_weekday, ndays = calendar.monthrange(year, month)

    def weekday(day: int) -> int:
        return (first_weekday + day - 1) % 7

    out: set[int] = set()
    dom = expr.day_of_month
    if dom is not None:
        out.update(d for d in dom.days if d <= ndays)
        out.update(ndays - n for n in dom.last_offsets if ndays - n >= 1)
        weekdays = [d for d in range(1, ndays + 1) if weekday(d) < 5]
        if dom.last_weekday:
            out.add(weekdays[-1])
        for n in dom.nearest_weekday:
            if custom:
                if n <= len(weekdays):
                    out.add(weekdays[n - 1])
            elif n <= ndays:
                wd = weekday(n)
                if wd == 5:  # Saturday: Friday before, unless that leaves the month
                    out.add(n - 1 if n > 1 else n + 2)
                elif wd == 6:  # Sunday: Monday after, unless that leaves the month
                    out.add(n + 1 if n < ndays else n - 2)
                else:
                    out.add(n)
    dow = expr.day_of_week
    if dow is not None:
        if dow.days:
            out.update(d for d in range(1, ndays + 1) if _quartz_dow(weekday(d)) in dow.days)
        last_dow = _quartz_dow(weekday(ndays))
        out.update(ndays - (last_dow - q) % 7 for q in dow.last)
        first_dow = _quartz_dow(weekday(1))
        for q, k in dow.nth:
            day = 1 + (q - first_dow) % 7 + 7 * (k - 1)
            if day <= ndays:
                out.add(day)
    return tuple(sorted(out))


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] is value low + i
    wraps: bool = True


_FIELD_SPECS = (
    _FieldSpec("second", 0, 59),
    _FieldSpec("minute", 0, 59),
    _FieldSpec("hour", 0, 23),
    _FieldSpec("day-of-month", 1, 31),
    _FieldSpec("month", 1, 12, _MONTHS),
    _FieldSpec("day-of-week", 1, 7, _DAYS),
    _FieldSpec("year", MIN_YEAR, MAX_YEAR, wraps=False),
)


class _Parser:
    """Parses one expression; every error names the field it is in."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, spec: _FieldSpec | str, message: str) -> CronSyntaxError:
        name = spec if isinstance(spec, str) else spec.name
        return CronSyntaxError(message, field=name, expression=self.text)

    def value(self, spec: _FieldSpec, token: str, item: str) -> int:
        if token.isdigit():
            number = int(token)
        elif spec.names and token.upper() in spec.names:
            number = spec.low + spec.names.index(token.upper())
        else:
            names = f" or a name {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
            where = "" if token == item else f" in {item!r}"
            raise self.error(spec, f"{token!r}{where} is not a number{names}")
        if not spec.low <= number <= spec.high:
            raise self.error(spec, f"{item!r}: {number} is out of range {spec.low}-{spec.high}")
        return number

    def plain_item(self, spec: _FieldSpec, item: str) -> list[int]:
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise self.error(spec, f"{item!r}: step must be a whole number of 1 or more")
            step = int(step_text)
            if step > spec.high - spec.low + 1:
                raise self.error(
                    spec,
                    f"{item!r}: step {step} is larger than the field's range "
                    f"{spec.low}-{spec.high}",
                )
        if body == "*":
            start, end = spec.low, spec.high
        elif "-" in body:
            first, _, last = body.partition("-")
            if not first or not last:
                raise self.error(spec, f"{item!r}: a range needs a start and an end")
            start, end = self.value(spec, first, item), self.value(spec, last, item)
            if end < start and not spec.wraps:
                raise self.error(spec, f"{item!r}: range start {start} is after its end {end}")
        elif body:
            start = self.value(spec, body, item)
            end = spec.high if slash else start
        else:
            raise self.error(spec, f"{item!r}: missing value")
        span = spec.high - spec.low + 1
        length = (end - start) % span + 1  # a reversed range wraps past the field's end
        return [spec.low + (start - spec.low + i) % span for i in range(0, length, step)]

    def items(self, spec: _FieldSpec, text: str) -> list[str]:
        parts = text.split(",")
        if any(not part for part in parts):
            raise self.error(spec, f"empty list item in {text!r}")
        if "?" in text and text != "?":
            raise self.error(spec, f"'?' must stand alone, got {text!r}")
        return parts

    def simple(self, spec: _FieldSpec, text: str) -> tuple[tuple[int, ...], bool]:
        """Values of a field without specials, and whether every item was a single value."""
        if "?" in text:
            raise self.error(spec, "'?' is allowed only in day-of-month and day-of-week")
        values: set[int] = set()
        single = True
        for item in self.items(spec, text):
            if any(c.isalpha() for c in item) and not spec.names:
                raise self.error(spec, f"{item!r}: letters are not allowed in this field")
            single = single and item.isdigit()
            values.update(self.plain_item(spec, item))
        return tuple(sorted(values)), single

    def day_of_month(self, text: str) -> DayOfMonthSpec | None:
        spec = _FIELD_SPECS[3]
        items = self.items(spec, text)
        if items == ["?"]:
            return None
        days: set[int] = set()
        offsets: set[int] = set()
        nearest: set[int] = set()
        last_weekday = False
        for raw in items:
            item = raw.upper()
            if item == "L":
                offsets.add(0)
            elif item == "LW":
                last_weekday = True
            elif item.startswith("L-"):
                n = item[2:]
                if not n.isdigit() or not 0 <= int(n) <= 30:
                    raise self.error(spec, f"{raw!r} offset must be 0-30")
                offsets.add(int(n))
            elif item.endswith("W"):
                n = item[:-1]
                if not n.isdigit() or not 1 <= int(n) <= 31:
                    raise self.error(spec, f"{raw!r}: 'W' needs a single day 1-31 before it")
                nearest.add(int(n))
            elif "L" in item or "W" in item or "#" in item:
                raise self.error(
                    spec,
                    f"{raw!r} is not valid here (use L, L-n, nW or LW; '#' belongs to day-of-week)",
                )
            else:
                if any(c.isalpha() for c in item):
                    raise self.error(spec, f"{raw!r}: letters are not allowed in this field")
                days.update(self.plain_item(spec, item))
        return DayOfMonthSpec(frozenset(days), frozenset(offsets), frozenset(nearest), last_weekday)

    def day_of_week(self, text: str) -> DayOfWeekSpec | None:
        spec = _FIELD_SPECS[5]
        items = self.items(spec, text)
        if items == ["?"]:
            return None
        days: set[int] = set()
        last: set[int] = set()
        nth: set[tuple[int, int]] = set()
        for raw in items:
            item = raw.upper()
            if item == "L":  # Quartz: L alone in day-of-week is 7, Saturday
                days.add(7)
            elif "#" in item:
                day, _, k = item.partition("#")
                number = self.value(spec, day, raw)
                if not k.isdigit() or not 1 <= int(k) <= 5:
                    raise self.error(spec, f"{raw!r}: occurrence after '#' must be 1-5")
                nth.add((number, int(k)))
            elif item.endswith("L") and len(item) > 1:
                last.add(self.value(spec, item[:-1], raw))
            else:
                days.update(self.plain_item(spec, item))
        return DayOfWeekSpec(frozenset(days), frozenset(last), frozenset(nth))

    def parse(self) -> CronExpression:
        fields = self.text.split()
        if len(fields) not in (6, 7):
            raise self.error("cron expression", f"expected 6 or 7 fields, got {len(fields)}")
        seconds, _ = self.simple(_FIELD_SPECS[0], fields[0])
        minutes, _ = self.simple(_FIELD_SPECS[1], fields[1])
        hours, single_hours = self.simple(_FIELD_SPECS[2], fields[2])
        dom = self.day_of_month(fields[3])
        months, _ = self.simple(_FIELD_SPECS[4], fields[4])
        dow = self.day_of_week(fields[5])
        years = (
            self.simple(_FIELD_SPECS[6], fields[6])[0]
            if len(fields) == 7
            else tuple(range(MIN_YEAR, MAX_YEAR + 1))
        )
        if dom is None and dow is None:
            raise self.error(
                "day-of-week",
                "'?' cannot be in both day-of-month and day-of-week; put '*' "
                "(or the days) in one of them",
            )
        if dom is not None and dow is not None:
            raise self.error(
                "day-of-month",
                "day-of-month and day-of-week cannot both be given; write '?' "
                "in the one you do not use (e.g. '0 0 12 * * ?' or '0 0 12 ? * MON')",
            )
        expr = CronExpression(
            text=" ".join(fields),
            seconds=seconds,
            minutes=minutes,
            hours=hours,
            day_of_month=dom,
            months=months,
            day_of_week=dow,
            years=years,
            fixed_hour=single_hours,
        )
        if not expr.can_fire():
            raise _never_fires(expr, False)
        return expr


def _never_fires(expr: CronExpression, custom: bool) -> CronNeverFiresError:
    fields = expr.text.split()
    day_field = "day-of-month" if expr.day_of_month is not None else "day-of-week"
    day_text = fields[3] if expr.day_of_month is not None else fields[5]
    years = f" and year {fields[6]!r}" if len(fields) == 7 else ""
    flavour = " (custom week-day-of-month)" if custom else ""
    return CronNeverFiresError(
        f"{day_text!r}{flavour} never occurs in month {fields[4]!r}{years}; the expression "
        "can never fire",
        field=day_field,
        expression=expr.text,
    )


@lru_cache(maxsize=1024)
def parse_cron(expression: str) -> CronExpression:
    """Parse a Quartz cron expression; raises CronSyntaxError naming the offending field."""
    if not isinstance(expression, str):
        raise CronSyntaxError(f"expected text, got {type(expression).__name__}")
    return _Parser(expression.strip()).parse()


# --------------------------------------------------------------------------- zone segments


def _offset(tz: ZoneInfo, utc: datetime) -> timedelta:
    """UTC offset of ``tz`` at the naive UTC instant ``utc``."""
    off = utc.replace(tzinfo=UTC).astimezone(tz).utcoffset()
    assert off is not None
    return off


@dataclass(frozen=True, slots=True)
class _Transition:
    at: datetime  # naive UTC instant of the first second with the new offset
    before: timedelta
    after: timedelta


@lru_cache(maxsize=2048)
def _transitions(tz: ZoneInfo, year: int) -> tuple[_Transition, ...]:
    """Offset changes of ``tz`` at instants within UTC calendar ``year``."""
    start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1) - _SECOND
    probes = [start - _SECOND]
    probe = start
    while probe < end:
        probes.append(probe)
        probe += _DAY
    probes.append(end)
    found: list[_Transition] = []
    for a, b in pairwise(probes):
        oa, ob = _offset(tz, a), _offset(tz, b)
        if oa == ob:
            continue
        lo, hi = a, b  # invariant: offset(lo) == oa != offset(hi)
        while hi - lo > _SECOND:
            mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
            if _offset(tz, mid) == oa:
                lo = mid
            else:
                hi = mid
        found.append(_Transition(hi, oa, _offset(tz, hi)))
    return tuple(found)


def _transition_after(tz: ZoneInfo, t: datetime) -> _Transition | None:
    """First transition strictly after ``t`` in t's UTC year or the next one."""
    for year in (t.year, t.year + 1):
        for tr in _transitions(tz, year):
            if tr.at > t:
                return tr
    return None


def _transition_at_or_before(tz: ZoneInfo, t: datetime) -> _Transition | None:
    """Last transition at or before ``t`` in t's UTC year or the previous one."""
    for year in (t.year, t.year - 1):
        for tr in reversed(_transitions(tz, year)):
            if tr.at <= t:
                return tr
    return None


def _next_fire(expr: CronExpression, tz: ZoneInfo, custom: bool, t: datetime) -> datetime | None:
    """First fire instant at or after naive UTC ``t`` (whole seconds), per the DST policy."""
    fixed = expr.fixed_hour
    last_year = expr.years[-1] + 1
    # t may sit exactly on a gap's end: wall times in that gap still fire at t.
    here = _transition_at_or_before(tz, t)
    if fixed and here is not None and here.at == t and here.after > here.before:
        w = expr.next_wall(t + here.before, custom)
        if w is not None and w < t + here.after:
            return t
    while t.year <= last_year:
        o = _offset(tz, t)
        tr = _transition_after(tz, t)
        seg_end = tr.at if tr is not None else datetime(t.year + 2, 1, 1)
        seg_end_wall = seg_end + o
        wall = t + o
        while True:
            w = expr.next_wall(wall, custom)
            if w is None or w >= seg_end_wall:
                break
            if fixed:
                first = _first_occurrence_offset(tz, w)
                if first != o:  # a repeated wall time; its first occurrence came earlier
                    wall = max(w + _SECOND, _end_of_repeat(tz, w - o))
                    continue
            return w - o
        if tr is None:
            if w is None:
                return None
            # No offset change for over a year: jump near the next match; the instants skipped
            # all have wall times between this one and w, none of which match.
            t = max(seg_end, w - o - 2 * _DAY)
            continue
        if w is None and not (tr.after < tr.before and tr.at + tr.after < wall):
            return None  # nothing at or after this wall time, and no fall-back brings one back
        if fixed and tr.after > tr.before and w is not None and w < tr.at + tr.after:
            return tr.at  # a wall time in the skipped gap fires once, as the gap ends
        t = tr.at
    return None


def _previous_fire(
    expr: CronExpression, tz: ZoneInfo, custom: bool, t: datetime
) -> datetime | None:
    """Last fire instant at or before naive UTC ``t`` (whole seconds), per the DST policy."""
    fixed = expr.fixed_hour
    first_year = expr.years[0] - 1
    while t.year >= first_year:
        o = _offset(tz, t)
        tr = _transition_at_or_before(tz, t)
        seg_start = tr.at if tr is not None else datetime(t.year - 1, 1, 1)
        seg_start_wall = seg_start + o
        wall = t + o
        w = expr.previous_wall(wall, custom)
        if (
            w is not None
            and w >= seg_start_wall
            and (not fixed or _first_occurrence_offset(tz, w) == o)
        ):
            return w - o
        # Past the segment, or (fixed hour) a repeated wall time: everything earlier in this
        # segment repeats too, so the first occurrence lies in the previous segment.
        if tr is None:
            if w is None:
                return None
            t = min(seg_start - _SECOND, w - o + 2 * _DAY)
            continue
        if w is None and not (tr.before > tr.after and tr.at + tr.before - _SECOND > wall):
            return None
        if (
            fixed
            and tr.after > tr.before
            and w is not None
            and tr.at + tr.before <= w < seg_start_wall
        ):
            return tr.at
        t = tr.at - _SECOND
    return None


def _first_occurrence_offset(tz: ZoneInfo, wall: datetime) -> timedelta:
    off = wall.replace(tzinfo=tz, fold=0).utcoffset()
    assert off is not None
    return off


def _end_of_repeat(tz: ZoneInfo, instant: datetime) -> datetime:
    """Wall time at which the repeated stretch containing ``instant`` ends."""
    tr = _transition_at_or_before(tz, instant)
    return tr.at + tr.before if tr is not None else instant


# --------------------------------------------------------------------------- trigger


def _utc_seconds(at: datetime, name: str) -> datetime:
    """Naive UTC, truncated to the second; refuses naive input."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidArgument("must be a timezone-aware datetime", field=name)
    return at.astimezone(UTC).replace(tzinfo=None, microsecond=0)


def _aware(naive_utc: datetime | None) -> datetime | None:
    return None if naive_utc is None else naive_utc.replace(tzinfo=UTC)


class CronTrigger:
    """Fire times of one Quartz expression in one zone, by the DST policy above."""

    __slots__ = ("custom_week_day_of_month", "expression", "timezone", "tz")

    def __init__(
        self,
        expression: str | CronExpression,
        timezone: str = "UTC",
        *,
        custom_week_day_of_month: bool = False,
    ) -> None:
        self.expression = (
            expression if isinstance(expression, CronExpression) else parse_cron(expression)
        )
        self.tz = zone(timezone)
        self.timezone = self.tz.key
        self.custom_week_day_of_month = custom_week_day_of_month
        if custom_week_day_of_month and not self.expression.can_fire(True):
            raise _never_fires(self.expression, True)

    def __repr__(self) -> str:
        custom = ", custom_week_day_of_month=True" if self.custom_week_day_of_month else ""
        return f"CronTrigger({self.expression.text!r}, {self.timezone!r}{custom})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CronTrigger)
            and other.expression == self.expression
            and other.timezone == self.timezone
            and other.custom_week_day_of_month == self.custom_week_day_of_month
        )

    def __hash__(self) -> int:
        return hash((self.expression, self.timezone, self.custom_week_day_of_month))

    def next_fire_time(self, after: datetime) -> datetime | None:
        """First fire strictly after ``after``; None once the year range is exhausted."""
        last = _utc_seconds(after, "after")
        if last.year > MAX_YEAR:
            return None
        start = last + _SECOND
        return _aware(_next_fire(self.expression, self.tz, self.custom_week_day_of_month, start))

    def next_fire_times(self, after: datetime, n: int) -> list[datetime]:
        """Up to ``n`` consecutive fires strictly after ``after`` (fewer if exhausted)."""
        if n < 0:
            raise InvalidArgument("must be 0 or more", field="n")
        out: list[datetime] = []
        at = after
        while len(out) < n:
            fire = self.next_fire_time(at)
            if fire is None:
                break
            out.append(fire)
            at = fire
        return out

    def previous_fire_time(self, before: datetime) -> datetime | None:
        """Last fire strictly before ``before``, or None if there is none."""
        last = _utc_seconds(before, "before")
        if last.year < MIN_YEAR - 1:
            return None
        if last.replace(tzinfo=UTC) >= before.astimezone(UTC):  # whole second: exclude it
            last -= _SECOND
        return _aware(_previous_fire(self.expression, self.tz, self.custom_week_day_of_month, last))

    def fires_at(self, at: datetime) -> bool:
        """Whether ``at`` (to the second) is one of the trigger's fire times."""
        second = _utc_seconds(at, "at")
        return self.next_fire_time((second - _SECOND).replace(tzinfo=UTC)) == second.replace(
            tzinfo=UTC
        )


def __getattr__(name: str) -> object:
    # Blackout lives in blackout.py (which imports this module); offered here too, lazily.
    if name == "Blackout":
        from ikasched_common.blackout import Blackout

        return Blackout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
