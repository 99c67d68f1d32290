"""Quartz cron: every form against hand-written fire-time tables (UTC), and validation.

Calendar facts used (2026): Jan 1 is a Thursday, Feb 1 a Sunday, Mar 1 a Sunday, Apr 1 a
Wednesday, May 1 a Friday, Jun 1 a Monday, Jul 1 a Wednesday, Aug 1 a Saturday, Oct 1 a
Thursday, Dec 1 a Tuesday; 29 Feb 2028 is a Tuesday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from ikasched_common.errors import InvalidArgument
from ikasched_common.quartz import (
    CronNeverFiresError,
    CronSyntaxError,
    CronTrigger,
    parse_cron,
    zone,
)


def U(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def check_table(trigger: CronTrigger, after: datetime, expected: list[datetime]) -> None:
    assert trigger.next_fire_times(after, len(expected)) == expected
    # previous_fire_time walks the same table backwards
    for earlier, later in pairwise(expected):
        assert trigger.previous_fire_time(later) == earlier
    before_first = trigger.previous_fire_time(expected[0])
    assert before_first is None or before_first <= after


UTC_TABLES: list[tuple[str, datetime, list[datetime]]] = [
    ("0 0 12 * * ?", U(2026, 1, 1), [U(2026, 1, 1, 12), U(2026, 1, 2, 12), U(2026, 1, 3, 12)]),
    (
        "*/20 * * * * ?",
        U(2026, 1, 1),
        [U(2026, 1, 1, 0, 0, 20), U(2026, 1, 1, 0, 0, 40), U(2026, 1, 1, 0, 1, 0)],
    ),
    ("30 0 0 * * ?", U(2026, 1, 1), [U(2026, 1, 1, 0, 0, 30), U(2026, 1, 2, 0, 0, 30)]),
    (
        "0 15,45 10-11 * * ?",
        U(2026, 1, 1),
        [
            U(2026, 1, 1, 10, 15),
            U(2026, 1, 1, 10, 45),
            U(2026, 1, 1, 11, 15),
            U(2026, 1, 1, 11, 45),
            U(2026, 1, 2, 10, 15),
        ],
    ),
    (
        "0 5/20 9 * * ?",
        U(2026, 1, 1),
        [U(2026, 1, 1, 9, 5), U(2026, 1, 1, 9, 25), U(2026, 1, 1, 9, 45), U(2026, 1, 2, 9, 5)],
    ),
    (
        "0 0 8-18/4 * * ?",
        U(2026, 1, 1),
        [U(2026, 1, 1, 8), U(2026, 1, 1, 12), U(2026, 1, 1, 16), U(2026, 1, 2, 8)],
    ),
    # a range whose start is after its end wraps around midnight
    (
        "0 0 22-1 * * ?",
        U(2026, 1, 1, 12),
        [
            U(2026, 1, 1, 22),
            U(2026, 1, 1, 23),
            U(2026, 1, 2, 0),
            U(2026, 1, 2, 1),
            U(2026, 1, 2, 22),
        ],
    ),
    ("0 0 0 1 JAN,jul ?", U(2026, 1, 1), [U(2026, 7, 1), U(2027, 1, 1), U(2027, 7, 1)]),
    ("0 0 0 1 3-5 ?", U(2026, 1, 1), [U(2026, 3, 1), U(2026, 4, 1), U(2026, 5, 1), U(2027, 3, 1)]),
    (
        "0 0 9 ? * MON-FRI",
        U(2026, 1, 1),
        [U(2026, 1, 1, 9), U(2026, 1, 2, 9), U(2026, 1, 5, 9), U(2026, 1, 6, 9)],
    ),
    # Quartz numbering: 1 = SUN, 7 = SAT
    (
        "0 0 9 ? * 1,7",
        U(2026, 1, 1),
        [U(2026, 1, 3, 9), U(2026, 1, 4, 9), U(2026, 1, 10, 9), U(2026, 1, 11, 9)],
    ),
    (
        "0 0 9 ? * FRI-MON",
        U(2026, 1, 1),
        [U(2026, 1, 2, 9), U(2026, 1, 3, 9), U(2026, 1, 4, 9), U(2026, 1, 5, 9), U(2026, 1, 9, 9)],
    ),
    (
        "0 0 0 L * ?",
        U(2026, 1, 1),
        [U(2026, 1, 31), U(2026, 2, 28), U(2026, 3, 31), U(2026, 4, 30)],
    ),
    (
        "0 0 0 L-3 * ?",
        U(2026, 1, 1),
        [U(2026, 1, 28), U(2026, 2, 25), U(2026, 3, 28), U(2026, 4, 27)],
    ),
    # 15 Feb and 15 Mar 2026 are Sundays (-> Monday 16th)
    (
        "0 0 0 15W * ?",
        U(2026, 1, 1),
        [
            U(2026, 1, 15),
            U(2026, 2, 16),
            U(2026, 3, 16),
            U(2026, 4, 15),
            U(2026, 5, 15),
            U(2026, 6, 15),
        ],
    ),
    # 15 Aug 2026 is a Saturday (-> Friday 14th)
    ("0 0 0 15W * ?", U(2026, 8, 1), [U(2026, 8, 14)]),
    # 1W never goes back into the previous month: 1 Aug 2026 (Sat) -> Monday 3 Aug
    (
        "0 0 0 1W * ?",
        U(2025, 12, 31, 12),
        [
            U(2026, 1, 1),
            U(2026, 2, 2),
            U(2026, 3, 2),
            U(2026, 4, 1),
            U(2026, 5, 1),
            U(2026, 6, 1),
            U(2026, 7, 1),
            U(2026, 8, 3),
        ],
    ),
    # 31W never goes forward into the next month; 30-day months do not fire
    (
        "0 0 0 31W * ?",
        U(2026, 1, 1),
        [
            U(2026, 1, 30),
            U(2026, 3, 31),
            U(2026, 5, 29),
            U(2026, 7, 31),
            U(2026, 8, 31),
            U(2026, 10, 30),
            U(2026, 12, 31),
        ],
    ),
    (
        "0 0 0 LW * ?",
        U(2026, 1, 1),
        [U(2026, 1, 30), U(2026, 2, 27), U(2026, 3, 31), U(2026, 4, 30), U(2026, 5, 29)],
    ),
    (
        "0 0 0 ? * 6L",
        U(2026, 1, 1),
        [U(2026, 1, 30), U(2026, 2, 27), U(2026, 3, 27), U(2026, 4, 24), U(2026, 5, 29)],
    ),
    ("0 0 0 ? * FRIL", U(2026, 1, 1), [U(2026, 1, 30), U(2026, 2, 27)]),
    (
        "0 0 0 ? * 2#1",
        U(2026, 1, 1),
        [U(2026, 1, 5), U(2026, 2, 2), U(2026, 3, 2), U(2026, 4, 6), U(2026, 5, 4), U(2026, 6, 1)],
    ),
    ("0 0 0 ? * 6#5", U(2026, 1, 1), [U(2026, 1, 30), U(2026, 5, 29), U(2026, 7, 31)]),
    # L alone in day-of-week is Saturday
    ("0 0 0 ? * L", U(2026, 1, 1), [U(2026, 1, 3), U(2026, 1, 10), U(2026, 1, 17)]),
    (
        "0 0 0 1,L * ?",
        U(2026, 1, 1),
        [U(2026, 1, 31), U(2026, 2, 1), U(2026, 2, 28), U(2026, 3, 1)],
    ),
    (
        "0 0 0 30-2 * ?",
        U(2026, 1, 15),
        [U(2026, 1, 30), U(2026, 1, 31), U(2026, 2, 1), U(2026, 2, 2), U(2026, 3, 1)],
    ),
    # leap years
    ("0 0 0 29 2 ?", U(2026, 1, 1), [U(2028, 2, 29), U(2032, 2, 29), U(2036, 2, 29)]),
    ("0 0 0 L 2 ?", U(2026, 1, 1), [U(2026, 2, 28), U(2027, 2, 28), U(2028, 2, 29)]),
    ("0 0 0 LW 2 ? 2028", U(2026, 1, 1), [U(2028, 2, 29)]),
    # year field
    ("0 0 0 1 1 ? 2030/10", U(2026, 1, 1), [U(2030, 1, 1), U(2040, 1, 1), U(2050, 1, 1)]),
    ("0 0 0 1 1 ? 2027-2028", U(2026, 6, 1), [U(2027, 1, 1), U(2028, 1, 1)]),
]


@pytest.mark.parametrize(
    ("expression", "after", "expected"), UTC_TABLES, ids=[t[0] for t in UTC_TABLES]
)
def test_fire_time_tables_utc(expression: str, after: datetime, expected: list[datetime]) -> None:
    check_table(CronTrigger(expression), after, expected)


def test_year_range_exhausted_returns_none() -> None:
    trigger = CronTrigger("0 0 0 1 1 ? 2027-2028")
    assert trigger.next_fire_times(U(2026, 6, 1), 5) == [U(2027, 1, 1), U(2028, 1, 1)]
    assert trigger.next_fire_time(U(2028, 1, 1)) is None
    assert trigger.previous_fire_time(U(2027, 1, 1)) is None
    assert trigger.previous_fire_time(U(2100, 1, 1)) == U(2028, 1, 1)


@pytest.mark.parametrize("tz", ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"])
def test_years_in_the_past_never_fire_and_do_not_hang(tz: str) -> None:
    trigger = CronTrigger("0 0 0 1 1 ? 2020", tz)
    assert trigger.next_fire_time(U(2026, 1, 1)) is None
    assert trigger.next_fire_times(U(2026, 1, 1), 3) == []
    # past the last year Quartz allows
    assert CronTrigger("0 0 0 1 1 ?", tz).next_fire_time(U(2199, 12, 31, 23)) is None


def test_rare_but_possible_expression_is_found() -> None:
    # 5th Monday of February: only in leap years whose February starts on a Monday
    trigger = CronTrigger("0 0 0 ? 2 2#5")
    fire = trigger.next_fire_time(U(2026, 1, 1))
    assert fire is not None
    assert (fire.month, fire.day, fire.weekday()) == (2, 29, 0)
    assert fire.year > 2026


def test_strictly_after_and_sub_second_inputs() -> None:
    trigger = CronTrigger("0 0 12 * * ?")
    assert trigger.next_fire_time(U(2026, 1, 1, 12)) == U(2026, 1, 2, 12)
    assert trigger.next_fire_time(U(2026, 1, 1, 11, 59, 59) + timedelta(microseconds=999_999)) == (
        U(2026, 1, 1, 12)
    )
    assert trigger.previous_fire_time(U(2026, 1, 2, 12)) == U(2026, 1, 1, 12)
    assert trigger.previous_fire_time(U(2026, 1, 2, 12) + timedelta(microseconds=1)) == (
        U(2026, 1, 2, 12)
    )
    assert trigger.fires_at(U(2026, 1, 2, 12))
    assert not trigger.fires_at(U(2026, 1, 2, 12, 0, 1))


def test_inputs_in_other_offsets_are_instants() -> None:
    trigger = CronTrigger("0 0 12 * * ?")
    plus_two = datetime(2026, 1, 1, 13, 0, tzinfo=zone("Africa/Cairo"))  # 11:00 UTC
    fire = trigger.next_fire_time(plus_two)
    assert fire == U(2026, 1, 1, 12)
    assert fire is not None and fire.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(InvalidArgument) as err:
        CronTrigger("0 0 12 * * ?").next_fire_time(datetime(2026, 1, 1))
    assert err.value.field == "after"


def test_previous_fire_time_for_projected_end() -> None:
    trigger = CronTrigger("0 0 1 ? * * *")
    # an instance created at 01:00:05 projects its end from the 01:00 fire
    assert trigger.previous_fire_time(U(2026, 5, 5, 1, 0, 5)) == U(2026, 5, 5, 1)
    assert CronTrigger("0 0 0 L * ?").previous_fire_time(U(2026, 3, 15)) == U(2026, 2, 28)


# ------------------------------------------------------------------ custom week day of month


def test_custom_week_day_of_month_nth_weekday() -> None:
    custom = CronTrigger("0 0 9 3W * ?", custom_week_day_of_month=True)
    assert custom.next_fire_times(U(2026, 1, 1), 5) == [
        U(2026, 1, 5, 9),
        U(2026, 2, 4, 9),
        U(2026, 3, 4, 9),
        U(2026, 4, 3, 9),
        U(2026, 5, 5, 9),
    ]
    standard = CronTrigger("0 0 9 3W * ?")
    assert standard.next_fire_times(U(2026, 1, 1), 5) == [
        U(2026, 1, 2, 9),
        U(2026, 2, 3, 9),
        U(2026, 3, 3, 9),
        U(2026, 4, 3, 9),
        U(2026, 5, 4, 9),
    ]


def test_custom_week_day_of_month_skips_months_without_that_many_weekdays() -> None:
    # only 31-day months starting Monday-Wednesday have 23 weekdays (2026: July, December)
    trigger = CronTrigger("0 0 9 23W * ?", custom_week_day_of_month=True)
    assert trigger.next_fire_times(U(2026, 1, 1), 2) == [U(2026, 7, 31, 9), U(2026, 12, 31, 9)]
    with pytest.raises(CronNeverFiresError):
        CronTrigger("0 0 9 24W * ?", custom_week_day_of_month=True)
    # the same text is fine without the flag (nearest weekday to the 24th)
    assert CronTrigger("0 0 9 24W * ?").next_fire_time(U(2026, 1, 1)) == U(2026, 1, 23, 9)


# ------------------------------------------------------------------ validation

BAD: list[tuple[str, str, str]] = [
    ("0 0 0 * *", "cron expression", "expected 6 or 7 fields, got 5"),
    ("0 0 0 * * ? 2026 x", "cron expression", "expected 6 or 7 fields, got 8"),
    ("0 0 0 L-40 * ?", "day-of-month", "'L-40' offset must be 0-30"),
    ("60 0 0 * * ?", "second", "out of range 0-59"),
    ("0 60 0 * * ?", "minute", "out of range 0-59"),
    ("0 0 24 * * ?", "hour", "out of range 0-23"),
    ("0 0 0 32 * ?", "day-of-month", "out of range 1-31"),
    ("0 0 0 * 13 ?", "month", "out of range 1-12"),
    ("0 0 0 * FOO ?", "month", "'FOO'"),
    ("0 0 0 ? * 8", "day-of-week", "out of range 1-7"),
    ("0 0 0 ? * MOO", "day-of-week", "'MOO'"),
    ("0 0 0 ? * 2#6", "day-of-week", "must be 1-5"),
    ("0 0 0 1 1 ? 1969", "year", "out of range 1970-2199"),
    ("0 0 0 1 1 ? 2200", "year", "out of range 1970-2199"),
    ("0 0 0 1 1 ? 2030-2020", "year", "range start 2030 is after its end 2020"),
    ("0 */0 * * * ?", "minute", "step must be"),
    ("0 0/61 * * * ?", "minute", "step 61 is larger"),
    ("? 0 0 * * ?", "second", "'?' is allowed only in day-of-month and day-of-week"),
    ("0 0 0 ?,1 * ?", "day-of-month", "'?' must stand alone"),
    ("0 0 0 0W * ?", "day-of-month", "'W' needs a single day 1-31"),
    ("0 0 0 1-5W * ?", "day-of-month", "'W' needs a single day 1-31"),
    ("0 0 0 1,,2 * ?", "day-of-month", "empty list item"),
    ("0 0 0 2#1 * ?", "day-of-month", "'#' belongs to day-of-week"),
    ("0 0 JAN * * ?", "hour", "letters are not allowed"),
    ("0 0 0 * * *", "day-of-month", "cannot both be given"),
    ("0 0 0 * * MON", "day-of-month", "cannot both be given"),
    ("0 0 0 ? * ?", "day-of-week", "'?' cannot be in both"),
    ("0 0 0 -5 * ?", "day-of-month", "a range needs a start and an end"),
]


@pytest.mark.parametrize(("expression", "field", "text"), BAD, ids=[b[0] for b in BAD])
def test_validation_messages_name_the_field(expression: str, field: str, text: str) -> None:
    with pytest.raises(CronSyntaxError) as err:
        parse_cron(expression)
    assert isinstance(err.value, InvalidArgument)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert text in str(err.value)


def test_exact_messages_from_the_brief() -> None:
    with pytest.raises(CronSyntaxError, match=r"^day-of-month: 'L-40' offset must be 0-30$"):
        parse_cron("0 0 0 L-40 * ?")
    with pytest.raises(CronSyntaxError, match=r"^cron expression: expected 6 or 7 fields, got 5$"):
        parse_cron("0 0 0 * *")


NEVER = [
    ("0 0 0 31 2 ?", "day-of-month"),
    ("0 0 0 30 FEB ?", "day-of-month"),
    ("0 0 0 31 APR,JUN,SEP,NOV ?", "day-of-month"),
    ("0 0 0 29 2 ? 2027", "day-of-month"),
    ("0 0 0 L-29 2 ?", "day-of-month"),
    ("0 0 0 ? 2 2#5 2026", "day-of-week"),
]


@pytest.mark.parametrize(("expression", "field"), NEVER, ids=[n[0] for n in NEVER])
def test_statically_impossible_expressions_are_refused(expression: str, field: str) -> None:
    with pytest.raises(CronNeverFiresError) as err:
        parse_cron(expression)
    assert err.value.field == field
    assert "can never fire" in str(err.value)


def test_possible_neighbours_of_impossible_expressions_parse() -> None:
    assert CronTrigger("0 0 0 31 4,5 ?").next_fire_time(U(2026, 1, 1)) == U(2026, 5, 31)
    assert CronTrigger("0 0 0 29 2 ? 2027-2028").next_fire_time(U(2026, 1, 1)) == U(2028, 2, 29)
    # L-28 in February exists only in leap years (29 - 28 = the 1st)
    assert CronTrigger("0 0 0 L-28 2 ?").next_fire_time(U(2026, 1, 1)) == U(2028, 2, 1)


def test_accepted_forms_and_parse_details() -> None:
    expr = parse_cron("  0  0  12  *  *  ?  ")
    assert expr.text == "0 0 12 * * ?"
    assert expr.fixed_hour
    assert parse_cron("0 0 1,13 * * ?").fixed_hour  # a list of single hours counts as fixed
    assert not parse_cron("0 0 * * * ?").fixed_hour
    assert not parse_cron("0 0 1-3 * * ?").fixed_hour
    assert not parse_cron("0 0 */2 * * ?").fixed_hour
    assert not parse_cron("0 0 5/2 * * ?").fixed_hour
    assert parse_cron("0 0 0 ? * sun").day_of_week is not None
    assert parse_cron("0 0 0 l * ?").day_of_month == parse_cron("0 0 0 L * ?").day_of_month
    assert parse_cron("0 0 0 1 1 ?").years == tuple(range(1970, 2200))


def test_zone_lookup() -> None:
    assert zone("").key == "UTC"
    assert zone("Europe/London").key == "Europe/London"
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd"):
        with pytest.raises(InvalidArgument) as err:
            zone(bad)
        assert err.value.field == "timezone"
        assert bad in str(err.value)
    with pytest.raises(InvalidArgument):
        CronTrigger("0 0 12 * * ?", "Nowhere/Land")
    # names the tzdata package would read as files: too long, a directory, a path
    for bad in ("x" * 5000, "Europe", "Europe/London/x", "x" * 65):
        with pytest.raises(InvalidArgument) as err:
            zone(bad)
        assert err.value.field == "timezone"


def test_next_fire_times_count() -> None:
    trigger = CronTrigger("0 0 * * * ?")
    fires = trigger.next_fire_times(U(2026, 1, 1), 48)
    assert fires == [U(2026, 1, 1) + timedelta(hours=h) for h in range(1, 49)]
    assert trigger.next_fire_times(U(2026, 1, 1), 0) == []
    with pytest.raises(InvalidArgument):
        trigger.next_fire_times(U(2026, 1, 1), -1)
