"""Store fixtures, run against SQLite (a file in tmp_path) and, when IKASCHED_TEST_POSTGRES_URL
is set (scripts/start-postgres prints one), against that PostgreSQL database as well."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from ikasched_dashboard.store import db

# IKASCHED_TEST_PG_URL is the name the issue uses; either works
POSTGRES_URL = os.environ.get("IKASCHED_TEST_POSTGRES_URL") or os.environ.get(
    "IKASCHED_TEST_PG_URL", ""
)
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


def _reset_postgres(url: str) -> None:
    # Each test starts from an empty database: drop everything the previous one made.
    engine = db.create_engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of an empty database (no tables)."""
    if request.param == "postgresql":
        _reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return db.default_url(tmp_path_factory.mktemp("store"))


@pytest.fixture
def url(empty_url: str) -> str:
    """The URL of a database migrated to head."""
    db.upgrade(empty_url)
    return empty_url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = db.create_engine_for(url)
    yield engine
    engine.dispose()
