"""`ikasched audit`: the audit trail by instance, job, actor, kind and time, every page of it,
and the time helpers the query commands share (local zone or --utc, durations, TIME
arguments)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import USAGE, Client, CliError, connect

PAGE = 500
_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(text: str, flag: str) -> int:
    """A TIME argument as epoch ms: ISO-8601 (local unless it names a zone) or "<n>[smhd]"
    (that long ago). 0 for ""."""
    if not text:
        return 0
    m = _RELATIVE.match(text.strip())
    if m:
        ago = int(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        return int((dt.datetime.now(dt.UTC).timestamp() - ago) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"{flag}: {text!r} is not a time (ISO-8601 like 2026-12-02T08:00, or 30m, 2h, 1d)",
            USAGE,
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # the operator's local zone
    return int(when.timestamp() * 1000)


def stamp(epoch_ms: int, *, utc: bool) -> str:
    """An epoch-ms time in the local zone (or UTC), to the second; "-" for 0."""
    if not epoch_ms:
        return "-"
    when = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    if utc:
        return when.strftime("%Y-%m-%d %H:%M:%SZ")
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration_text(millis: int) -> str:
    """1.2s, 3m04s, 2h05m, 1d03h; "-" for 0."""
    if millis <= 0:
        return "-"
    seconds = millis / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def window(args: argparse.Namespace) -> tuple[int, int]:
    """The --since/--until bounds (epoch ms, 0 = none); --limit checked."""
    if args.limit < 0:
        raise CliError("--limit expects a number >= 0", USAGE)
    since, until = parse_time(args.since, "--since"), parse_time(args.until, "--until")
    if since and until and until <= since:
        raise CliError("--until must be after --since", USAGE)
    return since, until


def pages(
    client: Client, method: Any, request: Any, items: Callable[[Any], Any], limit: int
) -> Iterator[Any]:
    """Every item of a paged listing (at most `limit`, 0 = all)."""
    got = 0
    while True:
        request.page.page_size = PAGE if not limit else min(PAGE, limit - got)
        response = client.call(method, request)
        for item in items(response):
            yield item
            got += 1
            if limit and got >= limit:
                return
        if not response.next_page_token:
            return
        request.page.page_token = response.next_page_token


def audit(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2, instance_service_pb2_grpc
    from ikasched_cli.commands_instance import resolve_instance

    since, until = window(args)
    client = connect(args)
    request = instance_service_pb2.ListAuditRequest(
        context_instance_id=resolve_instance(client, args.instance) if args.instance else "",
        job_identifier=args.job,
        actor=args.actor,
        kinds=args.kind,
        context_name=args.plan,
        after_time=since,
        before_time=until,
    )
    stub = client.stub(instance_service_pb2_grpc.InstanceServiceStub)
    records = list(pages(client, stub.ListAudit, request, lambda r: r.records, args.limit))
    data = {"records": [output.message_dict(r) for r in records]}
    rows = [
        [
            stamp(r.time, utc=args.utc),
            r.kind,
            r.context_name or "-",
            r.context_instance_id or "-",
            r.job_identifier or (r.child_context_name if r.kind == "context" else "") or "-",
            r.actor or "-",
            _what(r),
        ]
        for r in records
    ]
    human = output.table(
        rows,
        ["TIME", "KIND", "PLAN", "INSTANCE", "JOB", "ACTOR", "WHAT"],
        colour=output.use_colour(sys.stdout),
        status_column=None,
    )
    output.emit(args.output, data, human)
    return 0


def _what(r: Any) -> str:
    from ikasched.v1 import common_pb2

    if r.new_status:
        before = common_pb2.InstanceStatus.Name(r.previous_status) if r.previous_status else ""
        after = common_pb2.InstanceStatus.Name(r.new_status)
        move = f"{before} -> {after}" if before else after
        return f"{move} ({r.cause})" if r.cause else move
    return str(r.detail) or str(r.cause) or "-"
