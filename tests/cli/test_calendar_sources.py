"""`ikasched calendar from-ics` and `from-holidays`: holiday data into calendar documents,
offline; what they write is accepted by `calendar apply` and its dates are the calendar's."""

from __future__ import annotations

from pathlib import Path

import yaml

from .conftest import Cli, assert_one_line_error, clean_env, run

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ikasched tests//EN
BEGIN:VEVENT
UID:xmas@test
SUMMARY:Christmas and Boxing Day
DTSTART;VALUE=DATE:20261225
DTEND;VALUE=DATE:20261227
END:VEVENT
BEGIN:VEVENT
UID:ny@test
SUMMARY:New Year
DTSTART;VALUE=DATE:20270101
END:VEVENT
BEGIN:VEVENT
UID:early@test
SUMMARY:Last year's
DTSTART;VALUE=DATE:20251231
END:VEVENT
END:VCALENDAR
"""

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ikasched tests//EN
BEGIN:VEVENT
UID:bad@test
SUMMARY:Odd
{lines}
END:VEVENT
END:VCALENDAR
"""


def _offline(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    done = run(list(args), cwd=tmp_path, env=clean_env())
    return done.rc, done.out, done.err


def test_ics_all_day_events_become_dates(tmp_path: Path) -> None:
    source = tmp_path / "market.ics"
    source.write_text(ICS)
    rc, out, err = _offline(tmp_path, "calendar", "from-ics", str(source), "--name", "market")
    assert rc == 0, err
    doc = yaml.safe_load(out)
    # DTEND is exclusive; an event without DTEND is one day
    assert doc == {
        "name": "market",
        "include": [{"dates": ["2025-12-31", "2026-12-25", "2026-12-26", "2027-01-01"]}],
    }
    rc, out, err = _offline(
        tmp_path, "calendar", "from-ics", str(source), "--name", "m", "--years", "2026:2027"
    )
    assert rc == 0, err
    assert "2025-12-31" not in yaml.safe_load(out)["include"][0]["dates"]


def test_ics_that_cannot_be_dates_is_one_line(tmp_path: Path) -> None:
    cases = {
        "DTSTART:20261225T090000Z": "not an all-day date",
        "DTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY": "RRULE",
        "SUMMARY:no start": "no DTSTART",
        "DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20261224": "after DTSTART",
    }
    for n, (lines, why) in enumerate(cases.items()):
        bad = tmp_path / f"bad{n}.ics"
        bad.write_text(EVENT.format(lines=lines))
        got = run(["calendar", "from-ics", str(bad), "--name", "x"], cwd=tmp_path, env=clean_env())
        assert_one_line_error(got, rc=2, contains=why)
        assert "bad" in got.err
    junk = tmp_path / "junk.ics"
    junk.write_text("this is not a calendar\n")
    got = run(["calendar", "from-ics", str(junk), "--name", "x"], cwd=tmp_path, env=clean_env())
    assert_one_line_error(got, rc=2, contains="not an iCalendar file")


def test_country_holidays_are_applied_and_are_the_calendars_dates(
    stack: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "uk.yaml"
    made = stack.ok(
        "calendar",
        "from-holidays",
        "GB",
        "--subdiv",
        "ENG",
        "--years",
        "2026:2027",
        "--name",
        "uk-generated",
        "--out",
        str(out),
    )
    assert "19 dates" in made.out
    text = out.read_text()
    assert "2026-12-28 Boxing Day (observed)" in text  # the header says what each date is
    assert "2026-12-28" in yaml.safe_load(text)["include"][0]["dates"]
    stack.ok("calendar", "apply", "-f", str(out))
    table = stack.ok("calendar", "dates", "uk-generated", "--year", "2026").out
    assert table.splitlines()[0] == "calendar uk-generated 2026: 9 days"
    for day in ("2026-04-03", "2026-08-31", "2026-12-28"):
        assert any(line.startswith(day) for line in table.splitlines()), (day, table)
    stack.ok("calendar", "delete", "uk-generated")

    for args, why in [
        (["XX", "--years", "2026"], "country"),
        (["GB", "--subdiv", "QQ", "--years", "2026"], "--subdiv"),
        (["GB", "--years", "20x6"], "--years"),
        (["GB", "--years", "2030:2026"], "--years"),
    ]:
        got = stack.run("calendar", "from-holidays", *args, "--name", "x")
        assert_one_line_error(got, rc=2, contains=why)
