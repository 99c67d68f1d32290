"""Process commands: version, dashboard, db upgrade (the agent: commands_agent)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ikasched_common.config import DashboardConfig

# `version` must start fast: everything else is imported by the commands that need it.


def version(args: argparse.Namespace) -> int:
    from ikasched_common import __version__

    print(f"ikasched {__version__}")
    return 0


def _setup_logging(level: str, fmt: str) -> None:
    from ikasched_common.logging import configure_logging

    configure_logging(level, "json" if fmt == "json" else "text")


def _dashboard_config(args: argparse.Namespace, flags: dict[str, Any]) -> DashboardConfig:
    """The dashboard's settings from flags, environment and file; a bad one is a usage error."""
    from ikasched_cli.exits import USAGE
    from ikasched_common.config import DashboardConfig, load_config
    from ikasched_common.errors import CliError, IkaschedError

    try:
        return load_config(
            DashboardConfig,
            section="dashboard",
            flags=flags,
            file=Path(args.config) if args.config else None,
        )
    except IkaschedError as exc:
        raise CliError(" ".join(str(exc).split()), USAGE) from None


def dashboard(args: argparse.Namespace) -> int:
    import dataclasses

    from ikasched_common.config import DashboardConfig
    from ikasched_common.errors import CliError

    flags = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(DashboardConfig)}
    config = _dashboard_config(args, flags)
    _setup_logging(config.log_level, config.log_format)
    import asyncio

    from ikasched_cli.serve import serve

    try:
        asyncio.run(serve(config, port_file=Path(args.port_file) if args.port_file else None))
    except OSError as exc:  # e.g. the listen address is taken
        raise CliError(f"dashboard: {exc}") from None
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    from ikasched_common.errors import CliError

    config = _dashboard_config(args, {"database_url": args.database_url, "data_dir": args.data_dir})
    from ikasched_dashboard.store import db

    url = config.effective_database_url
    if not config.database_url:
        Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    try:
        revision = db.upgrade(url)
    except Exception as exc:  # a driver or connection error: one line, not a traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CliError(f"database upgrade failed: {first}") from None
    print(f"database at revision {revision}", file=sys.stdout)
    return 0


def token_bootstrap(args: argparse.Namespace) -> int:
    """`ikasched token bootstrap`: an admin token made offline, straight in the store."""
    from ikasched_common.errors import CliError

    config = _dashboard_config(args, {"database_url": args.database_url, "data_dir": args.data_dir})
    from ikasched_dashboard.services.tokens import BOOTSTRAP_TOKEN_FILE, new_bootstrap_token
    from ikasched_dashboard.store import db

    data_dir = Path(config.data_dir)
    target = Path(args.file) if args.file else data_dir / BOOTSTRAP_TOKEN_FILE
    if not config.database_url:
        data_dir.mkdir(parents=True, exist_ok=True)
    try:
        db.upgrade(config.effective_database_url)
        engine = db.create_engine_for(config.effective_database_url)
    except Exception as exc:  # a driver or connection error: one line, not a traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CliError(f"cannot open the token store: {first}") from None
    try:
        made = new_bootstrap_token(engine, target, force=args.force)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        engine.dispose()
    print(f"admin token {made.token_id} written to {made.path} (mode 0600)")
    print(f"use it with: ikasched --token-file {made.path} token create ...")
    return 0


def cluster_status(args: argparse.Namespace) -> int:
    """The lease and the roll of dashboards, read from the database (docs/architecture.md §12)."""
    from ikasched_common.errors import CliError

    config = _dashboard_config(args, {"database_url": args.database_url, "data_dir": args.data_dir})
    from ikasched_dashboard.data_lock import sqlite_file
    from ikasched_dashboard.leadership import lease_status
    from ikasched_dashboard.store import db

    url = config.effective_database_url
    if sqlite_file(url) is not None:
        raise CliError("cluster status: SQLite runs one dashboard; pass a PostgreSQL URL")
    engine = db.create_engine_for(url)
    try:
        lease, nodes = lease_status(engine)
    except Exception as exc:  # a driver error or a database without the lease table
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CliError(f"cluster status: {first}") from None
    finally:
        engine.dispose()
    if lease is None:
        print("active: none (no dashboard has held the lease)")
    else:
        state = "held" if lease.expires_in_s > 0 else "EXPIRED"
        print(
            f"active: {lease.holder} at {lease.address} epoch {lease.epoch}"
            f" lease {state} (age {lease.age_s:.1f}s, expires in {lease.expires_in_s:.1f}s)"
        )
    for node in nodes:
        if lease is not None and node.holder == lease.holder:
            continue
        seen = f"seen {node.seen_s:.1f}s ago"
        print(f"standby: {node.holder} at {node.address} pid {node.pid} {seen}")
    return 0
