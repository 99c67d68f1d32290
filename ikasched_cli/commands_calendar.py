"""`ikasched calendar apply|get|list|delete|dates`: named calendars (docs/semantics.md §13).

Imports only argparse at module level (the CLI's start-up rule); each command imports what it
needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

RUN = "ikasched_cli.commands_calendar:"


def add_calendar_verbs(b: Any, calendar: Any) -> None:
    """The `calendar` group's verbs (main.build_parser calls this)."""

    def name_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="calendar name")

    def apply_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-f", "--file", required=True, action="append", help="calendar YAML/JSON file"
        )

    def dates_args(p: argparse.ArgumentParser) -> None:
        name_arg(p)
        p.add_argument("--year", type=int, default=0, help="the year (default: this year)")
        p.add_argument(
            "--all", action="store_true", help="every date, not only the days and the exclusions"
        )

    b.leaf(
        calendar,
        "apply",
        "create or replace calendars from files (plans using them reschedule)",
        RUN + "apply",
        apply_args,
    )
    b.leaf(calendar, "get", "show one calendar: its rules and who uses it", RUN + "get", name_arg)
    b.leaf(calendar, "list", "list calendars", RUN + "list_calendars")
    b.leaf(calendar, "delete", "delete a calendar nothing uses", RUN + "delete", name_arg)
    b.leaf(
        calendar,
        "dates",
        "the days of a calendar in a year, and why each other date is not one",
        RUN + "dates",
        dates_args,
    )


def _stub(client: Any) -> Any:
    from ikasched.v1 import calendar_service_pb2_grpc

    return client.stub(calendar_service_pb2_grpc.CalendarServiceStub)


def _read(path: str) -> str:
    from ikasched_cli.client import USAGE, CliError

    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read calendar file: {exc}", USAGE) from exc


def apply(args: argparse.Namespace) -> int:
    from ikasched.v1 import calendar_service_pb2
    from ikasched_cli import output
    from ikasched_cli.client import connect

    texts = [(path, _read(path)) for path in args.file]
    client = connect(args)
    results = []
    lines = []
    for _path, text in texts:
        response = client.call(
            _stub(client).ApplyCalendar, calendar_service_pb2.ApplyCalendarRequest(document=text)
        )
        results.append(output.message_dict(response))
        cal = response.calendar
        what = (
            f"version {cal.version}" if response.changed else f"unchanged (version {cal.version})"
        )
        line = f"calendar {cal.name}: {what}"
        if response.rescheduled_plans:
            line += f"; rescheduled plans {', '.join(response.rescheduled_plans)}"
        lines.append(line)
    output.emit(args.output, results if len(results) > 1 else results[0], "\n".join(lines))
    return 0


def get(args: argparse.Namespace) -> int:
    import json

    from ikasched.v1 import calendar_service_pb2
    from ikasched_cli import output
    from ikasched_cli.client import connect

    client = connect(args)
    cal = client.call(
        _stub(client).GetCalendar, calendar_service_pb2.GetCalendarRequest(name=args.name)
    )
    human = output.kv_block(
        {
            "calendar": cal.name,
            "description": cal.description or "-",
            "version": str(cal.version),
            "updated": f"{output.time_text(cal.updated_time)} by {cal.updated_by or '-'}",
            "used by plans": ", ".join(cal.used_by_plans) or "-",
            "used by calendars": ", ".join(cal.used_by_calendars) or "-",
        }
    )
    human += "\n" + json.dumps(json.loads(cal.document_json), indent=2)
    output.emit(args.output, output.message_dict(cal), human)
    return 0


def list_calendars(args: argparse.Namespace) -> int:
    from ikasched.v1 import calendar_service_pb2
    from ikasched_cli import output
    from ikasched_cli.client import connect

    client = connect(args)
    response = client.call(_stub(client).ListCalendars, calendar_service_pb2.ListCalendarsRequest())
    rows = [
        [c.name, str(c.version), ", ".join(c.used_by_plans) or "-", c.description or "-"]
        for c in response.calendars
    ]
    human = (
        output.table(rows, ["NAME", "VERSION", "PLANS", "DESCRIPTION"]) if rows else "no calendars"
    )
    output.emit(args.output, output.message_dict(response), human)
    return 0


def delete(args: argparse.Namespace) -> int:
    from ikasched.v1 import calendar_service_pb2
    from ikasched_cli import output
    from ikasched_cli.client import connect

    client = connect(args)
    client.call(
        _stub(client).DeleteCalendar, calendar_service_pb2.DeleteCalendarRequest(name=args.name)
    )
    output.emit(args.output, {"deleted": args.name}, f"calendar {args.name} deleted")
    return 0


def dates(args: argparse.Namespace) -> int:
    from ikasched.v1 import calendar_service_pb2
    from ikasched_cli import output
    from ikasched_cli.client import connect

    client = connect(args)
    response = client.call(
        _stub(client).GetCalendarDates,
        calendar_service_pb2.GetCalendarDatesRequest(name=args.name, year=args.year),
    )
    members = [d for d in response.dates if d.member]
    shown = response.dates if args.all else _interesting(response.dates)
    rows = [[d.date, "run" if d.member else "-", d.reason] for d in shown]
    human = f"calendar {response.name} {response.year}: {len(members)} days\n"
    human += output.table(rows, ["DATE", "DAY", "WHY"], colour=output.use_colour(sys.stdout))
    output.emit(args.output, output.message_dict(response), human)
    return 0


def _interesting(all_dates: Any) -> list[Any]:
    """Days of the calendar, and dates left out by something other than "no include rule"
    (the holidays); --all shows every date."""
    return [d for d in all_dates if d.member or "no include rule" not in d.reason]
