"""The arguments of the commands that run processes: `dashboard`, `db`, `token bootstrap`,
`agent run`, `web` and `up` (main.build_parser wires them). Imports stay inside the functions
(the CLI's start-up rule)."""

from __future__ import annotations

import argparse


def dashboard_args(p: argparse.ArgumentParser) -> None:
    import dataclasses

    from ikasched_common.config import DashboardConfig

    for f in dataclasses.fields(DashboardConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            p.add_argument(flag, action="store_const", const=True, default=None)
        else:
            p.add_argument(flag, default=None, help=f"(default {f.default})")
    p.add_argument("--config", help="TOML file with a [dashboard] table")
    p.add_argument("--port-file", help=argparse.SUPPRESS)


def db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in --data-dir)")
    p.add_argument("--data-dir", help="dashboard data dir (default ikasched-data)")
    p.add_argument("--config", help="TOML file with a [dashboard] table")


def bootstrap_args(p: argparse.ArgumentParser) -> None:
    db_args(p)
    p.add_argument("--file", help="where to write it (default <data dir>/admin.token)")
    p.add_argument("--force", action="store_true", help="even when the store holds tokens")


def agent_run_args(p: argparse.ArgumentParser) -> None:
    from ikasched_cli.commands_agent import run_args

    run_args(p)


def web_args(p: argparse.ArgumentParser) -> None:
    from ikasched_cli.commands_web import web_args

    web_args(p)


def up_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default="ikasched-data", help="state kept between runs")
    p.add_argument("--listen", default="127.0.0.1:50051", help="dashboard address")
    p.add_argument("--web-listen", default="127.0.0.1:8080", help="web console address")
    p.add_argument("--no-web", action="store_true", help="do not start the web console")
    p.add_argument("--examples", help="plan directory to provision (default: examples/)")
    p.add_argument(
        "--exit-when-complete",
        action="store_true",
        help="exit 0 once the hello instance is COMPLETE (non-zero on ERROR)",
    )
    p.add_argument(
        "--timeout", type=float, default=120.0, help="seconds --exit-when-complete waits"
    )
