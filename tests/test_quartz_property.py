"""Property test: for random plain expressions, the fire times are strictly increasing, each one
is a fire by the DST policy, and (brute force, minute by minute) none is missing in between.

The oracle below re-states the policy independently of quartz.py: it checks real instants one
at a time against plain field sets, without segments or bisection.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikasched_common.quartz import CronTrigger

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]
# instants near the 2026 changes of those zones, so the DST paths are exercised often
PIVOTS = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    datetime(2028, 2, 28, 12, tzinfo=UTC),
]
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Spec:
    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: frozenset[int] | None
    dow: frozenset[int] | None  # Quartz numbering 1=SUN
    fixed: bool

    def matches(self, wall: datetime) -> bool:
        quartz_dow = wall.isoweekday() % 7 + 1
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and (self.dom is None or wall.day in self.dom)
            and (self.dow is None or quartz_dow in self.dow)
        )


@st.composite
def field(draw: st.DrawFn, low: int, high: int) -> tuple[str, frozenset[int], bool]:
    kind = draw(st.sampled_from(["star", "one", "list", "range", "step", "starstep"]))
    if kind == "star":
        return "*", frozenset(range(low, high + 1)), False
    if kind == "one":
        v = draw(st.integers(low, high))
        return str(v), frozenset([v]), True
    if kind == "list":
        vs = sorted(draw(st.sets(st.integers(low, high), min_size=1, max_size=4)))
        return ",".join(map(str, vs)), frozenset(vs), True
    if kind == "range":
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        return f"{a}-{b}", frozenset(range(a, b + 1)), False
    step = draw(st.integers(1, max(1, (high - low) // 2)))
    if kind == "step":
        a = draw(st.integers(low, high))
        return f"{a}/{step}", frozenset(range(a, high + 1, step)), False
    return f"*/{step}", frozenset(range(low, high + 1, step)), False


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    sec_text, secs, _ = draw(field(0, 59))
    min_text, mins, _ = draw(field(0, 59))
    hour_text, hours, fixed = draw(field(0, 23))
    if draw(st.booleans()):
        dom_text, dom_set, _ = draw(field(1, 31))
        dom = None if dom_text == "*" else dom_set
        dow_text, dow = "?", None
    else:
        dow_text, dow_set, _ = draw(field(1, 7))
        dom_text, dom, dow = "?", None, (None if dow_text == "*" else dow_set)
    text = f"{sec_text} {min_text} {hour_text} {dom_text} * {dow_text}"
    return Spec(text, secs, mins, hours, dom, dow, fixed)


def _offset(tz: ZoneInfo, at: datetime) -> timedelta:
    off = at.astimezone(tz).utcoffset()
    assert off is not None
    return off


def is_fire(spec: Spec, tz: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(tz)
    wall = local.replace(tzinfo=None)
    off, before = _offset(tz, at), _offset(tz, at - SECOND)
    if not spec.fixed:
        return spec.matches(wall)
    if before < off:  # `at` ends a skipped gap: fires if any wall second in the gap matches
        gap_wall = (at + before).replace(tzinfo=None)
        while gap_wall < (at + off).replace(tzinfo=None):
            if any(spec.matches(gap_wall.replace(second=s)) for s in spec.seconds):
                return True
            gap_wall += MINUTE
    first_occurrence = wall.replace(tzinfo=tz, fold=0).utcoffset() == off
    return spec.matches(wall) and first_occurrence


def oracle(spec: Spec, tz: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """Every fire in (after, until], by checking each candidate second."""
    out: list[datetime] = []
    minute = after.replace(second=0, microsecond=0)
    offsets = sorted(spec.seconds | {0})  # second 0: where a gap can end
    while minute <= until:
        for s in offsets:
            at = minute + timedelta(seconds=s)
            if after < at <= until and is_fire(spec, tz, at):
                out.append(at)
        minute += MINUTE
    return out


@settings(
    max_examples=400 if LONG else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    spec=specs(),
    tz_name=st.sampled_from(ZONES),
    pivot=st.sampled_from(PIVOTS),
    shift_minutes=st.integers(-36 * 60, 36 * 60),
    seconds=st.integers(0, 59),
)
def test_fire_times_increase_match_and_miss_nothing(
    spec: Spec, tz_name: str, pivot: datetime, shift_minutes: int, seconds: int
) -> None:
    tz = ZoneInfo(tz_name)
    after = pivot + timedelta(minutes=shift_minutes, seconds=seconds)
    trigger = CronTrigger(spec.text, tz_name)
    fires = trigger.next_fire_times(after, 4)
    assert len(fires) == 4  # plain expressions without a year fire again
    assert all(f.tzinfo is UTC and f.microsecond == 0 for f in fires)
    assert all(a < b for a, b in pairwise([after, *fires]))
    for fire in fires:
        assert is_fire(spec, tz, fire), (spec.text, tz_name, fire)
    for earlier, later in pairwise(fires):
        assert trigger.previous_fire_time(later) == earlier
    if fires[-1] - after <= timedelta(days=3):  # brute force only over short windows
        assert oracle(spec, tz, after, fires[-1]) == fires


# ------------------------------------------------------------------ special day forms


def _month_days(day: date) -> list[date]:
    first = day.replace(day=1)
    out = []
    d = first
    while d.month == first.month:
        out.append(d)
        d += timedelta(days=1)
    return out


def _weekdays(day: date) -> list[date]:
    return [d for d in _month_days(day) if d.weekday() < 5]


def _quartz_dow(day: date) -> int:
    return day.isoweekday() % 7 + 1


# Brute-force definitions of each special, straight from their meaning.
DAY_FORMS: dict[str, tuple[str, Callable[[date, int, int], bool]]] = {
    "L-n": ("{n}", lambda d, n, k: d == _month_days(d)[-1] - timedelta(days=n)),
    # nearest weekday to day n+1 within the month; a month shorter than n+1 does not fire
    "nW": (
        "{n1}W",
        lambda d, n, k: (
            n + 1 <= len(_month_days(d))
            and d == min(_weekdays(d), key=lambda w: abs(w.day - n - 1))
        ),
    ),
    "LW": ("LW", lambda d, n, k: d == _weekdays(d)[-1]),
    "nL": ("{q}L", lambda d, n, k: d == [x for x in _month_days(d) if _quartz_dow(x) == k][-1]),
    "n#k": (
        "{q}#{k5}",
        lambda d, n, k: (
            [x for x in _month_days(d) if _quartz_dow(x) == k].index(d) + 1 == n % 5 + 1
            if _quartz_dow(d) == k
            else False
        ),
    ),
}


@settings(max_examples=200 if LONG else 40, deadline=None)
@given(
    form=st.sampled_from(sorted(DAY_FORMS)),
    n=st.integers(0, 30),
    k=st.integers(1, 7),
    tz_name=st.sampled_from(ZONES),
    start=st.dates(date(2025, 1, 1), date(2030, 12, 31)),
)
def test_special_day_forms_match_brute_force(
    form: str, n: int, k: int, tz_name: str, start: date
) -> None:
    template, predicate = DAY_FORMS[form]
    if form == "L-n":
        n = n % 28  # every month has a day L-27 (the 1st of a non-leap February)
    day_text = template.format(n=f"L-{n}", n1=n + 1, q=k, k5=n % 5 + 1)
    in_dom = form in ("L-n", "nW", "LW")
    text = f"0 0 12 {day_text} * ?" if in_dom else f"0 0 12 ? * {day_text}"
    tz = ZoneInfo(tz_name)
    after = datetime(start.year, start.month, start.day, tzinfo=tz)
    fires = CronTrigger(text, tz_name).next_fire_times(after, 5)
    assert len(fires) == 5
    local_days = [f.astimezone(tz) for f in fires]
    assert all((d.hour, d.minute, d.second) == (12, 0, 0) for d in local_days), text
    expected: list[date] = []
    day = start
    while len(expected) < 5:
        if predicate(day, n, k):
            expected.append(day)
        day += timedelta(days=1)
    assert [d.date() for d in local_days] == expected, text
