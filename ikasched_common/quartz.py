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

Time zones and the DST policy (docs/architecture.md §6.2; we differ from Quartz, which silently
skips): fire times are computed on the zone's wall clock, one UTC offset segment at a time, never by
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

from typing import TYPE_CHECKING

from ikasched_common.quartz_fires import CronTrigger
from ikasched_common.quartz_parse import (
    MAX_YEAR,
    MIN_YEAR,
    CronExpression,
    CronNeverFiresError,
    CronSyntaxError,
    DayOfMonthSpec,
    DayOfWeekSpec,
    parse_cron,
    zone,
)

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


def __getattr__(name: str) -> object:
    # Blackout lives in blackout.py (which imports this module); offered here too, lazily.
    if name == "Blackout":
        from ikasched_common.blackout import Blackout

        return Blackout
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
