"""CalendarTrigger: next-fire tables for each shift policy over several years and zones (DST
days and 29 February included), previous fires, adjustments, and hypothesis properties: a
fire never lands on a day outside the calendar, and a daily cron never fires twice a day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikasched_common.calendar_trigger import SHIFTS, CalendarTrigger, check_shift
from ikasched_common.calendars import CalendarBook, parse_calendar
from ikasched_common.errors import InvalidArgument
from ikasched_common.quartz import CronTrigger

BOOK = CalendarBook.of(
    parse_calendar(d)
    for d in (
        {"name": "weekdays", "include": [{"weekdays": ["MON", "TUE", "WED", "THU", "FRI"]}]},
        {
            "name": "holidays",
            "include": [{"annual": ["01-01", "12-25", "12-26", "02-29"]}, {"easter": [-2, 1]}],
        },
        {
            "name": "business",
            "include": [{"calendar": "weekdays"}],
            "exclude": [{"calendar": "holidays"}],
        },
    )
)


def trigger(cron: str, shift: str, tz: str = "UTC", cal: str = "business") -> CalendarTrigger:
    return CalendarTrigger(cron, tz, days=BOOK.days_of(cal), shift=shift)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def local_days(fires: list[datetime], tz: str) -> list[str]:
    return [f.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M") for f in fires]


# Christmas 2026: Thu 24 runs, Fri 25 and Sat 26 holidays, Sun 27 weekend, Mon 28 runs.
CHRISTMAS_TABLE = {
    "skip": ["Thu 2026-12-24 06:00", "Mon 2026-12-28 06:00", "Tue 2026-12-29 06:00"],
    "next": ["Thu 2026-12-24 06:00", "Mon 2026-12-28 06:00", "Tue 2026-12-29 06:00"],
    "previous": ["Thu 2026-12-24 06:00", "Mon 2026-12-28 06:00", "Tue 2026-12-29 06:00"],
    "nearest": ["Thu 2026-12-24 06:00", "Mon 2026-12-28 06:00", "Tue 2026-12-29 06:00"],
}


@pytest.mark.parametrize("shift", SHIFTS)
def test_a_daily_cron_fires_once_per_business_day_whatever_the_shift(shift: str) -> None:
    t = trigger("0 0 6 * * ?", shift, "Europe/London")
    fires = t.next_fire_times(utc(2026, 12, 23, 12), 3)
    assert local_days(fires, "Europe/London") == CHRISTMAS_TABLE[shift]


# A monthly cron on the 25th, December 2026 (a Friday holiday) and the following months.
MONTHLY_TABLE = {
    "skip": ["Wed 2026-11-25", "Mon 2027-01-25", "Thu 2027-02-25"],
    "next": ["Wed 2026-11-25", "Mon 2026-12-28", "Mon 2027-01-25"],
    "previous": ["Wed 2026-11-25", "Thu 2026-12-24", "Mon 2027-01-25"],
    "nearest": ["Wed 2026-11-25", "Thu 2026-12-24", "Mon 2027-01-25"],
}


@pytest.mark.parametrize("shift", SHIFTS)
def test_a_monthly_cron_on_a_holiday_follows_the_shift(shift: str) -> None:
    t = trigger("0 30 18 25 * ?", shift, "America/New_York")
    fires = t.next_fire_times(utc(2026, 11, 1), 3)
    assert [s[:14] for s in local_days(fires, "America/New_York")] == MONTHLY_TABLE[shift]
    assert all(f.astimezone(ZoneInfo("America/New_York")).hour == 18 for f in fires)
    # previous_fire_time walks the same table backwards
    assert t.previous_fire_time(fires[2]) == fires[1]
    assert t.previous_fire_time(fires[1]) == fires[0]


def test_nearest_takes_the_closer_day_and_on_a_tie_the_next() -> None:
    # Easter Sunday 2027-03-28: Fri 26 and Mon 29 are holidays, so Thu 25 is 3 days back and
    # Tue 30 is 2 ahead -> Tue 30.
    t = trigger("0 0 9 28 3 ?", "nearest")
    assert t.next_fire_time(utc(2027, 1, 1)) == utc(2027, 3, 30, 9)
    # A calendar of Mondays and Thursdays: Saturday is 2 days from both -> Monday.
    mon_thu = CalendarBook.of(
        [parse_calendar({"name": "mt", "include": [{"weekdays": ["MON", "THU"]}]})]
    )
    tie = CalendarTrigger("0 0 9 ? * SAT", "UTC", days=mon_thu.days_of("mt"), shift="nearest")
    assert tie.next_fire_time(utc(2026, 12, 5)) == utc(2026, 12, 7, 9)  # Sat 5 -> Mon 7


def test_29_february_holiday_in_leap_years_only() -> None:
    t = trigger("0 0 12 * * ?", "next")
    # 2028-02-29 is a Tuesday holiday: Tuesday's fire moves onto Wednesday, which fires too
    fires = t.next_fire_times(utc(2028, 2, 28, 13), 2)
    assert fires == [utc(2028, 3, 1, 12), utc(2028, 3, 2, 12)]
    assert t.adjustments(utc(2028, 2, 28, 13), utc(2028, 3, 1, 13))[0].action == "shifted"
    # 2027 has no 29 February; 2027-02-26 Fri, 2027-03-01 Mon
    assert t.next_fire_times(utc(2027, 2, 26, 13), 1) == [utc(2027, 3, 1, 12)]


def test_shifted_fire_into_a_spring_forward_gap_fires_when_the_gap_ends() -> None:
    # Europe/London 2027-03-28 (Sunday, Easter): 01:00-02:00 does not exist. A plan whose
    # calendar is Sundays only, firing Saturdays 01:30, shifts next onto that Sunday.
    sundays = CalendarBook.of([parse_calendar({"name": "sun", "include": [{"weekdays": ["SUN"]}]})])
    t = CalendarTrigger(
        "0 30 1 ? * SAT", "Europe/London", days=sundays.days_of("sun"), shift="next"
    )
    assert t.next_fire_time(utc(2027, 3, 26)) == utc(2027, 3, 28, 1, 0)  # 02:00 BST
    # and across the fall-back day (2027-10-31, 01:30 twice) it fires at the first 01:30
    assert t.next_fire_time(utc(2027, 10, 29)) == utc(2027, 10, 31, 0, 30)


def test_dst_days_keep_the_wall_time_for_natural_fires() -> None:
    t = trigger("0 0 6 * * ?", "skip", "Europe/London")
    fires = t.next_fire_times(utc(2026, 3, 27), 2)  # Fri 27 Mar, then Mon 30 Mar (BST)
    assert fires == [utc(2026, 3, 27, 6), utc(2026, 3, 30, 5)]


def test_adjustments_say_why_each_fire_moved_or_was_skipped() -> None:
    t = trigger("0 0 6 * * ?", "next", "Europe/London")
    adj = t.adjustments(utc(2026, 12, 24, 12), utc(2026, 12, 28, 12))
    assert [(a.scheduled.day, a.action) for a in adj] == [
        (25, "shifted"),
        (26, "shifted"),
        (27, "shifted"),
        (28, "run"),
    ]
    assert adj[0].fires_at == utc(2026, 12, 28, 6)
    assert "calendar holidays" in adj[0].reason and "2026-12-28" in adj[0].reason
    skip = trigger("0 0 6 * * ?", "skip").adjustments(utc(2026, 12, 24, 12), utc(2026, 12, 25, 12))
    assert skip[0].action == "skipped" and skip[0].fires_at is None
    assert skip[0].reason.startswith("skipped by calendar business")


def test_a_calendar_without_days_never_fires_and_a_bad_shift_is_refused() -> None:
    empty = CalendarTrigger("0 0 6 * * ?", "UTC", days=CalendarBook({}).days_of("gone"))
    assert empty.next_fire_time(utc(2026, 1, 1)) is None
    assert empty.previous_fire_time(utc(2026, 1, 1)) is None
    with pytest.raises(InvalidArgument) as caught:
        check_shift("sideways", "plan.calendar_shift")
    assert caught.value.field == "plan.calendar_shift" and "skip, next" in caught.value.reason
    assert check_shift("") == "skip" and check_shift("NEXT") == "next"


def test_a_calendar_trigger_is_a_cron_trigger_and_equal_by_its_calendar() -> None:
    a, b = trigger("0 0 6 * * ?", "next"), trigger("0 0 6 * * ?", "next")
    assert isinstance(a, CronTrigger) and a == b and hash(a) == hash(b)
    assert a != trigger("0 0 6 * * ?", "skip") and a != CronTrigger("0 0 6 * * ?")


CRONS = ["0 0 6 * * ?", "0 15 23 * * ?", "0 0 0 ? * MON-FRI", "0 0 1 L * ?", "0 45 12 1,15 * ?"]
ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


@given(
    cron=st.sampled_from(CRONS),
    tz=st.sampled_from(ZONES),
    shift=st.sampled_from(SHIFTS),
    start=st.datetimes(datetime(2020, 1, 1), datetime(2031, 12, 31), timezones=st.just(UTC)),
)
@settings(max_examples=120, deadline=None)
def test_property_fires_land_only_on_calendar_days_in_order(
    cron: str, tz: str, shift: str, start: datetime
) -> None:
    t = trigger(cron, shift, tz)
    fires = t.next_fire_times(start, 8)
    assert fires, "a calendar with days always fires again"
    zone = ZoneInfo(tz)
    for fire in fires:
        assert fire.astimezone(zone).date() in t.days
    assert all(a < b for a, b in zip([start, *fires], fires, strict=False))
    # what next_fire_time returns, previous_fire_time finds again
    for before, after in pairwise(fires):
        assert t.previous_fire_time(after) == before


@given(
    tz=st.sampled_from(ZONES),
    shift=st.sampled_from(SHIFTS),
    start=st.dates(date(2020, 1, 1), date(2031, 12, 31)),
)
@settings(max_examples=80, deadline=None)
def test_property_a_daily_cron_never_fires_twice_on_one_day(
    tz: str, shift: str, start: date
) -> None:
    t = trigger("0 0 6 * * ?", shift, tz)
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    fires = t.next_fire_times(begin, 15)
    days = [f.astimezone(ZoneInfo(tz)).date() for f in fires]
    assert len(days) == len(set(days))
    # and every business day in between fires (a daily cron misses none)
    first, last = days[0], days[-1]
    expected = [
        first + timedelta(days=k)
        for k in range((last - first).days + 1)
        if first + timedelta(days=k) in t.days
    ]
    assert days == expected
