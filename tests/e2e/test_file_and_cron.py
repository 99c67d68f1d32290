"""examples/file-and-cron.yaml fires for real: the cron job ticks (every 3 seconds here instead
of every 15 minutes on weekdays) and raises the repeatable report; a trades file dropped in
the watched directory (a temporary one here) is picked up, moved, and raises load-trades.

A repeat run of a COMPLETE repeatable job is not a status transition (Ikasan's rule: a job
starting again after COMPLETE does not regress), so runs are counted by side-effect files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .conftest import REPO, E2EStack, job_changes, run_count, wait_until, write_plan

TICK = "0/3 * * ? * * *"


def _local_copy(inbox: Path, marks: Path) -> str:
    """The example with its inbox and tick cadence changed, and its two command jobs
    appending a line per run to `marks`."""
    plan: dict[str, Any] = yaml.safe_load((REPO / "examples" / "file-and-cron.yaml").read_text())
    for param in plan["contextParameters"]:
        if param["name"] == "INBOX":
            param["defaultValue"] = str(inbox)
    jobs = {j["jobName"]: j for j in plan["scheduledJobs"]}
    tick = jobs["tick"]["quartzScheduleDrivenJob"]
    tick["cronExpression"] = TICK
    tick.pop("daysOfWeekToRun", None)  # the test runs on any day
    watcher = jobs["trades-file"]["fileEventDrivenJob"]
    watcher["filePath"] = str(inbox)
    watcher["moveDirectory"] = str(inbox / "done")
    for name in ("report", "load-trades"):
        command = jobs[name]["internalEventDrivenJob"]
        command["commandLine"] = f"echo run >> {marks}/{name}\n" + command["commandLine"]
    return str(yaml.safe_dump(plan, sort_keys=False))


def test_cron_tick_and_file_arrival_fire(module_stack: E2EStack) -> None:
    stack = module_stack
    inbox = stack.base / "inbox"
    inbox.mkdir()
    plan_file = write_plan(stack.work, "file-and-cron", _local_copy(inbox, stack.marks))
    applied = stack.ok("plan", "apply", "-f", str(plan_file))
    assert "updated" in applied.out, applied.out
    fires = stack.json("plan", "next-fires", "file-and-cron", "--job", "local-tick", "-n", "3")
    assert len(fires["fire_times"]) == 3
    iid = stack.ok("instance", "create", "file-and-cron").out.strip()
    try:
        # the cron job fires on its own, again and again; each tick runs the report once more
        wait_until("report to run twice", lambda: run_count(stack.marks, "report") >= 2, timeout=30)
        assert stack.job_status(iid, "local-load-trades") == "WAITING"

        # a file arrives: it is moved once it is 2 seconds old, and load-trades runs
        (inbox / "trades-20260130.csv").write_text("id,qty\n1,100\n")
        stack.wait_job(iid, "local-load-trades", "COMPLETE", timeout=40)
        assert (inbox / "done" / "trades-20260130.csv").exists()
        assert not (inbox / "trades-20260130.csv").exists()
        assert run_count(stack.marks, "load-trades") == 1
        # a file of another name is left alone
        (inbox / "positions.csv").write_text("x\n")
        ticks = run_count(stack.marks, "report")
        wait_until("another tick", lambda: run_count(stack.marks, "report") > ticks, timeout=20)
        assert (inbox / "positions.csv").exists()
        assert run_count(stack.marks, "load-trades") == 1
        # the trail: tick and trades-file complete once (their repeats are not transitions),
        # report and load-trades started once each from WAITING
        steps = job_changes(stack.audit(iid))
        for ident in ("local-tick", "local-trades-file"):
            assert steps[(ident, "file-and-cron")] == [("WAITING", "COMPLETE")], steps
        for ident in ("local-report", "local-load-trades"):
            assert steps[(ident, "file-and-cron")] == [
                ("WAITING", "RUNNING"),
                ("RUNNING", "COMPLETE"),
            ], steps
    finally:
        stack.run("instance", "end", iid)
