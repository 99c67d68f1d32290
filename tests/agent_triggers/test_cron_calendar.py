"""A cron job with a calendar on the agent's TriggerHost (docs/semantics.md §13.5): it fires
only on the calendar's days, shifted by its policy, from the documents provisioned with it."""

from __future__ import annotations

from pathlib import Path

from ikasched.v1 import plan_pb2
from ikasched_common.calendar_jobs import documents_for
from ikasched_common.calendars import CalendarBook, parse_calendar
from ikasched_common.clock import ManualClock

from .support import PLAN, Recorder, activation, cron_job, make_host, ms, step_to, utc

BOOK = CalendarBook(
    {
        c.name: c
        for c in (
            parse_calendar(
                {"name": "weekdays", "include": [{"weekdays": ["MON", "TUE", "WED", "THU", "FRI"]}]}
            ),
            parse_calendar({"name": "holidays", "include": [{"annual": ["12-25", "12-26"]}]}),
            parse_calendar(
                {
                    "name": "business",
                    "include": [{"calendar": "weekdays"}],
                    "exclude": [{"calendar": "holidays"}],
                }
            ),
        )
    },
    versions={"weekdays": 1, "holidays": 3, "business": 2},
)


def calendar_job(name: str, shift: str) -> plan_pb2.SchedulerJob:
    job = cron_job(name, "0 0 7 * * ?", time_zone="Europe/London")
    settings = job.quartz_schedule_driven_job
    settings.calendar = "business"
    settings.calendar_shift = shift
    settings.calendar_documents.extend(documents_for(BOOK, "business"))
    return job


def test_documents_carry_the_calendar_and_what_it_refers_to() -> None:
    docs = documents_for(BOOK, "business")
    assert [(d.name, d.version) for d in docs] == [
        ("business", 2),
        ("holidays", 3),
        ("weekdays", 1),
    ]


async def test_cron_job_skips_the_holidays(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 12, 23, 12))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [calendar_job("settle", "skip")], "UTC")
    await host.activate(activation("i1", utc(2026, 12, 23, 12), ["settle"]))
    await step_to(clock, host, utc(2026, 12, 29, 12))
    assert rec.fire_times() == [
        ms(utc(2026, 12, 24, 7)),
        ms(utc(2026, 12, 28, 7)),
        ms(utc(2026, 12, 29, 7)),
    ]


async def test_cron_job_shifts_previous_onto_the_day_before(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 12, 23, 12))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    job = cron_job("monthly", "0 0 7 25 * ?", time_zone="Europe/London")
    settings = job.quartz_schedule_driven_job
    settings.calendar, settings.calendar_shift = "business", "previous"
    settings.calendar_documents.extend(documents_for(BOOK, "business"))
    clock.set(utc(2026, 12, 1))
    await host.provision(PLAN, [job], "UTC")
    await host.activate(activation("i1", utc(2026, 12, 1), ["monthly"]))
    await step_to(clock, host, utc(2027, 1, 31))
    # 25 Dec 2026 (a holiday) fires on Thu 24 Dec; 25 Jan 2027 is a Monday
    assert rec.fire_times() == [ms(utc(2026, 12, 24, 7)), ms(utc(2027, 1, 25, 7))]


async def test_cron_job_without_documents_never_fires(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 12, 23, 12))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    job = cron_job("lost", "0 0 7 * * ?")
    job.quartz_schedule_driven_job.calendar = "business"
    await host.provision(PLAN, [job], "UTC")
    await host.activate(activation("i1", utc(2026, 12, 23, 12), ["lost"]))
    await step_to(clock, host, utc(2026, 12, 26, 12))
    assert rec.fire_times() == []


async def test_cron_job_with_only_an_exclude_calendar(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 12, 23, 12))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    job = cron_job("daily", "0 0 7 * * ?")
    settings = job.quartz_schedule_driven_job
    settings.exclude_calendar, settings.calendar_shift = "holidays", "next"
    settings.calendar_documents.extend(documents_for(BOOK, "", "holidays"))
    assert [d.name for d in settings.calendar_documents] == ["holidays"]
    await host.provision(PLAN, [job], "UTC")
    await host.activate(activation("i1", utc(2026, 12, 23, 12), ["daily"]))
    await step_to(clock, host, utc(2026, 12, 28, 12))
    # 25 and 26 move onto Sunday 27, which fires once
    assert rec.fire_times() == [
        ms(utc(2026, 12, 24, 7)),
        ms(utc(2026, 12, 27, 7)),
        ms(utc(2026, 12, 28, 7)),
    ]
