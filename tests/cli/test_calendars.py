"""`ikasched calendar apply|get|list|dates|delete` against a live dashboard, with the example
calendars and the example plan that uses them; bad input is one `ikasched: ...` line."""

from __future__ import annotations

from pathlib import Path

from ikasched_common.calendars import CalendarBook, parse_calendar
from ikasched_dashboard.plans.loader import load_plan_file, plan_files
from ikasched_dashboard.plans.validation import Severity, validate_plan

from .conftest import REPO, Cli, assert_one_line_error

CALENDARS = REPO / "examples" / "calendars"
ORDER = ["weekdays", "uk-bank-holidays", "uk-business", "month-end"]


def test_example_calendars_check_together_and_are_not_loaded_as_plans() -> None:
    import yaml

    docs = [yaml.safe_load((CALENDARS / f"{n}.yaml").read_text()) for n in ORDER]
    book = CalendarBook.of(parse_calendar(d) for d in docs)
    for name in ORDER:
        book.check(name)
    assert not any("calendars" in p.parts for p in plan_files(REPO / "examples"))
    plan = load_plan_file(CALENDARS / "business-day-batch.yaml")
    assert plan.calendar == "uk-business" and plan.calendar_shift == "next"
    assert not [p for p in validate_plan(plan) if p.severity is Severity.ERROR]


def test_apply_get_list_dates_and_delete(stack: Cli, tmp_path: Path) -> None:
    files = [arg for n in ORDER for arg in ("-f", str(CALENDARS / f"{n}.yaml"))]
    out = stack.ok("calendar", "apply", *files).out
    assert "calendar uk-business: version 1" in out
    again = stack.ok("calendar", "apply", "-f", str(CALENDARS / "weekdays.yaml")).out
    assert "unchanged (version 1)" in again
    stack.ok("plan", "apply", "-f", str(CALENDARS / "business-day-batch.yaml"))

    got = stack.json("calendar", "get", "uk-business")
    assert got["used_by_plans"] == ["business-day-batch"]
    assert got["used_by_calendars"] == ["month-end"]
    names = [c["name"] for c in stack.json("calendar", "list")["calendars"]]
    assert names == sorted(ORDER)

    table = stack.ok("calendar", "dates", "uk-business", "--year", "2026").out
    assert table.splitlines()[0] == "calendar uk-business 2026: 253 days"
    christmas = next(line for line in table.splitlines() if line.startswith("2026-12-25"))
    assert "uk-bank-holidays" in christmas and "annual" in christmas
    # weekends are left out of the short table, shown with --all
    assert "2026-12-27" not in table
    assert (
        "2026-12-27" in stack.ok("calendar", "dates", "uk-business", "--year", "2026", "--all").out
    )

    fires = stack.json("plan", "next-fires", "business-day-batch", "--count", "7")
    assert len(fires["fire_times"]) == 7
    # a week of fires crosses a weekend: its starts are shifted to Monday, and said so
    assert any("shifted (next) by calendar uk-business" in w for w in fires["calendar"])

    assert_one_line_error(
        stack.run("calendar", "delete", "uk-business"), contains="business-day-batch"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ninclude:\n  - weekdays: [MON, FUN]\n")
    assert_one_line_error(
        stack.run("calendar", "apply", "-f", str(bad)), contains="include[0].weekdays[1]"
    )
    assert_one_line_error(
        stack.run("calendar", "dates", "uk-business", "--year", "1900"), contains="year"
    )
    assert_one_line_error(stack.run("calendar", "get", "nowhere"), contains="not found")
    assert_one_line_error(
        stack.run("calendar", "apply", "-f", str(tmp_path / "missing.yaml")),
        rc=2,
        contains="cannot read",
    )
    stack.ok("calendar", "delete", "month-end")
    assert "month-end" not in [c["name"] for c in stack.json("calendar", "list")["calendars"]]
