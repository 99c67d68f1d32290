"""Fire times of a parsed Quartz expression in a zone: `CronTrigger`.

Computed on the zone's wall clock one UTC offset segment at a time, by the DST policy described
in `ikasched_common.quartz` (which re-exports `CronTrigger`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from ikasched_common.errors import InvalidArgument
from ikasched_common.quartz_parse import (
    MAX_YEAR,
    MIN_YEAR,
    CronExpression,
    never_fires,
    parse_cron,
    zone,
)

_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)


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
            raise never_fires(self.expression, True)

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
