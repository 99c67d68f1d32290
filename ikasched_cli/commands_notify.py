"""`ikasched notify`: notification rules (apply, list, delete, test) and the notifications
they queued (`notify deliveries`: PENDING, DELIVERED, DEAD)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

RUN = "ikasched_cli.commands_notify:"


def add_notify_verbs(b: Any, notify: Any) -> None:
    """The `notify` group's verbs (main.build_parser calls this)."""

    def name_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="rule name")

    def apply_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--file", required=True, action="append", help="rule YAML/JSON file")

    def deliveries_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--status",
            action="append",
            default=[],
            help="only PENDING, DELIVERED or DEAD (repeatable)",
        )
        p.add_argument("--utc", action="store_true", help="show times in UTC")
        p.add_argument("--limit", type=int, default=0, help="at most this many rows")

    b.leaf(notify, "apply", "create or replace notification rules", RUN + "apply", apply_args)
    b.leaf(notify, "list", "list notification rules", RUN + "list_rules")
    b.leaf(notify, "delete", "delete a notification rule", RUN + "delete", name_arg)
    b.leaf(notify, "test", "queue a TEST notification through a rule", RUN + "test", name_arg)
    b.leaf(
        notify,
        "deliveries",
        "notifications and their delivery: PENDING, DELIVERED, DEAD",
        RUN + "deliveries",
        deliveries_args,
    )


def _stub(client: Any) -> Any:
    from ikasched.v1 import notification_service_pb2_grpc

    return client.stub(notification_service_pb2_grpc.NotificationServiceStub)


def _read(path: str) -> str:
    from ikasched_cli.client import USAGE, CliError

    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read rule file: {exc}", USAGE) from exc


def apply(args: argparse.Namespace) -> int:
    from ikasched.v1 import notification_service_pb2 as pb
    from ikasched_cli import output
    from ikasched_cli.client import connect

    texts = [_read(path) for path in args.file]
    client = connect(args)
    results, lines = [], []
    for text in texts:
        response = client.call(
            _stub(client).ApplyNotificationRule, pb.ApplyNotificationRuleRequest(document=text)
        )
        results.append(output.message_dict(response.rule))
        lines.append(f"rule {response.rule.name}: version {response.rule.version}")
    output.emit(args.output, results if len(results) > 1 else results[0], "\n".join(lines))
    return 0


def list_rules(args: argparse.Namespace) -> int:
    from ikasched.v1 import notification_service_pb2 as pb
    from ikasched_cli import output
    from ikasched_cli.client import connect

    client = connect(args)
    response = client.call(_stub(client).ListNotificationRules, pb.ListNotificationRulesRequest())
    rows = [
        [r.name, r.context_name or "*", r.job_identifier or "*", ",".join(r.on), r.webhook_url]
        for r in response.rules
    ]
    human = output.table(rows, ["NAME", "PLAN", "JOB", "ON", "WEBHOOK"], status_column=None)
    output.emit(args.output, {"rules": [output.message_dict(r) for r in response.rules]}, human)
    return 0


def delete(args: argparse.Namespace) -> int:
    from ikasched.v1 import notification_service_pb2 as pb
    from ikasched_cli import output
    from ikasched_cli.client import connect

    client = connect(args)
    client.call(
        _stub(client).DeleteNotificationRule, pb.DeleteNotificationRuleRequest(name=args.name)
    )
    output.emit(args.output, {"deleted": args.name}, f"rule {args.name} deleted")
    return 0


def test(args: argparse.Namespace) -> int:
    from ikasched.v1 import notification_service_pb2 as pb
    from ikasched_cli import output
    from ikasched_cli.client import connect

    client = connect(args)
    response = client.call(
        _stub(client).TestNotificationRule, pb.TestNotificationRuleRequest(name=args.name)
    )
    n = response.notification
    output.emit(
        args.output,
        output.message_dict(n),
        f"queued TEST notification {n.id} to {n.url} (see `ikasched notify deliveries`)",
    )
    return 0


def deliveries(args: argparse.Namespace) -> int:
    from ikasched.v1 import notification_service_pb2 as pb
    from ikasched_cli import output
    from ikasched_cli.client import USAGE, CliError, connect
    from ikasched_cli.commands_audit import pages, stamp

    if args.limit < 0:
        raise CliError("--limit expects a number >= 0", USAGE)
    for status in args.status:
        if status.upper() not in ("PENDING", "DELIVERED", "DEAD"):
            raise CliError(f"--status: {status!r} is not one of PENDING, DELIVERED, DEAD", USAGE)
    client = connect(args)
    request = pb.ListNotificationsRequest(statuses=[s.upper() for s in args.status])
    found = list(
        pages(
            client,
            _stub(client).ListNotifications,
            request,
            lambda r: r.notifications,
            args.limit,
        )
    )
    rows = [
        [
            str(n.id),
            stamp(n.created_time, utc=args.utc),
            n.rule_name,
            n.kind,
            n.status,
            str(n.attempts),
            n.last_error or "-",
        ]
        for n in found
    ]
    human = output.table(
        rows,
        ["ID", "QUEUED", "RULE", "KIND", "STATUS", "ATTEMPTS", "LAST ERROR"],
        colour=output.use_colour(sys.stdout),
        status_column=None,
    )
    output.emit(args.output, {"notifications": [output.message_dict(n) for n in found]}, human)
    return 0
