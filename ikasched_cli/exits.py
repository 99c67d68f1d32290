"""Exit statuses and the error that ends a command with one line (kept import-light: every
command loads this module; both live in ikasched_common.errors)."""

from __future__ import annotations

from ikasched_common.errors import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, CliError

OK, FAILED, USAGE, UNREACHABLE = EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE

__all__ = ["FAILED", "OK", "UNREACHABLE", "USAGE", "CliError"]
