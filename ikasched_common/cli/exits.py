"""Exit statuses and the error that ends a command with one line (kept import-light: every
command loads this module)."""

from __future__ import annotations

OK, FAILED, USAGE, UNREACHABLE = 0, 1, 2, 3


class CliError(Exception):
    """Ends a command with one line on stderr and `exit_code`."""

    def __init__(self, message: str, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code
