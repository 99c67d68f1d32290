"""Calendars on cron jobs (docs/semantics.md §13.5): the dashboard provisions a cron job with
the documents of its calendar (and of every calendar that one refers to), and the agent builds
its trigger from them with the same code, so both compute the same days."""

from __future__ import annotations

import json

from ikasched.v1 import plan_pb2
from ikasched_common.calendar_trigger import CalendarTrigger
from ikasched_common.calendars import CalendarBook, calendar_document, parse_calendar
from ikasched_common.quartz import CronTrigger


def documents_for(
    book: CalendarBook, name: str, exclude: str = ""
) -> list[plan_pb2.CalendarDocument]:
    """The documents of `name` (and `exclude`) and every calendar they refer to, by name."""
    return [
        plan_pb2.CalendarDocument(
            name=n,
            version=book.versions.get(n, 0),
            document_json=json.dumps(calendar_document(book.definitions[n]), sort_keys=True),
        )
        for n in sorted(book.requires(name) | (book.requires(exclude) if exclude else set()))
    ]


def book_of(documents: list[plan_pb2.CalendarDocument]) -> CalendarBook:
    """A book from provisioned documents."""
    return CalendarBook(
        {d.name: parse_calendar(json.loads(d.document_json)) for d in documents},
        versions={d.name: d.version for d in documents},
    )


def cron_job_trigger(settings: plan_pb2.QuartzScheduleDrivenJob, tz: str) -> CronTrigger:
    """A cron job's trigger: on its calendar's days (from its provisioned documents) when it
    names one, else the plain cron."""
    if not (settings.calendar or settings.exclude_calendar):
        return CronTrigger(settings.cron_expression, tz)
    book = book_of(list(settings.calendar_documents))
    return CalendarTrigger(
        settings.cron_expression,
        tz,
        days=book.days_of(settings.calendar, settings.exclude_calendar),
        shift=settings.calendar_shift,
    )


def cron_job_calendars(plan: plan_pb2.Context) -> list[tuple[str, plan_pb2.SchedulerJob]]:
    """(field path, job) of every cron job of the plan (child contexts too) with a calendar."""
    found: list[tuple[str, plan_pb2.SchedulerJob]] = []

    def walk(ctx: plan_pb2.Context, path: str) -> None:
        for i, job in enumerate(ctx.scheduled_jobs):
            cron = job.WhichOneof("job_type") == "quartz_schedule_driven_job"
            q = job.quartz_schedule_driven_job
            if cron and (q.calendar or q.exclude_calendar):
                found.append((f"{path}scheduled_jobs[{i}].quartz_schedule_driven_job", job))
        for i, child in enumerate(ctx.contexts):
            walk(child, f"{path}contexts[{i}].")

    walk(plan, "")
    return found


def plan_calendars(plan: plan_pb2.Context) -> set[str]:
    """Every calendar a plan names: its window's and its cron jobs'."""
    names: set[str] = set()
    for _, job in cron_job_calendars(plan):
        names |= {
            job.quartz_schedule_driven_job.calendar,
            job.quartz_schedule_driven_job.exclude_calendar,
        }
    names |= {plan.calendar, plan.exclude_calendar}
    return names - {""}


def with_calendar_documents(plan: plan_pb2.Context, book: CalendarBook) -> plan_pb2.Context:
    """`plan` itself when no cron job names a calendar, else a copy whose cron jobs carry
    their calendars' documents."""
    if not cron_job_calendars(plan):
        return plan
    copy = plan_pb2.Context()
    copy.CopyFrom(plan)
    for _, job in cron_job_calendars(copy):
        settings = job.quartz_schedule_driven_job
        del settings.calendar_documents[:]
        settings.calendar_documents.extend(
            documents_for(book, settings.calendar, settings.exclude_calendar)
        )
    return copy
