"""The `ikasched` command. Subcommands import their modules lazily so start-up stays fast."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from ikasched_common import __version__

    parser = argparse.ArgumentParser(
        prog="ikasched",
        description="ikasched: an enterprise job scheduler (dashboard, agents, operator CLI).",
    )
    parser.add_argument("--version", action="version", version=f"ikasched {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    print(f"ikasched: unknown command {args.command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
