"""One dashboard per data directory, per SQLite file and per port (docs/architecture.md §1.7).

Two dashboards over the same data directory would both consume the one inbox journal and both
write the store: every rule of the single consumer breaks. `DataLock` takes an exclusive
`flock` on `dashboard.lock` in the data directory (and on `<file>.lock` beside a SQLite file
kept elsewhere) for as long as the dashboard runs, and writes the holder's pid into it; a second
dashboard fails at start with a message naming the directory and that pid. The kernel drops the
lock when the process dies, so a crashed dashboard never leaves a stale lock behind.

The gRPC server binds without SO_REUSEPORT (`grpc.so_reuseport` 0), so a second dashboard
cannot share a port with the first; `check_port_free` finds that out before anything else
starts, so the refusal is one message naming the port.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

from sqlalchemy.engine import make_url

from ikasched_common.errors import FailedPrecondition, Unavailable

LOCK_NAME = "dashboard.lock"


class DataLock:
    """The exclusive locks of one dashboard: `acquire()` at start, `release()` at stop."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self._targets: list[tuple[Path, str]] = [(data_dir / LOCK_NAME, f"data dir {data_dir}")]
        db_file = sqlite_file(database_url)
        if db_file is not None and db_file.parent.resolve() != data_dir.resolve():
            self._targets.append((db_file.with_name(db_file.name + ".lock"), f"database {db_file}"))
        self._held: list[int] = []

    @property
    def held(self) -> bool:
        return bool(self._held)

    def acquire(self) -> None:
        """Take every lock or none; FailedPrecondition names what is in use and by which pid."""
        try:
            for path, what in self._targets:
                self._held.append(_lock(path, what))
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        while self._held:
            fd = self._held.pop()
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor drops its flock


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def _lock(path: Path, what: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FailedPrecondition(
            f"{what} is in use by another dashboard (pid {holder}); stop it first or use"
            " another --data-dir"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def check_port_free(listen: str) -> None:
    """Unavailable when `host:port` (port not 0) is already bound by another process."""
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit() or int(port_text) == 0:
        return
    port = int(port_text)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except OSError:
        return  # the server's own bind reports an unusable address
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Unavailable(
                    f"cannot listen on {listen}: port {port} is in use (another dashboard?)"
                ) from None
