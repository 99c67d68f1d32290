"""Parsers of the admin commands: global events, the dashboard's queues and dead letters,
and access tokens; main.build_parser adds them to the top level."""

from __future__ import annotations

import argparse
from typing import Any

ADM = "ikasched_cli.commands_admin:"
SRV = "ikasched_cli.commands_server:"


def add_event_and_queue_commands(b: Any, sub: Any) -> None:
    event = b.group(sub, "event", "global events")

    def raise_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="global event name")
        p.add_argument("--environment-group", default="")
        p.add_argument("--any-group", action="store_true", help="every environment group")

    b.leaf(event, "raise", "raise a global event", ADM + "event_raise", raise_args)

    queue = b.group(sub, "queue", "dashboard journals and the dead-letter queue")
    b.leaf(
        queue,
        "list",
        "list queues with sizes",
        ADM + "queue_list",
        lambda p: p.add_argument("--all", action="store_true", help="include empty queues"),
    )

    def peek_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("queue", help="queue name (see queue list)")
        p.add_argument("-n", "--limit", type=int, default=20)

    b.leaf(queue, "peek", "show the first messages of a queue", ADM + "queue_peek", peek_args)
    b.leaf(
        queue,
        "dlq",
        "show the dead-letter queue",
        ADM + "queue_dlq",
        lambda p: p.add_argument("-n", "--limit", type=int, default=20),
    )

    def message_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("queue")
        p.add_argument("message_id")

    b.leaf(
        queue,
        "resubmit",
        "move a dead letter back to the inbox",
        ADM + "queue_resubmit",
        message_args,
    )

    def qdelete_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("queue")
        p.add_argument("message_id", nargs="?")
        p.add_argument("--all", action="store_true", help="every message of the queue")
        p.add_argument(
            "--force",
            action="store_true",
            help="needed for a non-dead-letter queue (inbox, outbox/<agent>)",
        )

    b.leaf(queue, "delete", "delete a message (or --all)", ADM + "queue_delete", qdelete_args)


def add_token_commands(b: Any, sub: Any) -> None:
    from ikasched_cli import parser_processes as pa

    token = b.group(sub, "token", "access tokens (admin)")

    def token_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--subject", required=True, help="who or what uses it")
        p.add_argument("--role", required=True, choices=("viewer", "operator", "admin", "agent"))
        p.add_argument("--plan", action="append", default=[], help="limit to a plan")
        p.add_argument("--agent", default="", help="agent name (AGENT tokens)")
        p.add_argument("--ttl", type=int, default=0, help="seconds until it expires")

    b.leaf(
        token,
        "create",
        "create a token (its secret is shown once)",
        ADM + "token_create",
        token_args,
    )
    b.leaf(
        token,
        "list",
        "list tokens",
        ADM + "token_list",
        lambda p: p.add_argument("--all", action="store_true", help="include inactive"),
    )
    b.leaf(
        token,
        "revoke",
        "revoke a token",
        ADM + "token_revoke",
        lambda p: p.add_argument("token_id"),
    )
    b.leaf(
        token,
        "bootstrap",
        "offline: write a first admin token into the dashboard's data dir",
        SRV + "token_bootstrap",
        pa.bootstrap_args,
        connection=False,
    )
