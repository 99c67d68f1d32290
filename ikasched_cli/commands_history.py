"""`ikasched history`: the execution history (one row per ended job run, kept after its
instance), every page of it; `ikasched history-purge`: delete runs that ended before a time."""

from __future__ import annotations

import argparse
import sys

from ikasched_cli import output
from ikasched_cli.client import USAGE, CliError, connect
from ikasched_cli.commands_audit import duration_text, pages, parse_time, stamp, window


def history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", action="append", default=[], help="only this plan (repeatable)")
    p.add_argument("--instance", default="", help="only runs of this instance id")
    p.add_argument("--job", default="", help="only runs of this job identifier")
    p.add_argument("--agent", default="", help="only runs on this agent")
    p.add_argument("--owner", default="", help="only plans with this owner")
    p.add_argument(
        "--status",
        action="append",
        default=[],
        help="only runs that ended so (repeatable): COMPLETE, SKIPPED_COMPLETE, ERROR, KILLED",
    )
    p.add_argument("--since", default="", metavar="TIME", help="only runs ended at or after TIME")
    p.add_argument("--until", default="", metavar="TIME", help="only runs ended before TIME")
    p.add_argument("--utc", action="store_true", help="show times in UTC, not the local zone")
    p.add_argument("--limit", type=int, default=0, help="at most this many rows (default all)")


def purge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--before", required=True, metavar="TIME", help="delete runs that ended before TIME"
    )


def stats_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", default="", help="only this plan's jobs")
    p.add_argument("--job", default="", help="only this job identifier")
    p.add_argument(
        "--last", type=int, default=0, metavar="N", help="each job's last N runs (default 20)"
    )


def _statuses(names: list[str]) -> list[str]:
    out = []
    for name in names:
        upper = name.strip().upper()
        if upper not in ("COMPLETE", "SKIPPED_COMPLETE", "ERROR", "KILLED"):
            raise CliError(
                f"--status: {name!r} is not one of COMPLETE, SKIPPED_COMPLETE, ERROR, KILLED",
                USAGE,
            )
        out.append(upper)
    return out


def history(args: argparse.Namespace) -> int:
    from ikasched.v1 import common_pb2, history_service_pb2, history_service_pb2_grpc

    since, until = window(args)
    statuses = _statuses(args.status)
    client = connect(args)
    request = history_service_pb2.ListJobRunsRequest(
        context_names=args.plan,
        context_instance_id=args.instance,
        job_identifier=args.job,
        agent_name=args.agent,
        owner=args.owner,
        statuses=statuses,
        ended_after=since,
        ended_before=until,
    )
    stub = client.stub(history_service_pb2_grpc.HistoryServiceStub)
    runs = list(pages(client, stub.ListJobRuns, request, lambda r: r.runs, args.limit))
    data = {"runs": [output.message_dict(r) for r in runs]}
    rows = [
        [
            stamp(r.end_time, utc=args.utc),
            r.context_name,
            r.context_instance_id,
            r.job_identifier + (f" ({r.child_context_name})" if r.child_context_name else ""),
            str(r.attempt),
            common_pb2.InstanceStatus.Name(r.status),
            str(r.return_code),
            duration_text(r.duration_ms),
            r.agent_name or "-",
            r.outcome_reason or "-",
        ]
        for r in runs
    ]
    human = output.table(
        rows,
        ["ENDED", "PLAN", "INSTANCE", "JOB", "RUN", "STATUS", "RC", "DURATION", "AGENT", "WHY"],
        colour=output.use_colour(sys.stdout),
        status_column="STATUS",
    )
    output.emit(args.output, data, human)
    return 0


def history_purge(args: argparse.Namespace) -> int:
    from ikasched.v1 import history_service_pb2, history_service_pb2_grpc

    before = parse_time(args.before, "--before")
    client = connect(args)
    stub = client.stub(history_service_pb2_grpc.HistoryServiceStub)
    response = client.call(
        stub.PurgeHistory, history_service_pb2.PurgeHistoryRequest(ended_before=before)
    )
    output.emit(
        args.output,
        {"deleted": response.deleted},
        f"deleted {response.deleted} run(s) ended before {stamp(before, utc=False)}",
    )
    return 0


def history_stats(args: argparse.Namespace) -> int:
    from ikasched.v1 import history_service_pb2, history_service_pb2_grpc

    if args.last < 0:
        raise CliError("--last: must not be negative", USAGE)
    client = connect(args)
    stub = client.stub(history_service_pb2_grpc.HistoryServiceStub)
    response = client.call(
        stub.GetJobStats,
        history_service_pb2.GetJobStatsRequest(
            context_name=args.plan, job_identifier=args.job, last_runs=args.last
        ),
    )
    data = {"stats": [output.message_dict(s) for s in response.stats]}
    rows = [
        [
            s.context_name,
            s.job_identifier,
            str(s.runs),
            str(s.failures),
            duration_text(s.mean_ms),
            duration_text(s.p50_ms),
            duration_text(s.p95_ms),
            duration_text(s.max_ms),
        ]
        for s in response.stats
    ]
    human = output.table(
        rows,
        ["PLAN", "JOB", "RUNS", "FAILED", "MEAN", "P50", "P95", "MAX"],
        colour=output.use_colour(sys.stdout),
    )
    output.emit(args.output, data, human)
    return 0
