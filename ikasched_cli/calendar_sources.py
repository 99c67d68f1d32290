"""Holiday data into calendar documents, offline (docs/semantics.md §13.7).

`ikasched calendar from-ics FILE` reads the all-day events of an iCalendar file (a bank's or a
market's published holidays); `ikasched calendar from-holidays COUNTRY` takes the public
holidays the `holidays` package knows for a country (and subdivision). Both print a calendar
document of explicit dates (or write it with --out) that `calendar apply` stores: the
dashboard never needs the network, and the dates applied are the dates reviewed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RUN = "ikasched_cli.calendar_sources:"
MAX_YEARS = 50


def add_source_verbs(b: Any, calendar: Any) -> None:
    """`calendar from-ics` and `calendar from-holidays` (no dashboard needed)."""

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", required=True, help="the calendar's name")
        p.add_argument("--description", default="", help="its description")
        p.add_argument("--out", default="", help="write the YAML here instead of stdout")

    def ics_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help="an iCalendar (.ics) file of all-day events")
        common(p)
        p.add_argument(
            "--years", default="", help="keep only these years, e.g. 2026:2030 (default: all)"
        )

    def holidays_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("country", help="ISO 3166 country code, e.g. GB, US, DE")
        common(p)
        p.add_argument("--subdiv", default="", help="subdivision, e.g. ENG, NY, BY")
        p.add_argument("--years", required=True, help="years, e.g. 2026:2030 or 2027")

    b.leaf(
        calendar,
        "from-ics",
        "a calendar document of the dates of an .ics file's all-day events (offline)",
        RUN + "from_ics",
        ics_args,
        connection=False,
    )
    b.leaf(
        calendar,
        "from-holidays",
        "a calendar document of a country's public holidays (offline)",
        RUN + "from_holidays",
        holidays_args,
        connection=False,
    )


def parse_years(text: str, field: str = "--years") -> range:
    """'2026' or '2026:2030' (both ends included)."""
    from ikasched_cli.client import USAGE, CliError

    first, _, last = text.partition(":")
    try:
        lo, hi = int(first), int(last or first)
    except ValueError:
        raise CliError(f"{field}: {text!r} is not YEAR or FIRST:LAST", USAGE) from None
    if not (1900 <= lo <= hi <= 2199) or hi - lo >= MAX_YEARS:
        raise CliError(
            f"{field}: {text!r} must be years 1900-2199, first <= last, at most {MAX_YEARS}",
            USAGE,
        )
    return range(lo, hi + 1)


def ics_dates(text: str, source: str) -> list[dt.date]:
    """The days of every all-day VEVENT (DTEND is exclusive, as RFC 5545 says; no DTEND: one
    day). A timed event, a recurring one (RRULE) or a broken file is refused naming it."""
    import icalendar

    from ikasched_cli.client import USAGE, CliError

    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise CliError(f"{source}: not an iCalendar file: {exc}", USAGE) from None
    days: set[dt.date] = set()
    for n, event in enumerate(cal.walk("VEVENT")):
        what = f"{source}: event {n + 1} ({event.get('SUMMARY', 'no summary')})"
        if event.get("RRULE") is not None:
            raise CliError(f"{what}: recurring events (RRULE) are not expanded", USAGE)
        start = event.get("DTSTART")
        if start is None:
            raise CliError(f"{what}: has no DTSTART", USAGE)
        first = start.dt
        if isinstance(first, dt.datetime) or not isinstance(first, dt.date):
            raise CliError(f"{what}: DTSTART is a time, not an all-day date", USAGE)
        end = event.get("DTEND")
        last = end.dt if end is not None else first + dt.timedelta(days=1)
        if isinstance(last, dt.datetime) or not isinstance(last, dt.date) or last <= first:
            raise CliError(f"{what}: DTEND must be an all-day date after DTSTART", USAGE)
        if (last - first).days > 366:
            raise CliError(f"{what}: longer than a year", USAGE)
        day = first
        while day < last:
            days.add(day)
            day += dt.timedelta(days=1)
    if not days:
        raise CliError(f"{source}: no all-day events", USAGE)
    return sorted(days)


def holiday_dates(country: str, subdiv: str, years: range) -> list[tuple[dt.date, str]]:
    """(date, holiday name) of a country's public holidays in `years`."""
    import holidays

    from ikasched_cli.client import USAGE, CliError

    try:
        found = holidays.country_holidays(country, subdiv=subdiv or None, years=list(years))
    except (NotImplementedError, ValueError) as exc:
        if subdiv and "subdiv" in str(exc).lower():
            raise CliError(f"--subdiv: {country} has no subdivision {subdiv!r}", USAGE) from None
        raise CliError(
            f"country: {country!r} is not a country the holidays data knows", USAGE
        ) from None
    return sorted(found.items())


def document(name: str, description: str, days: Iterable[dt.date]) -> dict[str, Any]:
    """A calendar document of explicit dates, checked as the dashboard would check it."""
    from ikasched_cli.client import USAGE, CliError
    from ikasched_common.calendars import parse_calendar
    from ikasched_common.errors import InvalidArgument

    doc: dict[str, Any] = {"name": name}
    if description:
        doc["description"] = description
    doc["include"] = [{"dates": [d.isoformat() for d in days]}]
    try:
        parse_calendar(doc)
    except InvalidArgument as exc:
        raise CliError(f"{exc.field}: {exc}" if exc.field else str(exc), USAGE) from None
    return doc


def _emit(doc: dict[str, Any], out: str, header: list[str]) -> int:
    import yaml

    from ikasched_cli.client import USAGE, CliError

    text = "".join(f"# {line}\n" for line in header) + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=None, width=100
    )
    if not out:
        sys.stdout.write(text)
        return 0
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"--out: cannot write {out}: {exc.strerror or exc}", USAGE) from None
    print(f"wrote calendar {doc['name']} ({len(doc['include'][0]['dates'])} dates) to {out}")
    return 0


def from_ics(args: argparse.Namespace) -> int:
    from ikasched_cli.client import USAGE, CliError

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{args.file}: cannot read: {exc}", USAGE) from None
    days = ics_dates(text, args.file)
    if args.years:
        keep = parse_years(args.years)
        days = [d for d in days if d.year in keep]
        if not days:
            raise CliError(f"{args.file}: no all-day events in {args.years}", USAGE)
    header = [f"from {Path(args.file).name}: {len(days)} dates, {days[0]} to {days[-1]}"]
    return _emit(document(args.name, args.description, days), args.out, header)


def from_holidays(args: argparse.Namespace) -> int:
    years = parse_years(args.years)
    found = holiday_dates(args.country, args.subdiv, years)
    where = args.country + (f"-{args.subdiv}" if args.subdiv else "")
    header = [f"public holidays of {where}, {years[0]}-{years[-1]}, from the holidays package:"]
    header += [f"  {day} {label}" for day, label in found]
    description = args.description or f"public holidays of {where}"
    return _emit(document(args.name, description, [d for d, _ in found]), args.out, header)
