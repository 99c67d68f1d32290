"""Engines and migrations: SQLite by default, PostgreSQL by URL (psycopg 3).

SQLite connections get their pragmas on every connect (WAL, busy timeout, foreign keys,
synchronous), and the driver's own implicit transactions are turned off so that SQLAlchemy's
BEGIN is the one that counts: a connection opened with `write_transaction` starts with
BEGIN IMMEDIATE, taking the write lock up front instead of failing to upgrade a read
snapshot that another writer has moved past.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL

Durability = Literal["crash", "power"]

BUSY_TIMEOUT_MS = 10_000
# Execution option that makes a SQLite transaction BEGIN IMMEDIATE.
_IMMEDIATE = "ikasched_begin_immediate"
# Overrides where the alembic scripts are (an installed layout without the repo's migrations/).
MIGRATIONS_ENV = "IKASCHED_MIGRATIONS_DIR"


def default_url(data_dir: str | os.PathLike[str]) -> str:
    """The SQLite database inside a data directory."""
    return f"sqlite:///{Path(data_dir) / 'ikasched.db'}"


def normalize_url(url: str | URL) -> URL:
    """Parse a URL, choosing the psycopg 3 driver for a bare PostgreSQL URL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(url: str | URL, *, durability: Durability = "crash", **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite connections are configured as described in the module doc.

    `durability`: "crash" (SQLite synchronous=NORMAL; survives kill -9) or "power" (FULL).
    Extra keyword arguments go to `sqlalchemy.create_engine`.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    if parsed.database in (None, "", ":memory:"):
        raise ValueError("the store needs a SQLite file, not an in-memory database")
    engine = create_engine(parsed, **kwargs)
    synchronous = "FULL" if durability == "power" else "NORMAL"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # No driver-managed transactions: SQLAlchemy's "begin" event below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction, committed on success and rolled back on error.

    On SQLite it starts with BEGIN IMMEDIATE (waiting up to the busy timeout for the lock);
    on PostgreSQL it is an ordinary transaction.
    """
    with engine.connect().execution_options(**{_IMMEDIATE: True}) as conn, conn.begin():
        yield conn


def is_write(conn: Connection) -> bool:
    """Whether `conn` was opened by `write_transaction` (the lease fence checks those)."""
    return bool(conn.get_execution_options().get(_IMMEDIATE, False))


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-only unit of work seeing a consistent snapshot."""
    with engine.connect() as conn, conn.begin():
        yield conn


def migrations_dir() -> Path:
    """The alembic script directory: `migrations/` beside the ikasched_dashboard package."""
    override = os.environ.get(MIGRATIONS_ENV)
    if override:
        return Path(override)
    import ikasched_dashboard

    return Path(ikasched_dashboard.__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | URL) -> Any:
    """An alembic Config for `url` built in code (no alembic.ini needed)."""
    from alembic.config import Config

    location = migrations_dir()
    if not (location / "env.py").is_file():
        raise FileNotFoundError(
            f"alembic scripts not found at {location} (set {MIGRATIONS_ENV} to their directory)"
        )
    config = Config()
    config.set_main_option("script_location", str(location))
    # Passed as an attribute, not an ini option: ini values interpolate '%' in passwords.
    config.attributes["url"] = normalize_url(url)
    return config


def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Apply migrations up to `revision`; safe to run on every start. Returns the new revision."""
    from alembic import command

    config = alembic_config(url)
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
        return _revision_of(engine)
    finally:
        engine.dispose()


def current_revision(url: str | URL) -> str | None:
    """The revision the database is at (None for an empty database)."""
    engine = create_engine_for(url)
    try:
        return _revision_of(engine)
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision among the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(migrations_dir())).get_current_head()


def _revision_of(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
