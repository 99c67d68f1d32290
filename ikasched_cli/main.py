"""The `ikasched` argument parser and dispatcher.

Each leaf command names its handler as "module:function" (set_defaults(run=...)); the module is
imported only when that command runs. Handlers take the parsed namespace and return the exit
status: 0 ok, 1 failed or refused, 2 usage, 3 dashboard unreachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

PKG = "ikasched_cli."

_EPILOG = """exit status: 0 ok, 1 failed or refused, 2 usage, 3 dashboard unreachable.
Connection: --dashboard/--token flags, IKASCHED_DASHBOARD/IKASCHED_TOKEN, or the [cli] table of
the nearest ikasched-data/cli.toml here or in a parent directory (written by `ikasched up`) or
./ikasched.toml. A plan name where an instance is expected: its newest live instance, else its
newest ended one."""


def _common() -> argparse.ArgumentParser:
    """Options every command accepts, before or after its name (SUPPRESS keeps a value given
    before the command from being reset by the subcommand's default)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("connection")
    s = argparse.SUPPRESS
    g.add_argument(
        "--dashboard",
        metavar="HOST:PORT",
        default=s,
        help="dashboard address (default 127.0.0.1:50051)",
    )
    g.add_argument("--token", default=s, help="access token (IKASCHED_TOKEN)")
    g.add_argument("--token-file", default=s, help="file holding the access token")
    g.add_argument("--tls-ca", default=s, help="CA bundle to trust the dashboard's certificate")
    g.add_argument("--tls-cert", default=s, help="client certificate (mutual TLS)")
    g.add_argument("--tls-key", default=s, help="client key (mutual TLS)")
    g.add_argument("--timeout", type=float, default=s, help="seconds per call (default 30)")
    g.add_argument(
        "--max-message-bytes",
        type=int,
        default=s,
        help="largest message either way (default 16777216, as the dashboard's)",
    )
    g.add_argument("--config", default=s, help="TOML file with a [cli] table")
    p.add_argument(
        "-o",
        "--output",
        choices=("table", "json", "yaml"),
        default=s,
        help="output format (default table)",
    )
    return p


_SKIP = object()


class _Builder:
    """Builds only the commands named in `wanted` (None: all) in full; the others get just
    their one-line help, so start-up does not pay for fifty parsers it will not use."""

    def __init__(self, wanted: set[str] | None) -> None:
        self.common = _common()
        self.wanted = wanted
        self.top: Any = None
        self._dummy: argparse.ArgumentParser | None = None

    def _want(self, name: str) -> bool:
        return self.wanted is None or name in self.wanted

    def dummy(self) -> argparse.ArgumentParser:
        if self._dummy is None:
            self._dummy = argparse.ArgumentParser(add_help=False)
        return self._dummy

    def group(self, sub: Any, name: str, help_text: str) -> Any:
        if sub is _SKIP:
            return _SKIP
        parser = sub.add_parser(name, help=help_text, description=help_text)
        if not self._want(name):
            return _SKIP
        return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)

    def leaf(
        self,
        sub: Any,
        name: str,
        help_text: str,
        run: str,
        args: Callable[[argparse.ArgumentParser], object] | None = None,
        *,
        connection: bool = True,
    ) -> argparse.ArgumentParser:
        if sub is _SKIP:
            return self.dummy()
        if sub is self.top and not self._want(name):
            sub.add_parser(name, help=help_text)
            return self.dummy()
        parents = [self.common] if connection else []
        parser: argparse.ArgumentParser = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=parents,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if args is not None:
            args(parser)
        parser.set_defaults(run=run)
        return parser


def _job_ref(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", help="instance id, or a plan name (its newest instance)")
    p.add_argument("job", help="job identifier, e.g. local-say-hello")
    p.add_argument("--child", default="", help="child context name (a job in several contexts)")
    p.add_argument("--comment", default="", help="recorded in the audit trail")


def _bulk_ref(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", help="instance id, or a plan name (its newest instance)")
    p.add_argument("job", nargs="?", help="job identifier (leave out with --all)")
    p.add_argument("--child", default="", help="child context name")
    p.add_argument(
        "--all", action="store_true", help="every job of the instance, or of --child's context"
    )
    p.add_argument("--comment", default="", help="recorded in the audit trail")


def _params(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="context parameter (repeatable)",
    )


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `argv`, only the commands it names are built in full."""
    from ikasched_cli import parser_admin
    from ikasched_cli import parser_processes as pa
    from ikasched_cli import parser_verbs as verbs
    from ikasched_common import __version__

    b = _Builder(None if argv is None else set(argv))
    parser = argparse.ArgumentParser(
        prog="ikasched",
        parents=[b.common],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="ikasched: an enterprise job scheduler (dashboard, agents, operator CLI).",
    )
    parser.add_argument("--version", action="version", version=f"ikasched {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    b.top = sub

    # ---- processes ------------------------------------------------------------------------
    srv = PKG + "commands_server:"
    b.leaf(sub, "version", "print the version", srv + "version", connection=False)
    b.leaf(
        sub,
        "dashboard",
        "run the dashboard (flags override IKASCHED_* and [dashboard])",
        srv + "dashboard",
        pa.dashboard_args,
        connection=False,
    )
    agent = b.group(sub, "agent", "run an agent (`ikasched agent run ...`) or list agents")
    b.leaf(
        agent,
        "run",
        "run an agent on this host (`ikasched agent run --help`)",
        PKG + "commands_agent:run",
        pa.agent_run_args,
        connection=False,
    )
    b.leaf(
        agent,
        "list",
        "list agents with presence",
        PKG + "commands_admin:agent_list",
        lambda p: p.add_argument("--connected", action="store_true", help="only connected agents"),
    )
    verbs.add_agent_verbs(b, agent)
    db = b.group(sub, "db", "database maintenance")
    b.leaf(
        db,
        "upgrade",
        "apply migrations to the dashboard database",
        srv + "db_upgrade",
        pa.db_args,
        connection=False,
    )
    cluster = b.group(sub, "cluster", "dashboards sharing one PostgreSQL database")
    b.leaf(
        cluster,
        "status",
        "show the active dashboard, its epoch and lease, and the standbys",
        srv + "cluster_status",
        pa.db_args,
        connection=False,
    )
    b.leaf(
        sub,
        "web",
        "run the web console, a client of the dashboard's API",
        PKG + "commands_web:web",
        pa.web_args,
        connection=False,
    )
    b.leaf(
        sub,
        "up",
        "run a local stack: dashboard, agent 'local', the example plans",
        PKG + "up:up",
        pa.up_args,
        connection=False,
    )

    # ---- plans ----------------------------------------------------------------------------
    pl = PKG + "commands_plan:"
    plan = b.group(sub, "plan", "job plans")

    def files(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-f",
            "--file",
            required=True,
            action="append",
            help="plan file or directory (repeatable)",
        )

    def apply_args(p: argparse.ArgumentParser) -> None:
        files(p)
        p.add_argument("--dry-run", action="store_true", help="validate and diff, change nothing")

    b.leaf(plan, "apply", "create or update plans from files", pl + "apply", apply_args)
    b.leaf(
        plan,
        "validate",
        "check plan files locally (no dashboard needed)",
        pl + "validate",
        files,
        connection=False,
    ).add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")

    verbs.add_plan_verbs(b, plan)

    def name(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="plan name")

    def versioned(p: argparse.ArgumentParser) -> None:
        name(p)
        p.add_argument(
            "--version",
            type=int,
            default=0,
            dest="plan_version",
            help="a past version (default: current)",
        )

    b.leaf(plan, "get", "show a plan's summary", pl + "get", versioned)
    b.leaf(
        plan,
        "list",
        "list plans",
        pl + "list_plans",
        lambda p: p.add_argument("--name-contains", default=""),
    )

    def export_args(p: argparse.ArgumentParser) -> None:
        versioned(p)
        p.add_argument("--format", choices=("yaml", "json", "ikasan"), default="yaml")
        p.add_argument("--out", default="", help="ikasan: bundle directory or .zip to write")

    b.leaf(
        plan, "export", "print a plan as YAML, JSON or an Ikasan bundle", pl + "export", export_args
    )

    def delete_args(p: argparse.ArgumentParser) -> None:
        name(p)
        p.add_argument("--force", action="store_true", help="also end its live instances")

    b.leaf(plan, "delete", "delete a plan", pl + "delete", delete_args)
    b.leaf(plan, "enable", "enable a plan's time window", pl + "enable", name)
    b.leaf(plan, "disable", "disable a plan's time window", pl + "disable", name)

    def graph_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", nargs="?", help="plan name (or -f FILE)")
        p.add_argument("-f", "--file", help="read the plan from a file instead")
        p.add_argument("--format", choices=("dot", "mermaid"), default="dot")

    b.leaf(
        plan,
        "graph",
        "contexts, jobs and dependencies as Graphviz DOT or Mermaid",
        pl + "graph",
        graph_args,
    )

    def fires_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", nargs="?", help="plan name (or --cron)")
        p.add_argument("-n", "--count", type=int, default=5)
        p.add_argument("--job", default="", help="a cron job of the plan instead of its window")
        p.add_argument("--cron", help="a Quartz expression, computed locally")
        p.add_argument("--tz", default="UTC", help="zone of --cron (default UTC)")

    b.leaf(
        plan,
        "next-fires",
        "next fire times of a plan, a cron job, or --cron EXPR",
        pl + "next_fires",
        fires_args,
    )

    # ---- instances ------------------------------------------------------------------------
    ins = PKG + "commands_instance:"
    inst = b.group(sub, "instance", "plan instances")

    def list_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--plan", default="", help="only this plan")
        p.add_argument("--all", action="store_true", help="include ended and prepared")
        p.add_argument("--status", action="append", default=[], help="only these statuses")

    b.leaf(inst, "list", "list instances", ins + "list_instances", list_args)

    def ident(p: argparse.ArgumentParser) -> None:
        p.add_argument("instance", help="instance id, or a plan name (its newest instance)")

    b.leaf(inst, "get", "show an instance and its jobs", ins + "get", ident)

    def watch_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("instance", nargs="?", help="instance id or plan name (default: all)")
        p.add_argument(
            "--until-ended",
            action="store_true",
            help="stop once the instance is COMPLETE, ERROR or ENDED (exit 0 only for COMPLETE)",
        )
        p.add_argument("--for", type=float, dest="duration", help="stop after SECONDS")
        p.add_argument(
            "--after",
            type=int,
            default=0,
            metavar="POSITION",
            help="replay the changes after this change-log position (a change's "
            "`position` in -o json), then follow; 0: from now",
        )

    b.leaf(inst, "watch", "follow status changes as they happen", ins + "watch", watch_args)

    def create_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("plan", help="plan name")
        _params(p)
        p.add_argument("--hold", action="store_true", help="hold its command jobs")
        p.add_argument("--ignore-blackout", action="store_true")
        p.add_argument(
            "--request-id",
            metavar="KEY",
            default="",
            help="make the call safe to repeat: another create with the same KEY (same token, "
            "same plan) prints the instance the first made instead of creating one (default: a "
            "new key per command, kept across its own retries when the dashboard is out of reach)",
        )

    b.leaf(inst, "create", "create an instance now", ins + "create", create_args)

    def end_args(p: argparse.ArgumentParser) -> None:
        ident(p)
        p.add_argument("--keep-running-jobs", action="store_true")

    b.leaf(inst, "end", "end an instance", ins + "end", end_args)

    def reset_args(p: argparse.ArgumentParser) -> None:
        ident(p)
        _params(p)
        p.add_argument("--hold", action="store_true", help="hold its command jobs")
        p.add_argument("--same-parameters", action="store_true")

    b.leaf(inst, "reset", "reset an instance to its start", ins + "reset", reset_args)

    def until_args(p: argparse.ArgumentParser) -> None:
        ident(p)
        p.add_argument("--off", action="store_true", help="let it end on its own again")

    b.leaf(
        inst,
        "run-until-ended",
        "keep an instance running until ended by hand",
        ins + "run_until_ended",
        until_args,
    )
    verbs.add_instance_verbs(b, inst)

    # ---- jobs -----------------------------------------------------------------------------
    jb = PKG + "commands_job:"
    job = b.group(sub, "job", "job verbs")
    for verb, text in (
        ("hold", "hold a WAITING job (or --all: every waiting one)"),
        ("release", "release a held job; refused if it is not held (or --all: every held one)"),
        ("skip", "skip a WAITING job (or --all: every waiting one)"),
        ("unskip", "unskip a skipped job; refused if it is not skipped (or --all)"),
    ):
        b.leaf(job, verb, text, jb + "verb", _bulk_ref)
    for verb, text in (
        ("reset", "reset a job to WAITING"),
        (
            "resubmit",
            "Ikasan's resubmit: treat an ERROR job as if it had succeeded so its downstream "
            "jobs run; the job itself does not run and stays ERROR (to run it again: rerun)",
        ),
    ):
        b.leaf(job, verb, text, jb + "verb", _job_ref)
    verbs.add_job_verbs(b, job)

    def ack_args(p: argparse.ArgumentParser) -> None:
        _job_ref(p)
        p.add_argument("--message", default="", help="acknowledgement message")
        p.add_argument("--ticket", default="", help="ticket id")

    b.leaf(job, "ack", "acknowledge a job's error", jb + "verb", ack_args)

    def kill_args(p: argparse.ArgumentParser) -> None:
        _job_ref(p)
        p.add_argument("--destroy", action="store_true", help="SIGKILL at once")

    b.leaf(job, "kill", "kill a running job", jb + "verb", kill_args)

    def run_args(p: argparse.ArgumentParser) -> None:
        _job_ref(p)
        _params(p)

    b.leaf(job, "run", "run a job now (manual start)", jb + "verb", run_args)

    def logs_args(p: argparse.ArgumentParser) -> None:
        _job_ref(p)
        p.add_argument("--stderr", action="store_true", help="standard error instead of output")
        p.add_argument("--follow", action="store_true", help="keep printing as the job writes")
        p.add_argument("--initiation", default="", help="an earlier execution")

    b.leaf(job, "logs", "print a job's output", jb + "logs", logs_args)
    from ikasched_cli import query_args  # argparse only

    b.leaf(job, "list", "jobs across instances", jb + "list_jobs", query_args.job_list_args)
    b.leaf(sub, "audit", "the audit trail", PKG + "commands_audit:audit", query_args.audit_args)
    from ikasched_cli import commands_history as hist  # argparse at import, the RPC inside

    b.leaf(sub, "history", "ended job runs", PKG + "commands_history:history", hist.history_args)
    b.leaf(
        sub,
        "history-purge",
        "delete runs that ended before a time (admin)",
        PKG + "commands_history:history_purge",
        hist.purge_args,
    )
    b.leaf(
        sub,
        "history-stats",
        "per job: runs, failures, mean, p50 and p95 duration over its last runs",
        PKG + "commands_history:history_stats",
        hist.stats_args,
    )
    from ikasched_cli.commands_report import report_args  # argparse at import

    b.leaf(
        sub,
        "report",
        "per plan: runs, failures, slowest and longer-than-usual jobs",
        PKG + "commands_report:report",
        report_args,
    )

    # ---- admin ----------------------------------------------------------------------------
    parser_admin.add_event_and_queue_commands(b, sub)

    from ikasched_cli.calendar_sources import add_source_verbs
    from ikasched_cli.commands_calendar import add_calendar_verbs

    calendar = b.group(sub, "calendar", "named calendars: business days, holidays")
    add_calendar_verbs(b, calendar)
    add_source_verbs(b, calendar)

    from ikasched_cli.commands_notify import add_notify_verbs

    add_notify_verbs(b, b.group(sub, "notify", "notification rules and their webhook deliveries"))

    parser_admin.add_token_commands(b, sub)

    comp = b.leaf(
        sub,
        "completion",
        "print a shell completion script",
        PKG + "completion:completion",
        connection=False,
    )
    comp.add_argument("shell", choices=("bash",))
    return parser


def _run(target: str, args: argparse.Namespace) -> int:
    import importlib

    module_name, _, func = target.partition(":")
    handler: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(module_name), func
    )
    return handler(args)


def _agent_alias(argv: list[str]) -> list[str]:
    """`ikasched agent [--name a1 ...]`, the older spelling, is `ikasched agent run ...`."""
    if argv and argv[0] == "agent" and (len(argv) == 1 or argv[1] not in _AGENT_WORDS):
        return ["agent", "run", *argv[1:]]
    return argv


_AGENT_WORDS = ("run", "list", "get", "dry-run", "-h", "--help")


def main(argv: Sequence[str] | None = None) -> int:
    argv = _agent_alias(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    if not hasattr(args, "output"):
        args.output = "table"

    from ikasched_common.errors import CliError, IkaschedError

    try:
        return _run(args.run, args)
    except CliError as exc:
        print(f"ikasched: {exc}", file=sys.stderr)
        return exc.exit_code
    except IkaschedError as exc:
        print(f"ikasched: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
