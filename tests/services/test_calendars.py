"""CalendarService and calendar-driven time windows through the SDK on a live server (real
SQLite store, real lifecycle on manual timers): a plan whose calendar excludes a holiday
creates no instance on it and creates one on the shifted day, says why in the audit trail and
in next-fire times; applying a calendar reschedules its plans; a used calendar cannot be
deleted; bad documents are INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc
import pytest
from sqlalchemy import Engine

from ikasched.v1 import (
    calendar_service_pb2,
    calendar_service_pb2_grpc,
    plan_pb2,
    plan_service_pb2,
)
from ikasched_common.blackout import epoch_ms, from_epoch_ms
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store.db import read_transaction

from .conftest import Dashboard, running
from .support import plan, refused

Code = grpc.StatusCode

WEEKDAYS = """
name: weekdays
include:
  - weekdays: [MON, TUE, WED, THU, FRI]
"""
HOLIDAYS = """
name: holidays
description: Christmas and Boxing Day
include:
  - annual: ["12-25", "12-26"]
"""
BUSINESS = """
name: business
include:
  - calendar: weekdays
exclude:
  - calendar: holidays
"""


def utc(y: int, mo: int, d: int, h: int = 0) -> datetime:
    return datetime(y, mo, d, h, tzinfo=UTC)


def stub(d: Dashboard) -> calendar_service_pb2_grpc.CalendarServiceStub:
    return calendar_service_pb2_grpc.CalendarServiceStub(d.channel)  # type: ignore[no-untyped-call]


async def apply(d: Dashboard, text: str) -> calendar_service_pb2.ApplyCalendarResponse:
    response: calendar_service_pb2.ApplyCalendarResponse = await stub(d).ApplyCalendar(
        calendar_service_pb2.ApplyCalendarRequest(document=text)
    )
    return response


async def standard(d: Dashboard) -> None:
    for text in (WEEKDAYS, HOLIDAYS, BUSINESS):
        await apply(d, text)


def calendar_plan(shift: str, name: str = "daily") -> plan_pb2.Context:
    p = plan(name=name)
    p.time_window_start = "0 0 6 ? * * *"
    p.timezone = "Europe/London"
    p.able_to_run_concurrently = True
    p.calendar = "business"
    p.calendar_shift = shift
    return p


async def provision(d: Dashboard, p: plan_pb2.Context) -> None:
    await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=p))


def starts(d: Dashboard, plan_name: str = "daily") -> list[datetime]:
    with read_transaction(d.engine) as conn:
        rows = instance_store.list_instances(conn, plan_name=plan_name, limit=1000)
    return sorted(from_epoch_ms(r.start_time) for r in rows if r.status != "PREPARED")


def prepared(d: Dashboard, plan_name: str = "daily") -> list[datetime]:
    with read_transaction(d.engine) as conn:
        rows = instance_store.list_instances(
            conn, plan_name=plan_name, statuses=("PREPARED",), limit=1000
        )
    return sorted(from_epoch_ms(r.start_time) for r in rows)


def notes(d: Dashboard) -> list[str]:
    with read_transaction(d.engine) as conn:
        return [c.entry.detail for c in change_store.changes_after(conn, 0) if c.entry.detail]


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        # Thu 24 runs; Fri 25 and Sat 26 are holidays, Sun 27 a weekend day
        ("skip", [utc(2026, 12, 24, 6), utc(2026, 12, 28, 6)]),
        # next: the three fires all land on Mon 28 06:00 and create one instance there
        ("next", [utc(2026, 12, 24, 6), utc(2026, 12, 28, 6)]),
    ],
)
async def test_no_instance_on_the_holiday_and_one_on_the_shifted_day(
    engine: Engine, shift: str, expected: list[datetime]
) -> None:
    async with running(engine) as d:
        d.clock.set(utc(2026, 12, 23, 12))
        await standard(d)
        p = calendar_plan(shift)
        p.context_ttl_milliseconds = 3_600_000
        await provision(d, p)
        # the PREPARED next instance is already the calendar's next day
        assert prepared(d) == [utc(2026, 12, 24, 6)]
        await d.timers.advance_to(utc(2026, 12, 25, 12))
        assert starts(d) == [utc(2026, 12, 24, 6)]  # nothing on Christmas Day
        assert prepared(d) == [utc(2026, 12, 28, 6)]
        await d.timers.advance_to(utc(2026, 12, 28, 12))
        assert starts(d) == expected
        told = [n for n in notes(d) if "calendar business" in n]
        if shift == "skip":
            assert len(told) == 3 and all("skipped by calendar business" in n for n in told)
            assert "2026-12-25T06:00:00+00:00" in told[0] and "holidays" in told[0]
        else:
            assert len(told) == 3 and all("shifted (next)" in n for n in told)
            assert all("to 2026-12-28" in n for n in told)


async def test_next_fire_times_show_the_calendar_and_why(engine: Engine) -> None:
    async with running(engine) as d:
        await standard(d)
        await provision(d, calendar_plan("previous"))
        response = await d.plans.GetNextFireTimes(
            plan_service_pb2.GetNextFireTimesRequest(
                plan_name="daily", count=3, after=epoch_ms(utc(2026, 12, 24, 12))
            )
        )
        assert [from_epoch_ms(f) for f in response.fire_times] == [
            utc(2026, 12, 28, 6),
            utc(2026, 12, 29, 6),
            utc(2026, 12, 30, 6),
        ]
        adjusted = {from_epoch_ms(a.scheduled).day: a for a in response.calendar_adjustments}
        # Fri 25 moves back onto Thu 24 (before the span shown), Sat 26 too; Sun 27 as well
        assert sorted(adjusted) == [25, 26, 27]
        assert adjusted[25].action == "shifted" and "holidays" in adjusted[25].reason
        assert from_epoch_ms(adjusted[25].fires_at) == utc(2026, 12, 24, 6)


async def test_applying_a_calendar_reschedules_the_plans_that_use_it(engine: Engine) -> None:
    async with running(engine) as d:
        d.clock.set(utc(2026, 12, 22, 12))
        await standard(d)
        p = calendar_plan("skip")
        p.context_ttl_milliseconds = 3_600_000
        await provision(d, p)
        assert prepared(d) == [utc(2026, 12, 23, 6)]
        again = await apply(d, HOLIDAYS)
        assert not again.changed and again.calendar.version == 1 and not again.rescheduled_plans
        changed = await apply(d, HOLIDAYS.replace('["12-25"', '["12-23", "12-25"'))
        assert changed.changed and changed.calendar.version == 2
        # holidays is used through business: the plan using business reschedules
        assert list(changed.rescheduled_plans) == ["daily"]
        assert prepared(d) == [utc(2026, 12, 24, 6)]
        await d.timers.advance_to(utc(2026, 12, 24, 12))
        assert starts(d) == [utc(2026, 12, 24, 6)]


async def test_get_list_dates_and_delete(engine: Engine) -> None:
    async with running(engine) as d:
        await standard(d)
        await provision(d, calendar_plan("next"))
        got = await stub(d).GetCalendar(calendar_service_pb2.GetCalendarRequest(name="holidays"))
        assert got.description == "Christmas and Boxing Day" and got.version == 1
        assert json.loads(got.document_json)["include"] == [{"annual": ["12-25", "12-26"]}]
        assert list(got.used_by_calendars) == ["business"] and not got.used_by_plans
        business = await stub(d).GetCalendar(
            calendar_service_pb2.GetCalendarRequest(name="business")
        )
        assert list(business.used_by_plans) == ["daily"]
        listed = await stub(d).ListCalendars(calendar_service_pb2.ListCalendarsRequest())
        assert [c.name for c in listed.calendars] == ["business", "holidays", "weekdays"]
        dates = await stub(d).GetCalendarDates(
            calendar_service_pb2.GetCalendarDatesRequest(name="business", year=2028)
        )
        assert len(dates.dates) == 366  # a leap year
        by_day = {x.date: x for x in dates.dates}
        assert by_day["2028-12-25"].member is False and "holidays" in by_day["2028-12-25"].reason
        assert by_day["2028-02-29"].member is True
        # deleting what a plan or a calendar uses names them
        details = await refused(
            stub(d).DeleteCalendar(calendar_service_pb2.DeleteCalendarRequest(name="business")),
            Code.FAILED_PRECONDITION,
        )
        assert "plan(s) daily" in details
        details = await refused(
            stub(d).DeleteCalendar(calendar_service_pb2.DeleteCalendarRequest(name="holidays")),
            Code.FAILED_PRECONDITION,
        )
        assert "calendar(s) business" in details
        await d.plans.DeletePlan(plan_service_pb2.DeletePlanRequest(name="daily", force=True))
        await stub(d).DeleteCalendar(calendar_service_pb2.DeleteCalendarRequest(name="business"))
        await refused(
            stub(d).GetCalendar(calendar_service_pb2.GetCalendarRequest(name="business")),
            Code.NOT_FOUND,
        )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "document: required"),
        ("name: [unclosed", "document: is not YAML or JSON"),
        ("name: x\ninclude:\n  - weekdays: [MON, FUN]\n", "include[0].weekdays[1]"),
        ("name: x\ninclude:\n  - calendar: nowhere\n", "include[0].calendar: calendar 'nowhere'"),
        ("- just\n- a list\n", "calendar: a calendar document is a mapping"),
    ],
)
async def test_bad_documents_are_invalid_argument_naming_the_field(
    engine: Engine, text: str, words: str
) -> None:
    async with running(engine) as d:
        details = await refused(
            stub(d).ApplyCalendar(calendar_service_pb2.ApplyCalendarRequest(document=text)),
            Code.INVALID_ARGUMENT,
        )
        assert words in details


async def test_a_change_that_closes_a_cycle_is_refused(engine: Engine) -> None:
    async with running(engine) as d:
        await standard(d)
        details = await refused(
            stub(d).ApplyCalendar(
                calendar_service_pb2.ApplyCalendarRequest(
                    document="name: weekdays\ninclude:\n  - calendar: business\n"
                )
            ),
            Code.INVALID_ARGUMENT,
        )
        assert "cycle" in details and "weekdays -> business" in details


async def test_a_plan_naming_a_missing_calendar_or_a_bad_shift_is_refused(engine: Engine) -> None:
    async with running(engine) as d:
        details = await refused(provision(d, calendar_plan("next")), Code.INVALID_ARGUMENT)
        assert details.startswith("plan.calendar:") and "'business' does not exist" in details
        await standard(d)
        details = await refused(provision(d, calendar_plan("sideways")), Code.INVALID_ARGUMENT)
        assert "plan.calendar_shift" in details and "'sideways'" in details
        lone = plan(name="lone")
        lone.calendar_shift = "next"
        details = await refused(provision(d, lone), Code.INVALID_ARGUMENT)
        assert "plan.calendar_shift: needs plan.calendar" in details


async def test_exclude_calendar_alone_keeps_every_other_day(engine: Engine) -> None:
    async with running(engine) as d:
        d.clock.set(utc(2026, 12, 24, 12))
        await standard(d)
        p = calendar_plan("skip")
        p.calendar = ""
        p.exclude_calendar = "nowhere"
        details = await refused(provision(d, p), Code.INVALID_ARGUMENT)
        assert details.startswith("plan.exclude_calendar:")
        p.exclude_calendar = "holidays"
        p.context_ttl_milliseconds = 3_600_000
        await provision(d, p)
        await d.timers.advance_to(utc(2026, 12, 28, 12))
        # 25 and 26 December are excluded; Sunday 27 is not (no weekday calendar)
        assert starts(d) == [utc(2026, 12, 27, 6), utc(2026, 12, 28, 6)]
        told = [n for n in notes(d) if "skipped by calendar every day - holidays" in n]
        assert len(told) == 2
        # a window calendar minus another one: business days minus a one-off closure
        await apply(d, 'name: closure\ninclude:\n  - dates: ["2026-12-29"]\n')
        both = calendar_plan("skip", name="both")
        both.exclude_calendar = "closure"
        await provision(d, both)
        fires = await d.plans.GetNextFireTimes(
            plan_service_pb2.GetNextFireTimesRequest(
                plan_name="both", count=2, after=epoch_ms(utc(2026, 12, 28, 12))
            )
        )
        assert [from_epoch_ms(f) for f in fires.fire_times] == [
            utc(2026, 12, 30, 6),
            utc(2026, 12, 31, 6),
        ]
        # deleting the excluded calendar is refused while the plan uses it
        await refused(
            stub(d).DeleteCalendar(calendar_service_pb2.DeleteCalendarRequest(name="closure")),
            Code.FAILED_PRECONDITION,
            "plan(s) both",
        )
