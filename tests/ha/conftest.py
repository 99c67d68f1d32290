"""High-availability fixtures: each test gets its own PostgreSQL schema (IKASCHED_TEST_POSTGRES_URL
from scripts/start-postgres), so several sessions can share one database server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ikasched_dashboard.store import db
from tests.ha.test_failover_process import Pair

POSTGRES_URL = os.environ.get("IKASCHED_TEST_POSTGRES_URL", "")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated PostgreSQL URL whose search_path is a schema of this test alone."""
    if not POSTGRES_URL:
        pytest.skip("IKASCHED_TEST_POSTGRES_URL is not set (scripts/start-postgres prints one)")
    schema = f"ha_{uuid.uuid4().hex[:12]}"
    admin = db.create_engine_for(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    db.upgrade(url)
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def pair(tmp_path: Path, pg_url: str) -> Iterator[Pair]:
    made = Pair(tmp_path, pg_url)
    try:
        yield made
    finally:
        made.close()
