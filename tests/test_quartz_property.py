"""Property test: for random plain expressions, the fire times are strictly increasing, each one
is a fire by the DST policy, and (brute force, minute by minute) none is missing in between.

The oracle below re-states the policy independently of quartz.py: it checks real instants one
at a time against plain field sets, without segments or bisection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikasched_common.quartz import CronTrigger

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]
# instants near the 2026 changes of those zones, so the DST paths are exercised often
PIVOTS = [
    datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
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
