"""The history retention setting on a real dashboard: at start it purges only the runs that
ended more than history_retention_days ago (by the dashboard's clock), and a negative value is
refused naming the setting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ikasched_common.clock import ManualClock
from ikasched_common.config import DashboardConfig
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.history_retention import DAY_MS, purge_past_retention
from ikasched_dashboard.store import db, history
from ikasched_dashboard.store.db import write_transaction
from ikasched_dashboard.store.history import HistoryQuery, JobRun

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def _put(engine: Engine, *ages_ms: int) -> None:
    with write_transaction(engine) as conn:
        history.insert_runs(
            conn,
            [
                JobRun("p", f"i{n}", "j", "COMPLETE", start_time=1, end_time=NOW_MS - age)
                for n, age in enumerate(ages_ms)
            ],
        )


def _ages(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(NOW_MS - r.end_time for r in history.list_runs(conn, HistoryQuery()))


async def test_a_dashboard_purges_at_start_only_what_is_past_retention(tmp_path: Path) -> None:
    config = DashboardConfig(
        data_dir=tmp_path / "dash", listen="127.0.0.1:0", history_retention_days=7
    )
    url = config.effective_database_url
    (tmp_path / "dash").mkdir()
    db.upgrade(url)
    engine = db.create_engine_for(url)
    week = 7 * DAY_MS
    _put(engine, DAY_MS, week - 1, week + 1, 30 * DAY_MS)
    app = Dashboard(config, clock=ManualClock(NOW))
    await app.start()
    try:
        for _ in range(200):  # the purge runs as the dashboard starts; hang guard only
            if len(_ages(engine)) == 2:
                break
            await asyncio.sleep(0.02)
        assert _ages(engine) == [DAY_MS, week - 1]
    finally:
        await app.stop()
        engine.dispose()


def test_retention_zero_keeps_everything_and_negative_is_refused(tmp_path: Path) -> None:
    url = db.default_url(tmp_path)
    db.upgrade(url)
    engine = db.create_engine_for(url)
    try:
        _put(engine, 400 * DAY_MS)
        assert purge_past_retention(engine, ManualClock(NOW), 0) == 0
        assert purge_past_retention(engine, ManualClock(NOW), 365) == 1
    finally:
        engine.dispose()
    with pytest.raises(InvalidArgument, match="history_retention_days"):
        DashboardConfig(history_retention_days=-1).validate()
