"""A plan whose window is calendar-driven, on the real stack: on a calendar day its window
start creates the instance and its jobs run to COMPLETE on the agent; a plan on the same cron
whose calendar skips these days creates nothing and says its next start is the calendar's
next day (docs/semantics.md §13)."""

from __future__ import annotations

import datetime as dt

from .conftest import E2EStack, wait_until, write_plan

CALENDAR = """
name: {name}
include:
  - dates: [{dates}]
"""

# the window opens every 5 s; a cron job on the agent then fires and the command follows it
PLAN = """
name: {name}
timeWindowStart: "*/5 * * * * ?"
timezone: UTC
calendar: {calendar}
calendarShift: skip
contextTtlMilliseconds: 600000
scheduledJobs:
  - agentName: local
    jobName: tick
    quartzScheduleDrivenJob: {{cronExpression: "* * * * * ?"}}
  - agentName: local
    jobName: work
    internalEventDrivenJob: {{commandLine: "echo calendar day >> {marks}/{name}"}}
jobDependencies:
  - jobIdentifier: local-tick
  - {{jobIdentifier: local-work, logicalGrouping: {{and: [local-tick]}}}}
"""


def _scheduled(stack: E2EStack, plan: str) -> list[dict[str, object]]:
    found = stack.json("instance", "list", "--plan", plan, "--all")
    return [i for i in found if i.get("status") != "PREPARED"]


def test_a_calendar_driven_window_runs_on_its_days_only(module_stack: E2EStack) -> None:
    stack = module_stack
    today = dt.datetime.now(dt.UTC).date()
    # today and tomorrow, so a run across midnight UTC still finds a calendar day
    days = [today, today + dt.timedelta(days=1)]
    later = today + dt.timedelta(days=3)
    for name, dates in (("e2e-today", days), ("e2e-later", [later])):
        text = CALENDAR.format(name=name, dates=", ".join(d.isoformat() for d in dates))
        stack.ok("calendar", "apply", "-f", str(write_plan(stack.work, name, text)))
    for plan, calendar in (("cal-on", "e2e-today"), ("cal-off", "e2e-later")):
        text = PLAN.format(name=plan, calendar=calendar, marks=stack.marks)
        stack.ok("plan", "apply", "-f", str(write_plan(stack.work, plan, text)))
    try:
        made: list[dict[str, object]] = []

        def complete() -> bool:
            made[:] = [i for i in _scheduled(stack, "cal-on") if i.get("status") == "COMPLETE"]
            return bool(made)

        wait_until("the calendar day's instance to complete", complete, timeout=60)
        first = made[0]
        assert first.get("created_by", "schedule") == "schedule", first
        assert (stack.marks / "cal-on").read_text().count("calendar day") >= 1
        # the same cron on a calendar without these days: nothing, and its next start says so
        assert _scheduled(stack, "cal-off") == []
        fires = stack.json("plan", "next-fires", "cal-off", "--count", "1")
        assert fires["fire_times"][0].startswith(later.isoformat()), fires
        assert not (stack.marks / "cal-off").exists()
    finally:
        for plan in ("cal-on", "cal-off"):
            stack.run("plan", "disable", plan)
            for live in stack.json("instance", "list", "--plan", plan):
                stack.run("instance", "end", live["id"])
