"""Suite-wide settings and the async test runner.

Property tests run on a shared 2-core box next to subprocess-heavy tests: timing-based
Hypothesis checks (deadlines, "generation too slow") would fail on load, not on behaviour, so
they are off everywhere; each test still sets its own example counts."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine

from ikasched_dashboard.store import db

settings.register_profile(
    "ikasched",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile("ikasched")

#: Upper bound of any one async test: a hang guard (tests wait on events, not on durations).
ASYNC_TEST_LIMIT_SECONDS = 180


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests on a fresh event loop each (no plugin needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {n: pyfuncitem.funcargs[n] for n in names}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_LIMIT_SECONDS))
    return True


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite store per session; tests get copies (migrating each is slow)."""
    path = tmp_path_factory.mktemp("store-template") / "ikasched.db"
    db.upgrade(db.default_url(path.parent))
    return path


@pytest.fixture
def engine(template_db: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite store of this test's own (tests/store and tests/security override it)."""
    shutil.copyfile(template_db, tmp_path / "ikasched.db")
    engine = db.create_engine_for(db.default_url(tmp_path))
    yield engine
    engine.dispose()
