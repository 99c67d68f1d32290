"""Private data files: every file the dashboard and the agent create is 0600, every directory
0700 (docs/architecture.md §7.5). Journals, databases, run directories, logs, token and key
files are all created under the process umask `PRIVATE_UMASK`, and data directories made by
hand are chmod-ed as well. Job processes get the umask the process started with back (the
agent passes it in `JOB_UMASK_ENV`), so what a job writes is the job's business."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
#: Environment variable the job wrapper reads to restore the job's umask (octal text).
JOB_UMASK_ENV = "IKASCHED_JOB_UMASK"

_started_with: int | None = None


def private_files() -> int:
    """Make every file this process creates from now on private; returns the umask the
    process had before the first call (what job processes get back)."""
    global _started_with
    before = os.umask(PRIVATE_UMASK)
    if _started_with is None:
        _started_with = before
    return _started_with


def started_umask() -> int:
    """The umask before `private_files` (the current one if it was never called)."""
    if _started_with is not None:
        return _started_with
    current = os.umask(PRIVATE_UMASK)
    os.umask(current)
    return current


def private_dir(path: str | os.PathLike[str]) -> Path:
    """`path` as a directory only its owner may enter (created with its parents if missing)."""
    target = Path(path)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    return target
