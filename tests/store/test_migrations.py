"""Engines, pragmas and migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError

from ikasched_dashboard.store import db
from ikasched_dashboard.store.schema import metadata


def test_upgrade_creates_every_table_and_is_idempotent(empty_url: str) -> None:
    assert db.current_revision(empty_url) is None
    head = db.head_revision()
    assert head is not None

    assert db.upgrade(empty_url) == head
    engine = db.create_engine_for(empty_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables
        # A second run (every dashboard start) changes nothing and keeps the data.
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO agent_links (agent_name) VALUES ('a1')"))
        assert db.upgrade(empty_url) == head
        assert db.current_revision(empty_url) == head
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM agent_links")).scalar() == 1
    finally:
        engine.dispose()


def test_autogenerate_finds_no_difference_between_schema_and_migrations(url: str) -> None:
    engine = db.create_engine_for(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
    # The same check through alembic's own command (raises on any pending operation).
    command.check(db.alembic_config(url))


def test_downgrade_to_base_and_up_again(url: str) -> None:
    config = db.alembic_config(url)
    command.downgrade(config, "base")
    assert db.current_revision(url) is None
    engine = db.create_engine_for(url)
    try:
        assert not set(metadata.tables) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert db.upgrade(url) == db.head_revision()


def test_sqlite_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    url = db.default_url(tmp_path)
    engine = db.create_engine_for(url, pool_size=3)
    try:
        # Several connections open at once, so each is a distinct DB-API connection.
        conns = [engine.connect() for _ in range(3)]
        try:
            for conn in conns:
                pragmas = {
                    name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
                }
                assert pragmas == {
                    "journal_mode": "wal",
                    "foreign_keys": 1,
                    "synchronous": 1,  # NORMAL
                    "busy_timeout": db.BUSY_TIMEOUT_MS,
                }
        finally:
            for conn in conns:
                conn.close()
    finally:
        engine.dispose()


def test_power_durability_uses_full_sync(tmp_path: Path) -> None:
    engine = db.create_engine_for(db.default_url(tmp_path), durability="power")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with (
        pytest.raises(IntegrityError, match=r"(?i)foreign key"),
        db.write_transaction(engine) as conn,
    ):
        conn.execute(
            text(
                "INSERT INTO job_instances (instance_id, child_context, job_identifier,"
                " job_type, status) VALUES ('missing', 'c', 'j', 'COMMAND_EXECUTION', 'WAITING')"
            )
        )


def test_write_transaction_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError), db.write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO agent_links (agent_name) VALUES ('a1')"))
        raise RuntimeError("boom")
    with db.read_transaction(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM agent_links")).scalar() == 0


def test_sqlite_write_transaction_takes_the_write_lock_at_begin(tmp_path: Path) -> None:
    url = db.default_url(tmp_path)
    db.upgrade(url)
    engine = db.create_engine_for(url)
    try:
        with db.write_transaction(engine):
            # Nothing written yet, yet another writer cannot start: BEGIN IMMEDIATE holds it.
            other = engine.connect()
            try:
                other.exec_driver_sql("PRAGMA busy_timeout = 0")
                with pytest.raises(OperationalError, match="locked"):
                    other.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                other.close()
    finally:
        engine.dispose()


def test_url_handling(tmp_path: Path) -> None:
    assert db.normalize_url("postgresql://u:p@h/d").drivername == "postgresql+psycopg"
    assert db.normalize_url("postgres://u:p@h/d").drivername == "postgresql+psycopg"
    assert db.normalize_url("sqlite:///x.db").drivername == "sqlite"
    assert db.default_url(tmp_path) == f"sqlite:///{tmp_path / 'ikasched.db'}"
    with pytest.raises(ValueError, match="in-memory"):
        db.create_engine_for("sqlite://")


def test_migrations_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert (db.migrations_dir() / "env.py").is_file()
    monkeypatch.setenv(db.MIGRATIONS_ENV, str(tmp_path))
    assert db.migrations_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match=db.MIGRATIONS_ENV):
        db.alembic_config("sqlite:///x.db")
