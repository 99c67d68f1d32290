"""Lifecycle fixtures: a migrated SQLite store per test (copied from one migrated template), a
ManualClock, manual timers and the fake orchestrator over the real engine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ikasched_common.dispatch import ManualClock
from ikasched_dashboard.store import db


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
