"""The DST policy (docs/architecture.md §6.2) against hand-written tables for the 2026 changes.

Zone facts (tz database):
- Europe/London: 2026-03-29 01:00Z GMT(+0) -> BST(+1), local 01:00-01:59 skipped;
  2026-10-25 01:00Z BST -> GMT, local 01:00-01:59 repeated (first at 00:xxZ, then 01:xxZ).
- America/New_York: 2026-03-08 07:00Z EST(-5) -> EDT(-4), local 02:00-02:59 skipped;
  2026-11-01 06:00Z EDT -> EST, local 01:00-01:59 repeated (first at 05:xxZ, then 06:xxZ).
- Australia/Lord_Howe: 2026-04-04 15:00Z LHDT(+11) -> LHST(+10:30), local 01:30-01:59 of
  5 April repeated (first at 14:30-14:59Z, then 15:00-15:29Z);
  2026-10-03 15:30Z LHST -> LHDT, local 02:00-02:29 of 4 October skipped.

Policy: fixed hours fire a skipped wall time once at the instant the gap ends and a repeated
one once at its first occurrence; other hours fire at every real instant whose wall time matches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from ikasched_common.quartz import CronTrigger


def U(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


LONDON = "Europe/London"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"

TABLES: list[tuple[str, str, str, datetime, list[datetime]]] = [
    # ---------------------------------------------------------------- London, spring forward
    (
        "london spring fixed",
        "0 30 1 * * ?",
        LONDON,
        U(2026, 3, 27, 12),
        [
            U(2026, 3, 28, 1, 30),  # 01:30 GMT
            U(2026, 3, 29, 1, 0),  # 01:30 does not exist: fires as the gap ends, 02:00 BST
            U(2026, 3, 30, 0, 30),  # 01:30 BST
        ],
    ),
    (
        "london spring fixed hour, three gap times fire once",
        "0 0/20 1 * * ?",
        LONDON,
        U(2026, 3, 28, 12),
        [
            U(2026, 3, 29, 1, 0),  # 01:00, 01:20, 01:40 all skipped -> one fire at 02:00 BST
            U(2026, 3, 30, 0, 0),
            U(2026, 3, 30, 0, 20),
            U(2026, 3, 30, 0, 40),
        ],
    ),
    (
        "london spring stepped",
        "0 */30 * * * ?",
        LONDON,
        U(2026, 3, 29, 0, 0),
        [
            U(2026, 3, 29, 0, 30),  # 00:30 GMT
            U(2026, 3, 29, 1, 0),  # 02:00 BST (01:00 and 01:30 do not exist)
            U(2026, 3, 29, 1, 30),  # 02:30 BST
        ],
    ),
    (
        "london spring ranged",
        "0 30 0-3 * * ?",
        LONDON,
        U(2026, 3, 29, 0, 0),
        [
            U(2026, 3, 29, 0, 30),  # 00:30 GMT
            U(2026, 3, 29, 1, 30),  # 02:30 BST; 01:30 does not exist and is not caught up
            U(2026, 3, 29, 2, 30),  # 03:30 BST
            U(2026, 3, 29, 23, 30),  # 00:30 BST on the 30th
        ],
    ),
    # ---------------------------------------------------------------- London, fall back
    (
        "london fall fixed",
        "0 30 1 * * ?",
        LONDON,
        U(2026, 10, 24, 0, 0),
        [
            U(2026, 10, 24, 0, 30),  # 01:30 BST
            U(2026, 10, 25, 0, 30),  # first 01:30 (BST); the second (GMT, 01:30Z) does not fire
            U(2026, 10, 26, 1, 30),  # 01:30 GMT
        ],
    ),
    (
        "london fall every 15 minutes",
        "0 */15 * * * ?",
        LONDON,
        U(2026, 10, 24, 23, 50),
        [
            U(2026, 10, 25, 0, 0),
            U(2026, 10, 25, 0, 15),
            U(2026, 10, 25, 0, 30),
            U(2026, 10, 25, 0, 45),  # 01:00-01:45 BST
            U(2026, 10, 25, 1, 0),
            U(2026, 10, 25, 1, 15),
            U(2026, 10, 25, 1, 30),
            U(2026, 10, 25, 1, 45),  # 01:00-01:45 GMT: the repeated wall times fire again
            U(2026, 10, 25, 2, 0),  # 02:00 GMT
        ],
    ),
    (
        "london fall hourly",
        "0 0 * * * ?",
        LONDON,
        U(2026, 10, 24, 22, 30),
        [
            U(2026, 10, 24, 23, 0),  # 00:00 BST
            U(2026, 10, 25, 0, 0),  # 01:00 BST
            U(2026, 10, 25, 1, 0),  # 01:00 GMT
            U(2026, 10, 25, 2, 0),  # 02:00 GMT
        ],
    ),
    (
        "london fall fixed hour, every minute",
        "0 * 1 * * ?",
        LONDON,
        U(2026, 10, 24, 23, 0),
        [U(2026, 10, 25, 0, m) for m in range(60)]  # the first (BST) 01:00-01:59 only
        + [U(2026, 10, 26, 1, 0)],
    ),
    # ---------------------------------------------------------------- New York, spring forward
    (
        "new york spring fixed",
        "0 30 2 * * ?",
        NEW_YORK,
        U(2026, 3, 6, 12),
        [
            U(2026, 3, 7, 7, 30),  # 02:30 EST
            U(2026, 3, 8, 7, 0),  # 02:30 does not exist: fires at 03:00 EDT
            U(2026, 3, 9, 6, 30),  # 02:30 EDT
        ],
    ),
    (
        "new york spring stepped",
        "0 0/30 * * * ?",
        NEW_YORK,
        U(2026, 3, 8, 6, 0),
        [
            U(2026, 3, 8, 6, 30),  # 01:30 EST
            U(2026, 3, 8, 7, 0),  # 03:00 EDT
            U(2026, 3, 8, 7, 30),  # 03:30 EDT
        ],
    ),
    (
        "new york spring list of fixed hours",
        "0 0 1,2 * * ?",
        NEW_YORK,
        U(2026, 3, 8, 5, 0),
        [
            U(2026, 3, 8, 6, 0),  # 01:00 EST
            U(2026, 3, 8, 7, 0),  # 02:00 does not exist: 03:00 EDT
            U(2026, 3, 9, 5, 0),  # 01:00 EDT
            U(2026, 3, 9, 6, 0),  # 02:00 EDT
        ],
    ),
    # ---------------------------------------------------------------- New York, fall back
    (
        "new york fall fixed",
        "0 30 1 * * ?",
        NEW_YORK,
        U(2026, 10, 31, 0, 0),
        [
            U(2026, 10, 31, 5, 30),  # 01:30 EDT
            U(2026, 11, 1, 5, 30),  # first 01:30 (EDT) only
            U(2026, 11, 2, 6, 30),  # 01:30 EST
        ],
    ),
    (
        "new york fall ranged",
        "0 30 0-2 * * ?",
        NEW_YORK,
        U(2026, 11, 1, 4, 0),
        [
            U(2026, 11, 1, 4, 30),  # 00:30 EDT
            U(2026, 11, 1, 5, 30),  # 01:30 EDT
            U(2026, 11, 1, 6, 30),  # 01:30 EST
            U(2026, 11, 1, 7, 30),  # 02:30 EST
            U(2026, 11, 2, 5, 30),  # 00:30 EST
        ],
    ),
    (
        "new york fall every 30 minutes",
        "0 */30 * * * ?",
        NEW_YORK,
        U(2026, 11, 1, 4, 50),
        [
            U(2026, 11, 1, 5, 0),
            U(2026, 11, 1, 5, 30),  # 01:00, 01:30 EDT
            U(2026, 11, 1, 6, 0),
            U(2026, 11, 1, 6, 30),  # 01:00, 01:30 EST
            U(2026, 11, 1, 7, 0),  # 02:00 EST
        ],
    ),
    # ---------------------------------------------------------------- Lord Howe, back 30 min
    (
        "lord howe fall fixed",
        "0 45 1 * * ?",
        LORD_HOWE,
        U(2026, 4, 3, 0, 0),
        [
            U(2026, 4, 3, 14, 45),  # 01:45 LHDT on the 4th
            U(2026, 4, 4, 14, 45),  # first 01:45 (LHDT) on the 5th; not 15:15Z
            U(2026, 4, 5, 15, 15),  # 01:45 LHST on the 6th
        ],
    ),
    (
        "lord howe fall every 15 minutes",
        "0 */15 * * * ?",
        LORD_HOWE,
        U(2026, 4, 4, 14, 20),
        [
            U(2026, 4, 4, 14, 30),
            U(2026, 4, 4, 14, 45),  # 01:30, 01:45 LHDT
            U(2026, 4, 4, 15, 0),
            U(2026, 4, 4, 15, 15),  # 01:30, 01:45 LHST
            U(2026, 4, 4, 15, 30),
            U(2026, 4, 4, 15, 45),  # 02:00, 02:15 LHST
        ],
    ),
    (
        "lord howe fall hourly",
        "0 0 * * * ?",
        LORD_HOWE,
        U(2026, 4, 4, 13, 30),
        [
            U(2026, 4, 4, 14, 0),  # 01:00 LHDT
            U(2026, 4, 4, 15, 30),  # 02:00 LHST (the wall clock went 01:59:59 -> 01:30)
            U(2026, 4, 4, 16, 30),  # 03:00 LHST
        ],
    ),
    # ---------------------------------------------------------------- Lord Howe, forward 30 min
    (
        "lord howe spring fixed",
        "0 15 2 * * ?",
        LORD_HOWE,
        U(2026, 10, 2, 0, 0),
        [
            U(2026, 10, 2, 15, 45),  # 02:15 LHST on the 3rd
            U(2026, 10, 3, 15, 30),  # 02:15 does not exist on the 4th: fires at 02:30 LHDT
            U(2026, 10, 4, 15, 15),  # 02:15 LHDT on the 5th
        ],
    ),
    (
        "lord howe spring fixed hour, gap and its end both match",
        "0 0/15 2 * * ?",
        LORD_HOWE,
        U(2026, 10, 3, 15, 0),
        [
            U(2026, 10, 3, 15, 30),  # 02:00, 02:15 skipped and 02:30 LHDT itself: one fire
            U(2026, 10, 3, 15, 45),  # 02:45 LHDT
            U(2026, 10, 4, 15, 0),  # 02:00 LHDT on the 5th
        ],
    ),
    (
        "lord howe spring stepped",
        "0 */15 * * * ?",
        LORD_HOWE,
        U(2026, 10, 3, 15, 0),
        [
            U(2026, 10, 3, 15, 15),  # 01:45 LHST
            U(2026, 10, 3, 15, 30),  # 02:30 LHDT
            U(2026, 10, 3, 15, 45),  # 02:45 LHDT
        ],
    ),
]


@pytest.mark.parametrize(
    ("name", "expression", "tz", "after", "expected"), TABLES, ids=[t[0] for t in TABLES]
)
def test_dst_fire_time_tables(
    name: str, expression: str, tz: str, after: datetime, expected: list[datetime]
) -> None:
    trigger = CronTrigger(expression, tz)
    assert trigger.next_fire_times(after, len(expected)) == expected
    for earlier, later in pairwise(expected):
        assert trigger.previous_fire_time(later) == earlier
        assert trigger.next_fire_time(earlier) == later


def test_fixed_hour_second_occurrence_is_not_a_fire() -> None:
    trigger = CronTrigger("0 30 1 * * ?", NEW_YORK)
    assert trigger.fires_at(U(2026, 11, 1, 5, 30))
    assert not trigger.fires_at(U(2026, 11, 1, 6, 30))
    assert trigger.previous_fire_time(U(2026, 11, 1, 7, 0)) == U(2026, 11, 1, 5, 30)
    # starting inside the repeated hour, after the first occurrence, goes to the next day
    assert trigger.next_fire_time(U(2026, 11, 1, 6, 0)) == U(2026, 11, 2, 6, 30)


def test_gap_fire_when_starting_exactly_at_the_transition() -> None:
    london = CronTrigger("0 30 1 * * ?", LONDON)
    assert london.next_fire_time(U(2026, 3, 29, 0, 59, 59)) == U(2026, 3, 29, 1, 0)
    assert london.next_fire_time(U(2026, 3, 29, 1, 0)) == U(2026, 3, 30, 0, 30)
    assert london.previous_fire_time(U(2026, 3, 29, 1, 0, 1)) == U(2026, 3, 29, 1, 0)
    assert london.previous_fire_time(U(2026, 3, 29, 1, 0)) == U(2026, 3, 28, 1, 30)
    lord_howe = CronTrigger("0 15 2 * * ?", LORD_HOWE)
    assert lord_howe.previous_fire_time(U(2026, 10, 4)) == U(2026, 10, 3, 15, 30)


def test_stepped_hours_never_fire_twice_at_one_instant_and_keep_cadence() -> None:
    for tz, after in (
        (LONDON, U(2026, 10, 24, 20)),
        (NEW_YORK, U(2026, 11, 1, 2)),
        (LONDON, U(2026, 3, 28, 20)),
        (NEW_YORK, U(2026, 3, 8, 3)),
    ):
        fires = CronTrigger("0 */10 * * * ?", tz).next_fire_times(after, 60)
        gaps = {(b - a).total_seconds() for a, b in pairwise(fires)}
        assert gaps == {600.0}, tz  # every 10 real minutes straight through the change


def test_daily_fixed_fire_is_once_per_local_day_across_a_year() -> None:
    for tz in (LONDON, NEW_YORK, LORD_HOWE):
        fires = CronTrigger("0 30 2 * * ?", tz).next_fire_times(U(2026, 1, 1), 365)
        local_days = [f.astimezone(ZoneInfo(tz)).date() for f in fires]
        assert len(set(local_days)) == 365, tz
