"""`ikasched report`'s summary of the execution history: runs and failures per plan in the
window, the slowest jobs, and a job whose last run took over 1.5 x its usual mean."""

from __future__ import annotations

from typing import Any

from ikasched_cli.commands_report import summarise


def _run(plan: str, job: str, end: int, ms: int, status: str = "COMPLETE") -> dict[str, Any]:
    return {
        "context_name": plan,
        "job_identifier": job,
        "end_time": str(end),
        "duration_ms": str(ms),
        "status": status,
    }


def test_runs_failures_slowest_and_longer_than_usual() -> None:
    runs = [
        _run("p", "load", 100, 1_000),
        _run("p", "load", 200, 1_200),
        _run("p", "load", 1_100, 2_000),  # in the window, > 1.5 x mean(1000, 1200)
        _run("p", "copy", 1_200, 5_000, "ERROR"),
        _run("p", "steady", 1_300, 300),
        _run("p", "steady", 50, 290),
        _run("q", "old", 10, 9_999),  # before the window: not reported, no plan entry
    ]
    plans = summarise(runs, since=1_000, top=2)
    assert [p["plan"] for p in plans] == ["p"]
    p = plans[0]
    assert p["runs"] == 3 and p["failures"] == 1
    assert p["slowest"] == [
        {"job": "copy", "duration_ms": 5_000},
        {"job": "load", "duration_ms": 2_000},
    ]
    assert p["longer_than_usual"] == [
        {"job": "load", "duration_ms": 2_000, "usual_ms": 1_100, "runs_compared": 2}
    ]
