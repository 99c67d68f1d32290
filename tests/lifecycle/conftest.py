"""Lifecycle fixtures: a migrated SQLite store per test (copied from one migrated template), a
ManualClock, manual timers and the fake orchestrator over the real engine."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ikasched_common.dispatch import ManualClock
from ikasched_dashboard.store import db

#: Upper bound of any one async test; tests wait on events, never on wall-clock figures.
ASYNC_TEST_LIMIT_SECONDS = 60


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no plugin needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {n: pyfuncitem.funcargs[n] for n in names}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_LIMIT_SECONDS))
    return True


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lifecycle-template") / "ikasched.db"
    db.upgrade(db.default_url(path.parent))
    return path


@pytest.fixture
def engine(template_db: Path, tmp_path: Path) -> Iterator[Engine]:
    shutil.copyfile(template_db, tmp_path / "ikasched.db")
    engine = db.create_engine_for(db.default_url(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
