"""Run the dashboard process for `ikasched dashboard` (and `ikasched up`'s child): the
whole dashboard of `ikasched_dashboard.app.build_dashboard`, plus the port file `up` waits
for (the dashboard may listen on port 0)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ikasched_common.config import DashboardConfig

log = logging.getLogger("ikasched.dashboard")


def write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


async def serve(
    config: DashboardConfig, *, port_file: Path | None = None, stop: asyncio.Event | None = None
) -> None:
    """Start, run until SIGTERM/SIGINT (or `stop`), then stop gracefully."""
    from ikasched_dashboard.app import build_dashboard

    app = build_dashboard(config)
    try:
        await app.start()
    except BaseException:  # e.g. the port or the data dir is in use: undo what started
        await app.stop()
        raise
    if port_file is not None:
        write_port_file(port_file, app.port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("dashboard serving on port %d", app.port)
    try:
        await stop.wait()
    finally:
        await app.stop()
