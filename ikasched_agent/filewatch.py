"""File-arrival detection for file-watcher jobs: what to look for, scanning, stability, moving,
and the watchdog (inotify) edge that asks for an early scan.

The TriggerHost (triggers.py) owns the schedule and the events; this module gives it:

- ``FileSpec`` / ``resolve_spec(job, parameters)``: the job's directory, glob patterns, depth,
  minimum age, move directory and sort order, with ``replacement_pairs`` tokens replaced by
  instance parameter values;
- ``scan(spec) -> list[FileSeen]``: blocking directory walk (run it off the loop);
- ``StabilityTracker``: a file counts once its (size, mtime) key was seen unchanged in two
  observations at least ``min_file_age_seconds`` apart; each key is reported once (the host
  persists reported keys per instance, so a restart does not report a file again);
- ``order(files, spec)``: name order, or modification time when the job asks for it;
- ``move_file(path, directory)``: atomic rename, copy-then-rename across filesystems, never
  overwriting a file already in the target directory;
- ``DirectoryWatcher``: one watchdog observer; ``watch(directory, recursive, on_change)``
  returns a handle, ``unwatch(handle)``; ``on_change`` runs on the event loop.

Depth: 0 or 1 scans only ``file_path``; n scans ``file_path`` and n-1 levels of subdirectories.
Patterns are globs matched against the file's name, case-sensitively.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from ikasched.v1 import plan_pb2

__all__ = [
    "DirectoryWatcher",
    "FileSeen",
    "FileSpec",
    "StabilityTracker",
    "move_file",
    "order",
    "resolve_spec",
    "scan",
]

log = logging.getLogger(__name__)

#: Upper bound on files looked at per scan, so a runaway directory cannot stall the agent.
MAX_FILES_PER_SCAN = 100_000


@dataclass(frozen=True, slots=True)
class FileSpec:
    """Where and what a file-watcher job looks for, tokens already replaced."""

    directory: Path
    patterns: tuple[str, ...]
    depth: int = 1
    min_age: timedelta = timedelta(0)
    move_directory: Path | None = None
    sort_by_mtime: bool = False
    sort_ascending: bool = False


@dataclass(frozen=True, slots=True)
class FileSeen:
    """One matching file as observed by a scan."""

    path: str
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        # A file rewritten in place (new size or mtime) is a new arrival.
        return f"{self.path}|{self.size}|{self.mtime_ns}"


def _replace(text: str, replacements: Mapping[str, str]) -> str:
    for token, value in replacements.items():
        if token:
            text = text.replace(token, value)
    return text


def resolve_spec(job: plan_pb2.FileEventDrivenJob, parameters: Mapping[str, str]) -> FileSpec:
    """The job's FileSpec with replacement tokens taken from the instance's parameters.

    A token whose parameter the instance does not have stays as written.
    """
    replacements = {
        pair.replacement_token: parameters[pair.job_plan_parameter_name]
        for pair in job.replacement_pairs
        if pair.job_plan_parameter_name in parameters
    }
    move = _replace(job.move_directory, replacements)
    return FileSpec(
        directory=Path(_replace(job.file_path, replacements)),
        patterns=tuple(_replace(p, replacements) for p in job.filenames) or ("*",),
        depth=max(1, job.directory_depth),
        min_age=timedelta(seconds=max(0, job.min_file_age_seconds)),
        move_directory=Path(move) if move else None,
        sort_by_mtime=job.sort_by_modified_date_time,
        sort_ascending=job.sort_ascending,
    )


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def scan(spec: FileSpec) -> list[FileSeen]:
    """Regular files under ``spec.directory`` (to its depth) whose names match; blocking."""
    found: list[FileSeen] = []
    level: list[tuple[Path, int]] = [(spec.directory, 1)]
    while level and len(found) < MAX_FILES_PER_SCAN:
        directory, depth = level.pop()
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < spec.depth:
                        level.append((Path(entry.path), depth + 1))
                    continue
                if not entry.is_file() or not _matches(entry.name, spec.patterns):
                    continue
                st = entry.stat()
            except FileNotFoundError:  # gone between listing and stat
                continue
            found.append(FileSeen(entry.path, st.st_size, st.st_mtime_ns))
    return found


def order(files: Iterable[FileSeen], spec: FileSpec) -> list[FileSeen]:
    """Report order: by path, or by modification time (newest first unless ascending)."""
    if spec.sort_by_mtime:
        return sorted(files, key=lambda f: (f.mtime_ns, f.path), reverse=not spec.sort_ascending)
    return sorted(files, key=lambda f: f.path)


@dataclass(slots=True)
class _Pending:
    seen: FileSeen
    since: datetime


@dataclass(slots=True)
class StabilityTracker:
    """Decides when observed files count as arrived, and remembers what was reported."""

    min_age: timedelta
    reported: set[str] = field(default_factory=set)
    _pending: dict[str, _Pending] = field(default_factory=dict)

    def observe(self, files: Iterable[FileSeen], now: datetime) -> list[FileSeen]:
        """Files that became stable at ``now``; they are not returned again once reported."""
        stable: list[FileSeen] = []
        present: set[str] = set()
        for f in files:
            present.add(f.path)
            if f.key in self.reported:
                self._pending.pop(f.path, None)
                continue
            pending = self._pending.get(f.path)
            if pending is None or pending.seen != f:
                if self.min_age <= timedelta(0):
                    stable.append(f)
                else:
                    self._pending[f.path] = _Pending(f, now)
                continue
            if now - pending.since >= self.min_age:
                stable.append(f)
        for path in [p for p in self._pending if p not in present]:
            del self._pending[path]  # vanished (moved away or deleted) before it settled
        return stable

    def mark_reported(self, files: Iterable[FileSeen]) -> None:
        for f in files:
            self.reported.add(f.key)
            self._pending.pop(f.path, None)

    def recheck_at(self) -> datetime | None:
        """When the earliest pending file could become stable."""
        if not self._pending:
            return None
        return min(p.since for p in self._pending.values()) + self.min_age

    @property
    def pending_paths(self) -> list[str]:
        return sorted(self._pending)


def _free_target(directory: Path, name: str) -> Path:
    target = directory / name
    n = 1
    while target.exists():
        target = directory / f"{name}.{n}"
        n += 1
    return target


def move_file(path: str, directory: Path) -> Path:
    """Move ``path`` into ``directory`` without replacing an existing file; the new path."""
    directory.mkdir(parents=True, exist_ok=True)
    target = _free_target(directory, os.path.basename(path))
    try:
        os.rename(path, target)  # atomic within one filesystem
        return target
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another filesystem
            raise
    # Copy under a hidden name, then rename, so a reader never sees a partial target.
    tmp = directory / f".{target.name}.moving"
    shutil.copy2(path, tmp)
    os.rename(tmp, target)
    os.unlink(path)
    return target


# --------------------------------------------------------------------------- watchdog edge


class _Forward(FileSystemEventHandler):
    def __init__(self, notify: Callable[[], None]) -> None:
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads do not change what a scan would find
        self._notify()


@dataclass(frozen=True, slots=True)
class WatchHandle:
    """A directory watch registered with the DirectoryWatcher."""

    directory: str
    recursive: bool
    token: int


class DirectoryWatcher:
    """inotify watches (through watchdog) that call back on the event loop when a directory
    changes. Best effort: a directory that does not exist (yet) is simply not watched, and the
    caller's polling still finds its files. Several watches of one directory share one inotify
    watch (watchdog keys its watches by path), counted here."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._observer: BaseObserver | None = None
        self._shared: dict[tuple[str, bool], tuple[ObservedWatch, dict[int, Callable[[], None]]]]
        self._shared = {}
        self._next = 0

    def _ensure_observer(self) -> BaseObserver:
        if self._observer is None:
            observer = Observer()
            observer.daemon = True
            observer.start()
            self._observer = observer
        return self._observer

    def _dispatch(self, key: tuple[str, bool]) -> None:
        entry = self._shared.get(key)
        if entry is not None:
            for callback in list(entry[1].values()):
                callback()

    def watch(
        self, directory: Path, recursive: bool, on_change: Callable[[], None]
    ) -> WatchHandle | None:
        """Watch ``directory``; None when it cannot be watched now (e.g. it does not exist)."""
        key = (str(directory), recursive)
        entry = self._shared.get(key)
        if entry is None:
            if not directory.is_dir():
                return None
            loop = self._loop

            def notify() -> None:
                with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                    loop.call_soon_threadsafe(self._dispatch, key)

            try:
                observed = self._ensure_observer().schedule(
                    _Forward(notify), str(directory), recursive=recursive
                )
            except OSError as exc:  # e.g. inotify watch limit reached
                log.warning("cannot watch %s (%s); relying on polling", directory, exc)
                return None
            entry = (observed, {})
            self._shared[key] = entry
        self._next += 1
        entry[1][self._next] = on_change
        return WatchHandle(key[0], recursive, self._next)

    def unwatch(self, handle: WatchHandle) -> None:
        key = (handle.directory, handle.recursive)
        entry = self._shared.get(key)
        if entry is None:
            return
        entry[1].pop(handle.token, None)
        if not entry[1]:
            del self._shared[key]
            if self._observer is not None:
                with contextlib.suppress(KeyError, OSError):
                    self._observer.unschedule(entry[0])

    def close(self) -> None:
        """Stop the observer thread (blocking briefly while it joins)."""
        observer, self._observer = self._observer, None
        self._shared.clear()
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
