"""Job execution logs for the dashboard, and housekeeping of old run directories.

Serving (the link's non-journaled lane, docs/architecture.md §4.3)::

    server = LogServer(runs_dir, send_chunk)   # runs_dir = <data_dir>/runs
    server.request(log_request)                # start serving it in a task (returns at once)
    server.cancel(log_cancel)                  # stop it; no further chunk is sent
    await server.serve(log_request)            # or serve inline, returning when done
    await server.aclose()                      # cancel every transfer

``send_chunk`` is an async callback taking a LogChunk; the agent puts it on the lane and
returns when the lane accepts more, which is the transfer's backpressure. A request reads the
run's ``out.log`` (STDOUT, the default) or ``err.log`` from ``offset`` in chunks of at most
``chunk_size`` bytes (64 KiB), one chunk in memory at a time. Without ``follow`` the chunk that
reaches the end of the file (or ``max_bytes``) carries ``eof``. With ``follow`` the server
tails the file until the run's ``rc`` record exists and everything before it was read, then
sends an empty ``eof`` chunk. An unknown initiation (or a bad request) gets one chunk with
``error`` set and ``eof``.

Housekeeping (Ikasan's log housekeeping flow: cron ``20 20 03 * * ?``, 25 days)::

    result = housekeep(runs_dir, now, max_age_days, archive_dir=None)   # blocking, direct
    keeper = LogHousekeeper(runs_dir, clock, max_age_days=25, archive_dir=None)
    await keeper.start() / await keeper.aclose() / await keeper.run_once()

Only finished runs are touched: ``rc`` present and the completion ``reported``; their age is
the time since the later of the two. They are deleted, or moved under ``archive_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ikasched.v1 import agent_pb2
from ikasched_agent.runs import RunPaths, read_rc, safe_dir_name
from ikasched_common.clock import Clock
from ikasched_common.errors import InvalidArgument
from ikasched_common.quartz import CronTrigger

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_HOUSEKEEPING_CRON",
    "DEFAULT_MAX_AGE_DAYS",
    "HousekeepingResult",
    "LogHousekeeper",
    "LogServer",
    "SendChunk",
    "housekeep",
]

log = logging.getLogger(__name__)

LogChunk = agent_pb2.LogChunk
LogRequest = agent_pb2.LogRequest
SendChunk = Callable[[LogChunk], Awaitable[None]]

DEFAULT_CHUNK_SIZE = 64 * 1024
#: How often a followed log is re-read while the job runs.
DEFAULT_FOLLOW_POLL_SECONDS = 0.2
DEFAULT_HOUSEKEEPING_CRON = "20 20 03 * * ?"
DEFAULT_MAX_AGE_DAYS = 25.0
#: The housekeeping loop re-reads the clock at least this often.
MAX_SLEEP_SECONDS = 60.0


class LogServer:
    """Serves LogRequests for the run directories under ``runs_dir``."""

    def __init__(
        self,
        runs_dir: Path | str,
        send_chunk: SendChunk,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        follow_poll_seconds: float = DEFAULT_FOLLOW_POLL_SECONDS,
    ) -> None:
        if chunk_size < 1:
            raise InvalidArgument("must be 1 or more", field="chunk_size")
        self.runs_dir = Path(runs_dir)
        self.chunk_size = chunk_size
        self.follow_poll_seconds = follow_poll_seconds
        self._send = send_chunk
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def active(self) -> list[str]:
        """Request ids being served."""
        return sorted(self._tasks)

    def request(self, req: LogRequest) -> asyncio.Task[None]:
        """Serve ``req`` in a task; a running transfer with the same request id is replaced."""
        self._cancel(req.request_id)
        task = asyncio.get_running_loop().create_task(
            self._guarded(req), name=f"log-{req.request_id}"
        )
        self._tasks[req.request_id] = task
        task.add_done_callback(lambda t: self._forget(req.request_id, t))
        return task

    def cancel(self, cancel: agent_pb2.LogCancel) -> bool:
        """Stop a transfer; False if it was not running."""
        return self._cancel(cancel.request_id)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _cancel(self, request_id: str) -> bool:
        task = self._tasks.pop(request_id, None)
        if task is None:
            return False
        task.cancel()
        return True

    def _forget(self, request_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(request_id) is task:
            del self._tasks[request_id]

    async def _guarded(self, req: LogRequest) -> None:
        try:
            await self.serve(req)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("log transfer %s for %s failed", req.request_id, req.initiation_id)

    async def _error(self, req: LogRequest, message: str) -> None:
        await self._send(
            LogChunk(request_id=req.request_id, offset=req.offset, eof=True, error=message)
        )

    async def serve(self, req: LogRequest) -> None:
        """Send the requested log as chunks; returns after the eof chunk (or an error chunk)."""
        try:
            paths = RunPaths(self.runs_dir / safe_dir_name(req.initiation_id))
        except ValueError:
            await self._error(req, f"no such execution {req.initiation_id!r}")
            return
        if req.offset < 0 or req.max_bytes < 0:
            await self._error(req, "offset and max_bytes must not be negative")
            return
        if not await asyncio.to_thread(paths.root.is_dir):
            await self._error(req, f"no such execution {req.initiation_id!r}")
            return
        path = paths.err_log if req.stream == agent_pb2.STDERR else paths.out_log
        await self._transfer(req, paths, path)

    async def _transfer(self, req: LogRequest, paths: RunPaths, path: Path) -> None:
        offset = req.offset
        remaining = req.max_bytes if req.max_bytes > 0 else None
        ended = not req.follow
        fd: int | None = None
        try:
            while True:
                if fd is None:
                    with contextlib.suppress(FileNotFoundError):
                        fd = await asyncio.to_thread(os.open, path, os.O_RDONLY | os.O_CLOEXEC)
                data = b""
                size = 0
                if fd is not None:
                    want = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
                    data, size = await asyncio.to_thread(_read_at, fd, want, offset)
                if data:
                    start = offset
                    offset += len(data)
                    if remaining is not None:
                        remaining -= len(data)
                    last = remaining == 0 or (not req.follow and offset >= size)
                    await self._send(
                        LogChunk(request_id=req.request_id, offset=start, data=data, eof=last)
                    )
                    if last:
                        return
                    continue
                if ended:
                    await self._send(LogChunk(request_id=req.request_id, offset=offset, eof=True))
                    return
                if await asyncio.to_thread(read_rc, paths) is not None:
                    # The job has ended: whatever it wrote before its rc record is visible to
                    # the next read, after which an empty read is the end.
                    ended = True
                    continue
                await asyncio.sleep(self.follow_poll_seconds)
        finally:
            if fd is not None:
                os.close(fd)


def _read_at(fd: int, size: int, offset: int) -> tuple[bytes, int]:
    """Up to ``size`` bytes at ``offset``, and the file's size after the read."""
    data = os.pread(fd, size, offset)
    return data, os.fstat(fd).st_size


# --------------------------------------------------------------------------- housekeeping


@dataclass(frozen=True, slots=True)
class HousekeepingResult:
    """What one housekeeping pass did (run directory names)."""

    removed: tuple[str, ...] = ()
    archived: tuple[str, ...] = ()
    kept: int = 0


def _finished_at(paths: RunPaths) -> float | None:
    """Epoch seconds at which the run was finished and reported, or None if it is not."""
    try:
        times = (paths.rc.stat().st_mtime, paths.reported.stat().st_mtime)
    except FileNotFoundError:
        return None
    return max(times) if read_rc(paths) is not None else None


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    n = 1
    while target.exists():
        target = directory / f"{name}.{n}"
        n += 1
    return target


def housekeep(
    runs_dir: Path | str,
    now: datetime,
    max_age_days: float,
    *,
    archive_dir: Path | str | None = None,
) -> HousekeepingResult:
    """Delete (or archive) finished, reported runs older than ``max_age_days``; blocking."""
    if max_age_days < 0:
        raise InvalidArgument("must not be negative", field="max_age_days")
    cutoff = (now - timedelta(days=max_age_days)).timestamp()
    archive = Path(archive_dir) if archive_dir is not None else None
    removed: list[str] = []
    archived: list[str] = []
    kept = 0
    try:
        entries = sorted(os.scandir(runs_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return HousekeepingResult()
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        paths = RunPaths(Path(entry.path))
        finished = _finished_at(paths)
        if finished is None or finished > cutoff:
            kept += 1
            continue
        try:
            if archive is not None:
                archive.mkdir(parents=True, exist_ok=True)
                shutil.move(entry.path, _free_name(archive, entry.name))
                archived.append(entry.name)
            else:
                shutil.rmtree(entry.path)
                removed.append(entry.name)
        except OSError as exc:
            log.warning("housekeeping could not clear run %s: %s", entry.path, exc)
            kept += 1
    return HousekeepingResult(tuple(removed), tuple(archived), kept)


class LogHousekeeper:
    """Runs ``housekeep`` on a Quartz cron (Ikasan's default: daily at 03:20:20)."""

    def __init__(
        self,
        runs_dir: Path | str,
        clock: Clock,
        *,
        max_age_days: float = DEFAULT_MAX_AGE_DAYS,
        cron: str = DEFAULT_HOUSEKEEPING_CRON,
        timezone: str = "UTC",
        archive_dir: Path | str | None = None,
        on_result: Callable[[HousekeepingResult], None] | None = None,
        max_sleep_seconds: float = MAX_SLEEP_SECONDS,
    ) -> None:
        if max_age_days < 0:
            raise InvalidArgument("must not be negative", field="max_age_days")
        self.runs_dir = Path(runs_dir)
        self.clock = clock
        self.max_age_days = max_age_days
        self.trigger = CronTrigger(cron, timezone)
        self.archive_dir = Path(archive_dir) if archive_dir is not None else None
        self._on_result = on_result
        self._max_sleep = max_sleep_seconds
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> HousekeepingResult:
        result = await asyncio.to_thread(
            housekeep,
            self.runs_dir,
            self.clock.now(),
            self.max_age_days,
            archive_dir=self.archive_dir,
        )
        if result.removed or result.archived:
            log.info(
                "housekeeping: %d run(s) removed, %d archived, %d kept",
                len(result.removed),
                len(result.archived),
                result.kept,
            )
        if self._on_result is not None:
            self._on_result(result)
        return result

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="housekeeping")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        due = self.trigger.next_fire_time(self.clock.now())
        while due is not None:
            wait = (due - self.clock.now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(min(wait, self._max_sleep))
                continue
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed")
            due = self.trigger.next_fire_time(max(due, self.clock.now()))
