"""Run the dashboard process for `ikasched dashboard` (and `ikasched up`'s child): the
whole dashboard of `ikasched_dashboard.app.build_dashboard`, plus the port file `up` waits
for (the dashboard may listen on port 0)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ikasched_common.config import DashboardConfig
    from ikasched_dashboard.leadership import Lease

log = logging.getLogger("ikasched.dashboard")


def write_port_file(path: Path, port: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


async def serve(
    config: DashboardConfig, *, port_file: Path | None = None, stop: asyncio.Event | None = None
) -> None:
    """Start, run until SIGTERM/SIGINT (or `stop`), then stop gracefully.

    On PostgreSQL the process is one of possibly several dashboards (docs/architecture.md §12):
    it stands by until it holds the lease, leads while it renews it, and stands by again when
    it loses it."""
    from ikasched_dashboard.data_lock import sqlite_file

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    url = config.effective_database_url
    if sqlite_file(url) is not None:  # SQLite: one dashboard, no lease (§1.7)
        await _run(config, port_file, stop, None)
        return
    await _run_with_lease(config, port_file, stop)


async def _run(
    config: DashboardConfig, port_file: Path | None, stop: asyncio.Event, lease: Lease | None
) -> bool:
    """Run one dashboard until `stop` (True) or until `lease` is lost (False)."""
    from ikasched_dashboard.app import build_dashboard
    from ikasched_dashboard.leadership import install_fence

    app = build_dashboard(config)
    if lease is not None:
        held = lease
        app.fence = lambda engine: install_fence(engine, held)
    # renewing starts before the dashboard does: its recovery may take longer than a lease
    lost = asyncio.Event()
    renewer = None if lease is None else asyncio.create_task(_renew(lease, lost))
    try:
        await app.start()
    except BaseException:  # e.g. the port or the data dir is in use: undo what started
        if renewer is not None:
            renewer.cancel()
        await app.stop()
        raise
    if port_file is not None:
        write_port_file(port_file, app.port)
    log.info("dashboard serving on port %d", app.port)
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [*waiters, *([renewer] if renewer else [])]:
            task.cancel()
        await app.stop()
    if lost.is_set():
        log.error("lost the lease of epoch %d: standing by", lease.epoch if lease else 0)
        return False
    return True


async def _renew(lease: Lease, lost: asyncio.Event) -> None:
    """Renew every third of the lease; `lost` once it is gone or could not be renewed in time."""
    loop = asyncio.get_running_loop()
    interval = lease.lease_ms / 3000
    renewed = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        try:
            ok = await loop.run_in_executor(None, lease.renew)
        except Exception as exc:  # the database is away: the lease runs out meanwhile
            log.warning("cannot renew the lease: %s", exc)
            ok = time.monotonic() - renewed < lease.lease_ms / 1000 - interval
        else:
            renewed = time.monotonic() if ok else renewed
        if not ok:
            lost.set()
            return


async def _run_with_lease(
    config: DashboardConfig, port_file: Path | None, stop: asyncio.Event
) -> None:
    from ikasched_dashboard.leadership import Lease, new_holder_id
    from ikasched_dashboard.standby import Standby
    from ikasched_dashboard.store import db

    url = config.effective_database_url
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, db.upgrade, url)
    engine = db.create_engine_for(url)
    lease = Lease(engine, new_holder_id(), config.advertise or config.listen, config.lease_ms)
    try:
        while not stop.is_set():
            standby = Standby(lease, config.listen)
            await standby.start()
            if port_file is not None:
                write_port_file(port_file, standby.port)
            log.info("dashboard %s standing by on port %d", lease.holder, standby.port)
            try:
                held = await standby.wait_for_lease(stop)
            finally:
                await standby.stop()
            if not held:
                break
            log.info("dashboard %s holds the lease, epoch %d", lease.holder, lease.epoch)
            if await _run(config, port_file, stop, lease):
                with contextlib.suppress(Exception):
                    await loop.run_in_executor(None, lease.release)
    finally:
        engine.dispose()
