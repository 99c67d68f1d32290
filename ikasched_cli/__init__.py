"""The `ikasched` command (console script `ikasched_cli:main`).

Only argparse is imported at start-up; each command imports grpc, protobuf and the dashboard or
agent code it needs when it runs, so every command starts fast (docs/architecture.md §8).
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from ikasched_cli.main import main as run

    return run(argv)


__all__ = ["main"]
