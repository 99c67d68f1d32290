"""CalendarService: apply, read, list and delete named calendars, and show a year's dates
(docs/semantics.md §13). Calendars act across plans: a plan-limited token may call none of
these (security.GLOBAL_SERVICES). Applying a calendar reschedules the plans that use it, as a plan
change does; a calendar a plan or another calendar uses cannot be deleted."""

from __future__ import annotations

import json

import yaml
from sqlalchemy import Connection

from ikasched.v1 import calendar_service_pb2, calendar_service_pb2_grpc
from ikasched_common.calendars import (
    MAX_YEAR,
    MIN_YEAR,
    CalendarBook,
    calendar_document,
    parse_calendar,
)
from ikasched_common.errors import FailedPrecondition, InvalidArgument, NotFound
from ikasched_dashboard.services.context import ServiceContext, require
from ikasched_dashboard.services.errors import Ctx, unary
from ikasched_dashboard.store import calendars as calendar_store

MAX_DOCUMENT_BYTES = 1_000_000


def read_document(text: str) -> object:
    """A calendar document from YAML or JSON text; InvalidArgument naming `document`."""
    if not text.strip():
        raise InvalidArgument("required", field="document")
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise InvalidArgument(f"is larger than {MAX_DOCUMENT_BYTES} bytes", field="document")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise InvalidArgument(f"is not YAML or JSON{at}", field="document") from exc


class CalendarServicer(calendar_service_pb2_grpc.CalendarServiceServicer):
    """The CalendarService RPCs over the calendar store and the lifecycle."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _view(
        self, conn: Connection, record: calendar_store.CalendarRecord
    ) -> calendar_service_pb2.Calendar:
        book = calendar_store.calendar_book(conn)
        return calendar_service_pb2.Calendar(
            name=record.name,
            description=record.description,
            version=record.version,
            document_json=record.document_json,
            updated_time=record.updated_time,
            updated_by=record.updated_by,
            used_by_plans=calendar_store.plans_using(conn, record.name),
            used_by_calendars=book.users_of(record.name),
        )

    @unary
    async def ApplyCalendar(
        self, request: calendar_service_pb2.ApplyCalendarRequest, context: Ctx
    ) -> calendar_service_pb2.ApplyCalendarResponse:
        definition = parse_calendar(read_document(request.document))
        document_json = json.dumps(calendar_document(definition), sort_keys=True)
        actor, now = self.ctx.actor(), self.ctx.now_ms()

        def apply(conn: Connection) -> tuple[calendar_service_pb2.Calendar, bool, list[str]]:
            stored = calendar_store.calendar_book(conn)
            book = CalendarBook({**stored.definitions, definition.name: definition})
            book.check(definition.name)
            for user in book.users_of(definition.name):  # a change may close a cycle
                book.check(user)
            record, changed = calendar_store.put_calendar(
                conn,
                document_json,
                name=definition.name,
                description=definition.description,
                now=now,
                actor=actor,
            )
            plans = calendar_store.plans_using_any(conn, book.dependents(definition.name))
            return self._view(conn, record), changed, plans

        view, changed, plans = await self.ctx.write(apply)
        if changed:
            await self.ctx.lifecycle.calendar_changed(definition.name, plans)
            for plan_name in plans:  # agents get the new documents with the plan's cron jobs
                await self.ctx.orchestration.plan_provisioned(plan_name)
        return calendar_service_pb2.ApplyCalendarResponse(
            calendar=view, changed=changed, rescheduled_plans=plans if changed else []
        )

    @unary
    async def GetCalendar(
        self, request: calendar_service_pb2.GetCalendarRequest, context: Ctx
    ) -> calendar_service_pb2.Calendar:
        name = require(request.name, "name")

        def get(conn: Connection) -> calendar_service_pb2.Calendar:
            record = calendar_store.get_calendar(conn, name)
            if record is None:
                raise NotFound(f"calendar {name} not found")
            return self._view(conn, record)

        return await self.ctx.read(get)

    @unary
    async def ListCalendars(
        self, request: calendar_service_pb2.ListCalendarsRequest, context: Ctx
    ) -> calendar_service_pb2.ListCalendarsResponse:
        def listing(conn: Connection) -> list[calendar_service_pb2.Calendar]:
            return [self._view(conn, r) for r in calendar_store.list_calendars(conn)]

        return calendar_service_pb2.ListCalendarsResponse(calendars=await self.ctx.read(listing))

    @unary
    async def DeleteCalendar(
        self, request: calendar_service_pb2.DeleteCalendarRequest, context: Ctx
    ) -> calendar_service_pb2.DeleteCalendarResponse:
        name = require(request.name, "name")

        def remove(conn: Connection) -> None:
            if calendar_store.get_calendar(conn, name) is None:
                raise NotFound(f"calendar {name} not found")
            plans = calendar_store.plans_using(conn, name)
            calendars = calendar_store.calendar_book(conn).users_of(name)
            if plans or calendars:
                users = [f"plan(s) {', '.join(plans)}"] if plans else []
                users += [f"calendar(s) {', '.join(calendars)}"] if calendars else []
                raise FailedPrecondition(f"calendar {name} is used by {' and '.join(users)}")
            calendar_store.delete_calendar(conn, name)

        await self.ctx.write(remove)
        return calendar_service_pb2.DeleteCalendarResponse()

    @unary
    async def GetCalendarDates(
        self, request: calendar_service_pb2.GetCalendarDatesRequest, context: Ctx
    ) -> calendar_service_pb2.GetCalendarDatesResponse:
        name = require(request.name, "name")
        year = request.year or self.ctx.clock.now().year
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise InvalidArgument(f"{year} is out of range {MIN_YEAR}..{MAX_YEAR}", field="year")

        def dates(conn: Connection) -> list[calendar_service_pb2.CalendarDate]:
            book = calendar_store.calendar_book(conn)
            if name not in book.definitions:
                raise NotFound(f"calendar {name} not found")
            return [
                calendar_service_pb2.CalendarDate(
                    date=v.day.isoformat(), member=v.member, reason=v.reason
                )
                for v in book.year_verdicts(name, year)
            ]

        return calendar_service_pb2.GetCalendarDatesResponse(
            name=name, year=year, dates=await self.ctx.read(dates)
        )
