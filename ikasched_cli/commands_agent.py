"""`ikasched agent run --name a1 --dashboard 127.0.0.1:50051`: run one agent on this host.

Settings: flags > IKASCHED_* environment > [agent] of a TOML file > defaults (AgentConfig).
SIGTERM or SIGINT stops it gracefully (running jobs keep running, detached); exit status 0.
`ikasched agent --name a1 ...` (without `run`) is the older spelling of the same command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

DESCRIPTION = "Run an ikasched agent on this host."

# flags that map one to one onto AgentConfig fields (dest == field name)
_CONFIG_FLAGS = (
    "name",
    "dashboard",
    "data_dir",
    "max_concurrent_jobs",
    "default_timeout_seconds",
    "kill_grace_seconds",
    "log_retention_days",
    "log_archive_dir",
    "journal_durability",
    "token",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
    "log_level",
    "log_format",
)


def run_args(p: argparse.ArgumentParser) -> None:
    """The flags of `ikasched agent run`."""
    p.add_argument("--name", help="agent name (must match the agent token)")
    p.add_argument(
        "--dashboard",
        help="dashboard HOST:PORT, or several comma-separated (dashboards sharing PostgreSQL;"
        " default 127.0.0.1:50051)",
    )
    p.add_argument("--data-dir", help="journals, run directories and logs")
    p.add_argument("--max-concurrent-jobs", type=int, help="command jobs at once (0 = no limit)")
    p.add_argument("--default-timeout-seconds", type=int, help="timeout of jobs without their own")
    p.add_argument("--kill-grace-seconds", type=int, help="TERM-to-KILL grace of a stopped job")
    p.add_argument("--log-retention-days", type=int, help="days job logs are kept (0 = forever)")
    p.add_argument(
        "--log-archive-dir", help="move job logs past their retention here instead of deleting"
    )
    p.add_argument("--journal-durability", choices=("crash", "power"))
    p.add_argument("--token", help="agent token (sent as 'authorization: Bearer ...')")
    p.add_argument("--tls-ca-file", help="CA bundle that signed the dashboard's certificate")
    p.add_argument("--tls-cert-file", help="client certificate (mutual TLS)")
    p.add_argument("--tls-key-file", help="client key (mutual TLS)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    p.add_argument("--log-format", choices=("text", "json"))
    p.add_argument("--config", type=Path, help="TOML file with an [agent] table")
    # test hooks, not for operators
    p.add_argument("--fast-reconnect", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--status-interval", type=float, default=5.0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Load the agent's settings, then run it until SIGTERM or SIGINT."""
    from ikasched_common.config import AgentConfig, load_config
    from ikasched_common.errors import IkaschedError

    flags = {name: getattr(args, name) for name in _CONFIG_FLAGS}
    try:
        config = load_config(AgentConfig, section="agent", flags=flags, file=args.config)
    except IkaschedError as exc:
        print(f"ikasched agent: {exc}", file=sys.stderr)
        return 2

    from ikasched_common.logging import configure_logging

    configure_logging(config.log_level, config.log_format)

    from ikasched_agent.agent import AgentOptions, default_options, run_agent
    from ikasched_common.link import Backoff

    base = default_options(config)
    options = AgentOptions(
        link_settings=base.link_settings,
        backoff=Backoff(initial=0.01, maximum=0.2) if args.fast_reconnect else base.backoff,
        status_interval=args.status_interval,
        trigger_factory=base.trigger_factory,
        log_factory=base.log_factory,
        housekeeper_factory=base.housekeeper_factory,
    )
    try:
        return run_agent(config, options=options)
    except IkaschedError as exc:
        # the agent's own log, not the CLI's one-line error: the agent ran and failed
        logging.getLogger("ikasched_agent").error("agent failed: %s", exc)
        return 1
