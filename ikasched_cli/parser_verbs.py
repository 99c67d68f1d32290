"""Parsers of the instance-wide, job and agent verbs beyond the everyday ones (dry run,
parameters, cron jobs, lock queues, kill all, missed runs, events that can run, rerun, an
agent's dry-run mode); main.build_parser adds them to its groups."""

from __future__ import annotations

import argparse
from typing import Any

OPS = "ikasched_cli.commands_ops:"


def _instance(p: argparse.ArgumentParser) -> None:
    p.add_argument("instance", help="instance id, or a plan name (its newest instance)")


def _comment(p: argparse.ArgumentParser) -> None:
    p.add_argument("--comment", default="", help="recorded in the audit trail")


def _job_ref(p: argparse.ArgumentParser) -> None:
    _instance(p)
    p.add_argument("job", help="job identifier, e.g. local-say-hello")
    p.add_argument("--child", default="", help="child context name (a job in several contexts)")


def add_instance_verbs(b: Any, inst: Any) -> None:
    def dry_run_args(p: argparse.ArgumentParser) -> None:
        _instance(p)
        p.add_argument("--off", action="store_true", help="run its jobs for real again")
        p.add_argument("--fixed", type=float, help="every simulated run takes SECONDS")
        p.add_argument("--min", type=float, help="simulated runs take at least SECONDS")
        p.add_argument("--max", type=float, help="simulated runs take at most SECONDS")
        p.add_argument("--error", action="store_true", help="every simulated run fails")
        p.add_argument(
            "--error-percent", type=float, default=0.0, help="share of simulated runs that fail"
        )

    b.leaf(
        inst,
        "dry-run",
        "simulate an instance's jobs (agents start no process), or --off",
        OPS + "dry_run",
        dry_run_args,
    )

    def params_args(p: argparse.ArgumentParser) -> None:
        _instance(p)
        p.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="new value of a declared parameter (repeatable)",
        )

    b.leaf(
        inst,
        "set-params",
        "change an instance's parameters (used by jobs raised from then on)",
        OPS + "set_params",
        params_args,
    )
    for name, text in (
        ("disable-cron", "disable an instance's cron and file jobs (their events are ignored)"),
        ("enable-cron", "enable an instance's cron and file jobs again"),
        (
            "release-queued",
            "send every lock-queued job of an instance without its lock (they run now) and "
            "give back locks its running jobs hold: the way out of a stuck lock",
        ),
        ("kill-running", "kill every running job of an instance"),
    ):

        def verb_args(p: argparse.ArgumentParser) -> None:
            _instance(p)
            _comment(p)

        b.leaf(inst, name, text, OPS + "instance_verb", verb_args)
    b.leaf(
        inst,
        "missed-runs",
        "instances the dashboard did not create on time (downtime, misfire), newest first",
        OPS + "missed_runs",
        lambda p: p.add_argument("--plan", default="", help="only this plan"),
    )


def add_job_verbs(b: Any, job: Any) -> None:
    def rerun_args(p: argparse.ArgumentParser) -> None:
        _job_ref(p)
        _comment(p)
        p.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="context parameter (repeatable)",
        )

    b.leaf(
        job,
        "rerun",
        "run a job again: reset it to WAITING (flags cleared), then run it now",
        OPS + "rerun",
        rerun_args,
    )
    b.leaf(
        job,
        "can-run",
        "which jobs a successful end of this job would raise now (changes nothing)",
        OPS + "can_run",
        _job_ref,
    )


def add_agent_verbs(b: Any, agent: Any) -> None:
    def dry_run_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="agent name")
        p.add_argument("--off", action="store_true", help="agent-wide dry run off")
        p.add_argument(
            "--job",
            action="append",
            default=[],
            metavar="JOB=on|off",
            help="switch one job by name (repeatable)",
        )
        p.add_argument(
            "--file",
            action="append",
            default=[],
            metavar="PATH",
            help="a file dry-run file watchers treat as arrived (repeatable)",
        )

    b.leaf(
        agent,
        "dry-run",
        "set an agent's dry-run mode (replaces it; queued until the agent connects)",
        OPS + "agent_dry_run",
        dry_run_args,
    )
    b.leaf(
        agent,
        "get",
        "show one agent: presence, outbox, load, plans",
        OPS + "agent_get",
        lambda p: p.add_argument("name", help="agent name"),
    )


def _import_ikasan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="an Ikasan context JSON, a bundle directory or a bundle zip")
    p.add_argument(
        "--agent-map",
        action="append",
        default=[],
        metavar="IKASAN_AGENT=AGENT",
        help="rename an Ikasan agent (repeatable)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run", action="store_true", help="convert and report only, here (the default)"
    )
    mode.add_argument("--apply", action="store_true", help="provision the plans on the dashboard")
    p.add_argument("--strict", action="store_true", help="fail on any dropped or changed field")


def add_plan_verbs(b: Any, plan: Any) -> None:
    b.leaf(
        plan,
        "import-ikasan",
        "convert Ikasan plans (a context JSON, bundle directory or zip) with a migration report",
        "ikasched_cli.commands_ikasan:import_ikasan",
        _import_ikasan_args,
    )
    b.leaf(
        plan,
        "check",
        "validate plan files on the dashboard (as `plan apply` would), changing nothing",
        OPS + "plan_check",
        lambda p: p.add_argument(
            "-f", "--file", required=True, action="append", help="plan file or directory"
        ),
    )
