"""Arguments of the query commands (`job list`, `audit`); argparse only, so building the
parser stays cheap. Times are local ISO-8601 ("2026-12-02T08:00"), with an offset or "Z", or
relative ("30m", "2h", "1d": that long ago)."""

from __future__ import annotations

import argparse


def _time_window(p: argparse.ArgumentParser, *, what: str) -> None:
    p.add_argument("--since", default="", metavar="TIME", help=f"only {what} at or after TIME")
    p.add_argument("--until", default="", metavar="TIME", help=f"only {what} before TIME")
    p.add_argument("--utc", action="store_true", help="show times in UTC, not the local zone")
    p.add_argument("--limit", type=int, default=0, help="at most this many rows (default all)")


def job_list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--status", action="append", default=[], help="only jobs in this status (repeatable)"
    )
    p.add_argument("--plan", action="append", default=[], help="only this plan (repeatable)")
    p.add_argument("--agent", default="", help="only jobs of this agent")
    p.add_argument("--owner", default="", help="only plans with this owner")
    p.add_argument("--ended", action="store_true", help="include ended instances")
    _time_window(p, what="jobs whose SINCE is")


def audit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "instance",
        nargs="?",
        default="",
        help="only this instance (id, or a plan name: its newest live instance)",
    )
    p.add_argument("--job", default="", help="only rows about this job identifier")
    p.add_argument("--actor", default="", help="only rows by this actor")
    p.add_argument(
        "--kind",
        action="append",
        default=[],
        help="only this kind (repeatable): job, context, verb, ack, alert, event-dropped, "
        "missed-run, note",
    )
    p.add_argument("--plan", default="", help="only this plan")
    _time_window(p, what="rows")
