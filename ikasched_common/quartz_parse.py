"""Quartz cron expressions: the parsed model (`CronExpression`) and the parser (`parse_cron`).

The grammar is described in `ikasched_common.quartz`, which re-exports the public names.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ikasched_common.errors import InvalidArgument

MIN_YEAR = 1970
MAX_YEAR = 2199

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


MAX_ZONE_NAME = 64  # the longest IANA name is about 30 characters


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; an empty name means UTC."""
    key = name.strip() or "UTC"
    shown = name if len(name) <= 80 else name[:77] + "..."
    if len(key) > MAX_ZONE_NAME:  # IANA names are short; a long one would be a file name
        raise InvalidArgument(f"unknown time zone {shown!r}", field="timezone")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: the tzdata package maps the name to a file (too long, a directory...)
        raise InvalidArgument(f"unknown time zone {shown!r}", field="timezone") from exc


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
            raise never_fires(expr, False)
        return expr


def never_fires(expr: CronExpression, custom: bool) -> CronNeverFiresError:
    """The error for an expression that can never fire, naming its day field."""
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
