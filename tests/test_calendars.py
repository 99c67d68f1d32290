"""Calendar rules (ikasched_common.calendars): each rule's dates over several years, leap
years, Easter, references between calendars, verdicts, and validation naming the field."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikasched_common.calendars import (
    CalendarBook,
    calendar_document,
    easter_sunday,
    parse_calendar,
)
from ikasched_common.errors import InvalidArgument

WEEKDAYS = {"name": "weekdays", "include": [{"weekdays": ["MON", "TUE", "WED", "THU", "FRI"]}]}
UK_HOLIDAYS = {
    "name": "uk-holidays",
    "include": [
        {"annual": ["01-01", "12-25", "12-26"]},
        {"easter": [-2, 1]},
        {"nthWeekday": {"weekday": "MON", "n": 1, "months": [5]}},
        {"nthWeekday": {"weekday": "MON", "n": -1, "months": [5, 8]}},
    ],
}
BUSINESS = {
    "name": "business",
    "include": [{"calendar": "weekdays"}],
    "exclude": [{"calendar": "uk-holidays"}],
}
MONTH_END = {
    "name": "month-end",
    "include": [{"businessDayOfMonth": {"calendar": "business", "n": -1}}],
}


def book(*docs: dict[str, Any]) -> CalendarBook:
    return CalendarBook.of(parse_calendar(d) for d in docs)


def standard() -> CalendarBook:
    return book(WEEKDAYS, UK_HOLIDAYS, BUSINESS, MONTH_END)


# Western Easter Sundays from published tables.
EASTERS = {
    1970: date(1970, 3, 29),
    2000: date(2000, 4, 23),
    2008: date(2008, 3, 23),
    2011: date(2011, 4, 24),
    2019: date(2019, 4, 21),
    2024: date(2024, 3, 31),
    2025: date(2025, 4, 20),
    2026: date(2026, 4, 5),
    2027: date(2027, 3, 28),
    2038: date(2038, 4, 25),
    2100: date(2100, 3, 28),
}


@pytest.mark.parametrize("year", sorted(EASTERS))
def test_easter_matches_the_tables(year: int) -> None:
    assert easter_sunday(year) == EASTERS[year]


@given(st.integers(1970, 2199))
def test_easter_is_a_sunday_between_march_22_and_april_25(year: int) -> None:
    sunday = easter_sunday(year)
    assert sunday.weekday() == 6
    assert date(year, 3, 22) <= sunday <= date(year, 4, 25)


def test_uk_holidays_2026_and_2027() -> None:
    b = standard()
    assert sorted(b.days("uk-holidays", 2026)) == [
        date(2026, 1, 1),
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 4),  # first Monday of May
        date(2026, 5, 25),  # last Monday of May
        date(2026, 8, 31),  # last Monday of August
        date(2026, 12, 25),
        date(2026, 12, 26),
    ]
    assert date(2027, 3, 26) in b.days("uk-holidays", 2027)  # Good Friday 2027


def test_last_business_day_of_month_skips_weekends_and_holidays() -> None:
    b = standard()
    days = sorted(b.days("month-end", 2026))
    assert len(days) == 12
    assert days[1] == date(2026, 2, 27)  # 28 Feb 2026 is a Saturday
    assert days[7] == date(2026, 8, 28)  # 31 Aug 2026 is a bank holiday (Monday)
    assert days[11] == date(2026, 12, 31)


def test_nth_business_day_and_business_day_from_the_end() -> None:
    b = book(
        WEEKDAYS,
        UK_HOLIDAYS,
        BUSINESS,
        {"name": "second", "include": [{"businessDayOfMonth": {"calendar": "business", "n": 2}}]},
        {
            "name": "penultimate",
            "include": [{"businessDayOfMonth": {"calendar": "business", "n": -2, "months": [12]}}],
        },
    )
    # January 2027: 1st is a holiday (Friday), 4th Monday is the first business day
    assert min(b.days("second", 2027)) == date(2027, 1, 5)
    assert b.days("penultimate", 2026) == {date(2026, 12, 30)}


@pytest.mark.parametrize(
    ("year", "has_29"), [(2024, True), (2026, False), (2028, True), (2100, False), (2000, True)]
)
def test_leap_years_annual_february_29_and_month_end(year: int, has_29: bool) -> None:
    b = book(
        {"name": "leap", "include": [{"annual": ["02-29"]}]},
        {"name": "last", "include": [{"monthDays": [-1]}]},
    )
    feb_end = date(year, 2, 29) if has_29 else date(year, 2, 28)
    assert [d for d in b.days("leap", year)] == ([feb_end] if has_29 else [])
    assert feb_end in b.days("last", year)
    assert len(b.days("last", year)) == 12


def test_explicit_dates_intersect_and_difference() -> None:
    b = book(
        WEEKDAYS,
        {
            "name": "mix",
            "include": [{"dates": ["2026-01-03", "2026-01-05", "2027-01-05"]}],
            "intersect": [{"calendar": "weekdays"}],
            "exclude": [{"dates": ["2026-01-05"]}],
        },
    )
    # 3 Jan 2026 is a Saturday (not in the intersect); 5 Jan is excluded
    assert b.days("mix", 2026) == frozenset()
    assert b.days("mix", 2027) == {date(2027, 1, 5)}


def test_verdicts_name_the_rule_and_the_inner_calendar() -> None:
    b = standard()
    christmas = b.verdict("business", date(2026, 12, 25))
    assert not christmas.member
    assert "excluded from calendar business by calendar uk-holidays" in christmas.reason
    assert "annual" in christmas.reason
    assert "no include rule" in b.verdict("business", date(2026, 12, 27)).reason
    assert b.verdict("business", date(2026, 12, 24)).member
    verdicts = b.year_verdicts("business", 2026)
    assert len(verdicts) == 365 and sum(v.member for v in verdicts) == 261 - 7


@given(st.dates(date(1970, 1, 1), date(2199, 12, 31)))
@settings(max_examples=200, deadline=None)
def test_business_is_weekdays_minus_holidays_on_any_date(day: date) -> None:
    b = standard()
    expected = day.weekday() < 5 and day not in b.days("uk-holidays", day.year)
    assert b.contains("business", day) is expected
    assert b.verdict("business", day).member is expected


def test_document_round_trip_is_canonical() -> None:
    for doc in (WEEKDAYS, UK_HOLIDAYS, BUSINESS, MONTH_END):
        definition = parse_calendar(doc)
        assert parse_calendar(calendar_document(definition)) == definition


def test_yaml_dates_are_accepted_as_dates() -> None:
    cal = parse_calendar({"name": "x", "include": [{"dates": [date(2026, 5, 1)]}]})
    assert cal.include[0].dates == (date(2026, 5, 1),)


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"include": [{"weekdays": ["MON"]}]}, "name", "required"),
        ({"name": "x"}, "include", "at least one rule"),
        (
            {"name": "x", "include": [{"weekdays": ["MONDAY", "FUNDAY"]}]},
            "include[0].weekdays[1]",
            "weekday",
        ),
        (
            {"name": "x", "include": [{"dates": ["2026-02-30"]}]},
            "include[0].dates[0]",
            "YYYY-MM-DD",
        ),
        ({"name": "x", "include": [{"annual": ["13-01"]}]}, "include[0].annual[0]", "MM-DD"),
        ({"name": "x", "include": [{"monthDays": [0]}]}, "include[0].monthDays[0]", "not 0"),
        ({"name": "x", "include": [{"easter": [400]}]}, "include[0].easter[0]", "out of range"),
        (
            {"name": "x", "include": [{"nthWeekday": {"weekday": "MON", "n": 6}}]},
            "include[0].nthWeekday.n",
            "out of range",
        ),
        (
            {"name": "x", "include": [{"nthWeekday": {"n": 1}}]},
            "include[0].nthWeekday.weekday",
            "required",
        ),
        ({"name": "x", "include": [{"sometimes": 1}]}, "include[0]", "unknown rule"),
        ({"name": "x", "include": [{"weekdays": ["MON"], "dates": []}]}, "include[0]", "one key"),
        ({"name": "x", "include": [{"calendar": "x"}]}, "include[0].calendar", "itself"),
        ({"name": "x", "include": [{"weekdays": []}]}, "include[0].weekdays", "empty"),
        ({"name": "x", "colour": "red", "include": [{"weekdays": ["MON"]}]}, "calendar", "colour"),
        ({"name": "bad\x1bname", "include": [{"weekdays": ["MON"]}]}, "name", "control"),
    ],
)
def test_validation_names_the_field(doc: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_calendar(doc)
    assert caught.value.field == field
    assert words in caught.value.reason


def test_unknown_references_and_cycles_are_refused_naming_the_field() -> None:
    b = book({"name": "a", "include": [{"weekdays": ["MON"]}], "exclude": [{"calendar": "nope"}]})
    with pytest.raises(InvalidArgument) as caught:
        b.check("a")
    assert caught.value.field == "exclude[0].calendar" and "'nope' does not exist" in str(
        caught.value
    )
    cyclic = book(
        {"name": "a", "include": [{"calendar": "b"}]},
        {"name": "b", "include": [{"businessDayOfMonth": {"calendar": "c", "n": 1}}]},
        {"name": "c", "include": [{"calendar": "a"}]},
    )
    with pytest.raises(InvalidArgument) as caught:
        cyclic.check("a")
    assert "cycle: a -> b -> c -> a" in str(caught.value)
    assert cyclic.dependents("c") == {"a", "b", "c"}
    assert cyclic.users_of("a") == ["c"]


def test_a_day_after_the_last_of_a_year_is_the_next_year() -> None:
    b = standard()
    assert b.contains("business", date(2026, 12, 31))
    assert not b.contains("business", date(2026, 12, 31) + timedelta(days=1))


def test_days_of_with_an_exclude_calendar() -> None:
    b = standard()
    minus = b.days_of("weekdays", "uk-holidays")
    assert minus.name == "weekdays - uk-holidays"
    assert date(2026, 12, 24) in minus and date(2026, 12, 25) not in minus
    assert date(2026, 12, 26) not in minus  # a Saturday
    alone = b.days_of("", "uk-holidays")
    assert date(2026, 12, 27) in alone and date(2026, 12, 25) not in alone
    assert (
        "excluded from calendar every day - uk-holidays" in alone.verdict(date(2026, 12, 25)).reason
    )
