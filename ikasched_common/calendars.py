"""Named calendars: sets of dates per year, built from rules and from other calendars
(docs/semantics.md §13).

A calendar document (YAML or JSON, like a plan)::

    name: uk-business
    description: Weekdays that are not English bank holidays
    include:                      # a day is in the calendar when any include rule has it ...
      - weekdays: [MON, TUE, WED, THU, FRI]
    intersect:                    # ... and every intersect rule has it (optional) ...
      - calendar: trading-days
    exclude:                      # ... and no exclude rule has it (optional)
      - calendar: uk-bank-holidays

Rules (each one key):

- ``dates: [2026-12-28, ...]`` explicit dates;
- ``annual: ["12-25", "01-01"]`` the same month-day every year (``02-29`` only in leap years);
- ``weekdays: [MON, ...]``;
- ``monthDays: [1, 15, -1]`` days of every month, negative from the month's end (-1 = last);
- ``nthWeekday: {weekday: MON, n: 1, months: [5]}`` the n-th given weekday of the month
  (n 1..5, or -1..-5 from the end; months default to all twelve);
- ``easter: [-2, 1]`` days relative to (Western) Easter Sunday, -80..240;
- ``businessDayOfMonth: {calendar: uk-business, n: -1, months: []}`` the n-th day of each
  month that is a day of the named calendar (-1 = last business day of the month);
- ``calendar: NAME`` every day of another calendar.

A calendar is a set of dates with no zone of its own: whoever uses it reads it on its own wall
clock (a plan in its time zone). References are checked when a calendar is applied: an unknown
name or a cycle is refused, naming the field. Pure: no store, no clock.
"""

from __future__ import annotations

import calendar as pycal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ikasched_common.errors import InvalidArgument
from ikasched_common.names import name_problem

MIN_YEAR = 1970
MAX_YEAR = 2199
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
RULE_KINDS = (
    "dates",
    "annual",
    "weekdays",
    "monthDays",
    "nthWeekday",
    "easter",
    "businessDayOfMonth",
    "calendar",
)
SECTIONS = ("include", "intersect", "exclude")
_TOP_KEYS = frozenset({"name", "description", *SECTIONS})
MAX_NAME = 255
_ALL_DAYS = tuple(range(7))


def check_name(value: str, path: str) -> None:
    problem = name_problem(value)
    if problem is None and len(value) > MAX_NAME:
        problem = f"is longer than {MAX_NAME} characters"
    if problem is not None:
        raise InvalidArgument(problem, field=path)


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday of `year` (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    sl = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * sl) // 451
    month, day = divmod(h + sl - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _month_days(year: int, month: int) -> list[date]:
    return [date(year, month, d) for d in range(1, pycal.monthrange(year, month)[1] + 1)]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: `kind` (a RULE_KINDS value) with its checked arguments."""

    kind: str
    dates: tuple[date, ...] = ()
    month_days: tuple[tuple[int, int], ...] = ()  # annual (month, day)
    numbers: tuple[int, ...] = ()  # weekdays 0-6, month days, easter offsets
    n: int = 0
    months: tuple[int, ...] = ()
    calendar: str = ""

    def describe(self) -> str:
        if self.kind == "dates":
            return "dates " + ",".join(d.isoformat() for d in self.dates)
        if self.kind == "annual":
            return "annual " + ",".join(f"{m:02d}-{d:02d}" for m, d in self.month_days)
        if self.kind == "weekdays":
            return "weekdays " + ",".join(WEEKDAYS[n] for n in self.numbers)
        if self.kind == "monthDays":
            return "monthDays " + ",".join(str(n) for n in self.numbers)
        if self.kind == "easter":
            return "easter " + ",".join(f"{n:+d}" for n in self.numbers)
        if self.kind == "nthWeekday":
            return f"nthWeekday {self.n} {WEEKDAYS[self.numbers[0]]}"
        if self.kind == "businessDayOfMonth":
            return f"businessDayOfMonth {self.n} of {self.calendar}"
        return f"calendar {self.calendar}"

    def days(self, year: int, book: CalendarBook) -> frozenset[date]:
        """The dates of `year` this rule has."""
        if self.kind == "dates":
            return frozenset(d for d in self.dates if d.year == year)
        if self.kind == "annual":
            return frozenset(
                date(year, m, d) for m, d in self.month_days if d <= pycal.monthrange(year, m)[1]
            )
        months = self.months or tuple(range(1, 13))
        if self.kind == "weekdays":
            wanted = set(self.numbers)
            return frozenset(
                d for m in range(1, 13) for d in _month_days(year, m) if d.weekday() in wanted
            )
        if self.kind == "monthDays":
            out: set[date] = set()
            for m in range(1, 13):
                days = _month_days(year, m)
                for n in self.numbers:
                    if n <= len(days):
                        out.add(days[n - 1] if n > 0 else days[n])
            return frozenset(out)
        if self.kind == "easter":
            sunday = easter_sunday(year)
            return frozenset(sunday + timedelta(days=n) for n in self.numbers)
        if self.kind == "nthWeekday":
            return frozenset(
                found
                for m in months
                if (
                    found := _nth(
                        [d for d in _month_days(year, m) if d.weekday() == self.numbers[0]], self.n
                    )
                )
                is not None
            )
        if self.kind == "businessDayOfMonth":
            business = book.days(self.calendar, year)
            return frozenset(
                found
                for m in months
                if (found := _nth([d for d in _month_days(year, m) if d in business], self.n))
                is not None
            )
        return book.days(self.calendar, year)


def _nth(days: Sequence[date], n: int) -> date | None:
    if n > 0 and n <= len(days):
        return days[n - 1]
    if n < 0 and -n <= len(days):
        return days[n]
    return None


@dataclass(frozen=True, slots=True)
class CalendarDefinition:
    """A checked calendar document."""

    name: str
    description: str = ""
    include: tuple[Rule, ...] = ()
    intersect: tuple[Rule, ...] = ()
    exclude: tuple[Rule, ...] = ()

    def references(self) -> list[tuple[str, str]]:
        """(field path, calendar name) of every reference to another calendar."""
        out: list[tuple[str, str]] = []
        for section in SECTIONS:
            for i, rule in enumerate(getattr(self, section)):
                if rule.calendar:
                    key = "calendar" if rule.kind == "calendar" else f"{rule.kind}.calendar"
                    out.append((f"{section}[{i}].{key}", rule.calendar))
        return out


# --------------------------------------------------------------------------- parsing


def _list(value: object, path: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidArgument("must be a list", field=path)
    if not value:
        raise InvalidArgument("must not be empty", field=path)
    return list(value)


def _int(value: object, path: str, lo: int, hi: int, *, zero: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{value!r} is not a whole number", field=path)
    if not lo <= value <= hi or (value == 0 and not zero):
        extra = " and not 0" if not zero else ""
        raise InvalidArgument(f"{value} is out of range {lo}..{hi}{extra}", field=path)
    return value


def _weekday(value: object, path: str) -> int:
    text = str(value).strip().upper()[:3]
    if text not in WEEKDAYS:
        raise InvalidArgument(f"{value!r} is not a weekday (MON..SUN)", field=path)
    return WEEKDAYS.index(text)


def _date(value: object, path: str) -> date:
    if isinstance(value, date):
        found = value
    else:
        try:
            found = date.fromisoformat(str(value))
        except ValueError as exc:
            raise InvalidArgument(f"{value!r} is not a date (YYYY-MM-DD)", field=path) from exc
    if not MIN_YEAR <= found.year <= MAX_YEAR:
        raise InvalidArgument(
            f"year {found.year} is out of range {MIN_YEAR}..{MAX_YEAR}", field=path
        )
    return found


def _month_day(value: object, path: str) -> tuple[int, int]:
    text = str(value)
    parts = text.split("-")
    try:
        month, day = (int(p) for p in parts)
        date(2000, month, day)  # a leap year: 02-29 is a valid annual day
    except ValueError as exc:
        raise InvalidArgument(f"{text!r} is not a month-day (MM-DD)", field=path) from exc
    return month, day


def _months(spec: Mapping[str, Any], path: str) -> tuple[int, ...]:
    value = spec.get("months", [])
    if value in ([], None):
        return ()
    return tuple(
        sorted(
            {
                _int(m, f"{path}.months[{i}]", 1, 12)
                for i, m in enumerate(_list(value, f"{path}.months"))
            }
        )
    )


def _ref(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument("must name a calendar", field=path)
    check_name(value, path)
    return value


def _spec(value: object, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidArgument("must be a mapping", field=path)
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidArgument(f"unknown key(s) {', '.join(unknown)}", field=path)
    return value


def parse_rule(raw: object, path: str) -> Rule:
    """One rule from its document form; InvalidArgument naming the field."""
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise InvalidArgument(
            f"a rule is a mapping with one key of {', '.join(RULE_KINDS)}", field=path
        )
    ((kind, value),) = raw.items()
    sub = f"{path}.{kind}"
    if kind == "dates":
        return Rule(
            kind,
            dates=tuple(sorted({_date(v, f"{sub}[{i}]") for i, v in enumerate(_list(value, sub))})),
        )
    if kind == "annual":
        return Rule(
            kind,
            month_days=tuple(
                sorted({_month_day(v, f"{sub}[{i}]") for i, v in enumerate(_list(value, sub))})
            ),
        )
    if kind == "weekdays":
        return Rule(
            kind,
            numbers=tuple(
                sorted({_weekday(v, f"{sub}[{i}]") for i, v in enumerate(_list(value, sub))})
            ),
        )
    if kind == "monthDays":
        nums = {
            _int(v, f"{sub}[{i}]", -31, 31, zero=False) for i, v in enumerate(_list(value, sub))
        }
        return Rule(kind, numbers=tuple(sorted(nums)))
    if kind == "easter":
        nums = {_int(v, f"{sub}[{i}]", -80, 240) for i, v in enumerate(_list(value, sub))}
        return Rule(kind, numbers=tuple(sorted(nums)))
    if kind == "nthWeekday":
        spec = _spec(value, sub, {"weekday", "n", "months"})
        if "weekday" not in spec:
            raise InvalidArgument("is required", field=f"{sub}.weekday")
        return Rule(
            kind,
            numbers=(_weekday(spec["weekday"], f"{sub}.weekday"),),
            n=_int(spec.get("n", 0), f"{sub}.n", -5, 5, zero=False),
            months=_months(spec, sub),
        )
    if kind == "businessDayOfMonth":
        spec = _spec(value, sub, {"calendar", "n", "months"})
        return Rule(
            kind,
            calendar=_ref(spec.get("calendar"), f"{sub}.calendar"),
            n=_int(spec.get("n", 0), f"{sub}.n", -23, 23, zero=False),
            months=_months(spec, sub),
        )
    if kind == "calendar":
        return Rule(kind, calendar=_ref(value, sub))
    raise InvalidArgument(f"unknown rule {kind!r}; one of {', '.join(RULE_KINDS)}", field=path)


def parse_calendar(document: object) -> CalendarDefinition:
    """A calendar from its document (a mapping); InvalidArgument naming the field."""
    if not isinstance(document, Mapping):
        raise InvalidArgument("a calendar document is a mapping", field="calendar")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise InvalidArgument(
            f"unknown key(s) {', '.join(map(str, unknown))}; "
            f"allowed: {', '.join(sorted(_TOP_KEYS))}",
            field="calendar",
        )
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("is required", field="name")
    check_name(name, "name")
    description = document.get("description", "") or ""
    if not isinstance(description, str):
        raise InvalidArgument("must be text", field="description")
    sections: dict[str, tuple[Rule, ...]] = {}
    for section in SECTIONS:
        raw = document.get(section)
        if raw is None or raw == []:
            sections[section] = ()
            continue
        sections[section] = tuple(
            parse_rule(r, f"{section}[{i}]") for i, r in enumerate(_list(raw, section))
        )
    if not sections["include"]:
        raise InvalidArgument("needs at least one rule", field="include")
    definition = CalendarDefinition(name, description, **sections)
    for path, ref in definition.references():
        if ref == name:
            raise InvalidArgument(f"calendar {name} refers to itself", field=path)
    return definition


def calendar_document(definition: CalendarDefinition) -> dict[str, Any]:
    """The canonical document form of a definition (parse_calendar reads it back)."""

    def rule_doc(rule: Rule) -> dict[str, Any]:
        if rule.kind == "dates":
            return {"dates": [d.isoformat() for d in rule.dates]}
        if rule.kind == "annual":
            return {"annual": [f"{m:02d}-{d:02d}" for m, d in rule.month_days]}
        if rule.kind == "weekdays":
            return {"weekdays": [WEEKDAYS[n] for n in rule.numbers]}
        if rule.kind in ("monthDays", "easter"):
            return {rule.kind: list(rule.numbers)}
        if rule.kind == "nthWeekday":
            spec: dict[str, Any] = {"weekday": WEEKDAYS[rule.numbers[0]], "n": rule.n}
        elif rule.kind == "businessDayOfMonth":
            spec = {"calendar": rule.calendar, "n": rule.n}
        else:
            return {"calendar": rule.calendar}
        if rule.months:
            spec["months"] = list(rule.months)
        return {rule.kind: spec}

    doc: dict[str, Any] = {"name": definition.name}
    if definition.description:
        doc["description"] = definition.description
    for section in SECTIONS:
        rules = getattr(definition, section)
        if rules:
            doc[section] = [rule_doc(r) for r in rules]
    return doc


# --------------------------------------------------------------------------- resolving


@dataclass(frozen=True, slots=True)
class DayVerdict:
    """Whether a date is a day of a calendar, and the rule that says so."""

    day: date
    member: bool
    reason: str


@dataclass(slots=True)
class CalendarBook:
    """A set of calendar definitions that may refer to each other; resolves dates per year."""

    definitions: Mapping[str, CalendarDefinition]
    versions: Mapping[str, int] = field(default_factory=dict)
    _cache: dict[tuple[str, int], frozenset[date]] = field(default_factory=dict)

    @classmethod
    def of(cls, definitions: Iterable[CalendarDefinition]) -> CalendarBook:
        return cls({d.name: d for d in definitions})

    def days_of(self, name: str, exclude: str = "") -> CalendarDays:
        """`name` as a trigger sees it; with `exclude`, its days minus those of `exclude`
        (no `name`: every day but those), as the calendar "NAME - EXCLUDE"."""
        if not exclude:
            return CalendarDays(name, self, self.versions.get(name, 0))
        combined = f"{name or 'every day'} - {exclude}"
        base = Rule("calendar", calendar=name) if name else Rule("weekdays", numbers=_ALL_DAYS)
        definition = CalendarDefinition(
            combined, include=(base,), exclude=(Rule("calendar", calendar=exclude),)
        )
        book = CalendarBook({**self.definitions, combined: definition}, dict(self.versions))
        version = self.versions.get(name, 0) * 1_000_003 + self.versions.get(exclude, 0)
        return CalendarDays(combined, book, version)

    def check(self, name: str) -> None:
        """InvalidArgument naming the field when `name` refers to an unknown calendar or is part
        of a cycle of references."""
        self._walk(name, ())

    def _walk(self, name: str, chain: tuple[str, ...]) -> None:
        definition = self.definitions[name]
        for path, ref in definition.references():
            where = path if not chain else f"{path} of calendar {name}"
            if ref in chain or ref == name:
                cycle = " -> ".join((*chain, name, ref))
                raise InvalidArgument(
                    f"calendars refer to each other in a cycle: {cycle}", field=where
                )
            if ref not in self.definitions:
                raise InvalidArgument(f"calendar {ref!r} does not exist", field=where)
            self._walk(ref, (*chain, name))

    def users_of(self, name: str) -> list[str]:
        """Calendars that refer to `name` directly."""
        return sorted(
            d.name
            for d in self.definitions.values()
            if any(ref == name for _, ref in d.references())
        )

    def requires(self, name: str) -> set[str]:
        """`name` and every calendar it refers to, directly or not (known ones only)."""
        found: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            definition = self.definitions.get(current)
            if definition is None or current in found:
                continue
            found.add(current)
            todo.extend(ref for _, ref in definition.references())
        return found

    def dependents(self, name: str) -> set[str]:
        """`name` and every calendar that refers to it, directly or not."""
        found = {name}
        todo = [name]
        while todo:
            for user in self.users_of(todo.pop()):
                if user not in found:
                    found.add(user)
                    todo.append(user)
        return found

    def days(self, name: str, year: int) -> frozenset[date]:
        """The dates of `name` in `year` (an unknown calendar has none: check() refuses it
        before it is stored)."""
        key = (name, year)
        found = self._cache.get(key)
        if found is not None:
            return found
        definition = self.definitions.get(name)
        if definition is None:
            return frozenset()
        result: set[date] = set()
        for rule in definition.include:
            result |= rule.days(year, self)
        for rule in definition.intersect:
            result &= rule.days(year, self)
        for rule in definition.exclude:
            result -= rule.days(year, self)
        frozen = frozenset(result)
        self._cache[key] = frozen
        return frozen

    def contains(self, name: str, day: date) -> bool:
        return day in self.days(name, day.year)

    def verdict(self, name: str, day: date) -> DayVerdict:
        """Whether `day` is a day of `name`, with the rule that decided it."""
        definition = self.definitions.get(name)
        if definition is None:
            return DayVerdict(day, False, f"calendar {name} does not exist")
        included = next((r for r in definition.include if day in r.days(day.year, self)), None)
        if included is None:
            return DayVerdict(day, False, f"not in calendar {name}: no include rule has it")
        for rule in definition.intersect:
            if day not in rule.days(day.year, self):
                return DayVerdict(
                    day, False, f"not in calendar {name}: intersect {rule.describe()} lacks it"
                )
        for rule in definition.exclude:
            if day in rule.days(day.year, self):
                why = f"excluded from calendar {name} by {rule.describe()}"
                if rule.kind == "calendar":
                    inner = self.verdict(rule.calendar, day).reason
                    why += f" ({inner})"
                return DayVerdict(day, False, why)
        return DayVerdict(day, True, f"in calendar {name} by {included.describe()}")

    def year_verdicts(self, name: str, year: int) -> list[DayVerdict]:
        """A verdict for every date of `year`."""
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise InvalidArgument(f"{year} is out of range {MIN_YEAR}..{MAX_YEAR}", field="year")
        return [self.verdict(name, d) for m in range(1, 13) for d in _month_days(year, m)]


@dataclass(frozen=True, slots=True)
class CalendarDays:
    """One calendar of a book, as a trigger sees it: `day in days`."""

    name: str
    book: CalendarBook
    version: int = 0

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.book.contains(self.name, day)

    def verdict(self, day: date) -> DayVerdict:
        return self.book.verdict(self.name, day)
