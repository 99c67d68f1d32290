"""`ikasched report --since 24h`: per plan, the runs that ended in the window, failures, the
slowest jobs, and jobs that ran longer than usual (their last run against the mean of their
earlier runs in the window, or in `--baseline`); computed from the execution history."""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import USAGE, CliError, connect
from ikasched_cli.commands_audit import duration_text, pages, parse_time

#: a run is "longer than usual" when it took more than this times its job's mean
LONGER_FACTOR = 1.5
_FAILED = ("ERROR", "KILLED")


def report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", default="24h", metavar="TIME", help="window start (default 24h)")
    p.add_argument(
        "--baseline",
        default="",
        metavar="TIME",
        help="usual durations from runs since TIME (default: the window itself)",
    )
    p.add_argument("--plan", action="append", default=[], help="only this plan (repeatable)")
    p.add_argument("--top", type=int, default=3, help="slowest jobs per plan (default 3)")


def summarise(
    runs: list[dict[str, Any]], since: int, top: int, factor: float = LONGER_FACTOR
) -> list[dict[str, Any]]:
    """Per plan (by name): runs, failures, slowest and longer-than-usual jobs in the window.
    `runs` are ListJobRuns results as dicts (proto JSON field names), any order."""
    by_job: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by_job[(r["context_name"], r["job_identifier"])].append(r)
    plans: dict[str, dict[str, Any]] = {}
    for (plan, job), job_runs in sorted(by_job.items()):
        job_runs.sort(key=lambda r: int(r.get("end_time", 0)))
        window = [r for r in job_runs if int(r.get("end_time", 0)) >= since]
        if not window:
            continue
        entry = plans.setdefault(
            plan, {"plan": plan, "runs": 0, "failures": 0, "slowest": [], "longer_than_usual": []}
        )
        entry["runs"] += len(window)
        entry["failures"] += sum(1 for r in window if r.get("status") in _FAILED)
        last = window[-1]
        last_ms = int(last.get("duration_ms", 0))
        entry["slowest"].append(
            {"job": job, "duration_ms": max(int(r.get("duration_ms", 0)) for r in window)}
        )
        earlier = [int(r.get("duration_ms", 0)) for r in job_runs[:-1] if r.get("duration_ms")]
        if earlier and last_ms > factor * statistics.fmean(earlier):
            entry["longer_than_usual"].append(
                {
                    "job": job,
                    "duration_ms": last_ms,
                    "usual_ms": int(statistics.fmean(earlier)),
                    "runs_compared": len(earlier),
                }
            )
    out = []
    for entry in plans.values():
        entry["slowest"] = sorted(entry["slowest"], key=lambda s: -s["duration_ms"])[:top]
        out.append(entry)
    return out


def report(args: argparse.Namespace) -> int:
    from ikasched.v1 import history_service_pb2, history_service_pb2_grpc

    if args.top < 1:
        raise CliError("--top expects a number >= 1", USAGE)
    since = parse_time(args.since, "--since")
    baseline = parse_time(args.baseline, "--baseline") if args.baseline else since
    if baseline > since:
        raise CliError("--baseline must not be after --since", USAGE)
    client = connect(args)
    stub = client.stub(history_service_pb2_grpc.HistoryServiceStub)
    request = history_service_pb2.ListJobRunsRequest(context_names=args.plan, ended_after=baseline)
    runs = [
        output.message_dict(r)
        for r in pages(client, stub.ListJobRuns, request, lambda r: r.runs, 0)
    ]
    plans = summarise(runs, since, args.top)
    lines = []
    for p in plans:
        lines.append(f"{p['plan']}: {p['runs']} run(s), {p['failures']} failed")
        slow = ", ".join(f"{s['job']} {duration_text(s['duration_ms'])}" for s in p["slowest"])
        lines.append(f"  slowest: {slow}")
        for s in p["longer_than_usual"]:
            lines.append(
                f"  longer than usual: {s['job']} {duration_text(s['duration_ms'])} "
                f"(usual {duration_text(s['usual_ms'])} over {s['runs_compared']} run(s))"
            )
    output.emit(args.output, {"since": since, "plans": plans}, "\n".join(lines) or "no runs")
    return 0
