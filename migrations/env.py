"""Alembic environment: the target is ikasched_dashboard.store.schema.metadata.

The URL comes, in order, from a connection passed by the caller
(`config.attributes["connection"]`, as `db.upgrade` does), `config.attributes["url"]`,
`-x url=...` on the alembic command line, the IKASCHED_DB_URL environment variable, or
`sqlalchemy.url` in alembic.ini.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from ikasched_dashboard.store.db import create_engine_for
from ikasched_dashboard.store.schema import metadata

config = context.config


def _url() -> str:
    attributed = config.attributes.get("url")
    if attributed is not None:
        return str(attributed.render_as_string(hide_password=False))
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("IKASCHED_DB_URL")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set IKASCHED_DB_URL")
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = create_engine_for(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
