"""Blackout windows: times at which a plan creates no instance and a time job does not fire.

A blackout is the union of

- *cron expressions*, read in the blackout's zone: an instant is inside when the wall-clock
  second containing it satisfies every field of the expression (Quartz's ``isSatisfiedBy``, which
  Ikasan calls with "now"). So ``* * 9-17 ? * MON-FRI`` blacks out whole business hours while
  ``0 0 12 * * ?`` blacks out only the single second 12:00:00. The match is on plain wall time:
  a wall second that exists twice (fall-back) is inside both times; the DST firing policy of
  quartz.py does not apply, since a blackout is a span of the wall clock, not a fire;
- *date-time ranges*: epoch-millisecond ``start -> end`` pairs, both ends inclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ikasched_common.errors import InvalidArgument
from ikasched_common.quartz import CronExpression, CronTrigger, parse_cron, zone

__all__ = ["Blackout", "BlackoutRange", "epoch_ms", "from_epoch_ms"]

DEFAULT_MAX_SKIPS = 100_000


def epoch_ms(at: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidArgument("must be a timezone-aware datetime", field="at")
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_epoch_ms(ms: int) -> datetime:
    """The aware UTC datetime of an epoch-millisecond value."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


@dataclass(frozen=True, slots=True)
class BlackoutRange:
    """An inclusive epoch-millisecond span."""

    start_ms: int
    end_ms: int

    def contains(self, ms: int) -> bool:
        return self.start_ms <= ms <= self.end_ms


RangesInput = Mapping[int, int] | Mapping[str, str] | Iterable[tuple[int, int]]


def _ranges(ranges: RangesInput) -> tuple[BlackoutRange, ...]:
    pairs: Iterable[tuple[object, object]] = (
        ranges.items() if isinstance(ranges, Mapping) else ranges
    )
    out: list[BlackoutRange] = []
    for start, end in pairs:
        try:
            start_ms, end_ms = int(str(start)), int(str(end))
        except ValueError as exc:
            raise InvalidArgument(
                f"range {start!r} -> {end!r} is not epoch milliseconds",
                field="blackout_window_date_time_ranges",
            ) from exc
        if end_ms < start_ms:
            raise InvalidArgument(
                f"range {start_ms} -> {end_ms} ends before it starts",
                field="blackout_window_date_time_ranges",
            )
        out.append(BlackoutRange(start_ms, end_ms))
    return tuple(sorted(out, key=lambda r: (r.start_ms, r.end_ms)))


class Blackout:
    """Cron expressions and epoch-ms ranges during which nothing starts."""

    __slots__ = ("expressions", "ranges", "timezone", "tz")

    def __init__(
        self,
        cron_expressions: Iterable[str | CronExpression] = (),
        date_time_ranges: RangesInput = (),
        timezone: str = "UTC",
    ) -> None:
        self.expressions = tuple(
            e if isinstance(e, CronExpression) else parse_cron(e) for e in cron_expressions
        )
        self.ranges = _ranges(date_time_ranges)
        self.tz = zone(timezone)
        self.timezone = self.tz.key

    def __bool__(self) -> bool:
        return bool(self.expressions or self.ranges)

    def __repr__(self) -> str:
        crons = [e.text for e in self.expressions]
        spans = [(r.start_ms, r.end_ms) for r in self.ranges]
        return f"Blackout({crons!r}, {spans!r}, {self.timezone!r})"

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` falls inside any blackout cron second or range."""
        ms = epoch_ms(at)
        if any(r.contains(ms) for r in self.ranges):
            return True
        if not self.expressions:
            return False
        wall = at.astimezone(self.tz).replace(tzinfo=None, microsecond=0)
        return any(e.matches(wall) for e in self.expressions)

    def _range_end(self, at: datetime) -> datetime | None:
        """The latest inclusive end among ranges containing ``at``."""
        ms = epoch_ms(at)
        ends = [r.end_ms for r in self.ranges if r.contains(ms)]
        return from_epoch_ms(max(ends)) if ends else None

    def next_allowed_fire(
        self, trigger: CronTrigger, after: datetime, *, max_skips: int = DEFAULT_MAX_SKIPS
    ) -> datetime | None:
        """The first fire of ``trigger`` strictly after ``after`` outside the blackout.

        A fire inside a range jumps straight past the range's end; a fire inside a cron blackout
        moves to the next fire. None when the trigger is exhausted, or when ``max_skips`` fires
        in a row fall inside the blackout (e.g. a blackout of ``* * * * * ?``).
        """
        at = after
        for _ in range(max_skips + 1):
            fire = trigger.next_fire_time(at)
            if fire is None or not self.contains(fire):
                return fire
            end = self._range_end(fire)
            at = max(fire, end) if end is not None else fire
        return None
