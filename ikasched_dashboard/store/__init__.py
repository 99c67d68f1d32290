"""The dashboard's durable store (SQLAlchemy 2 Core; SQLite by default, PostgreSQL by URL).

- `schema`: the tables (the single source alembic's migrations in migrations/ follow).
- `db`: `create_engine_for(url)`, `write_transaction` / `read_transaction`, `upgrade(url)`,
  `current_revision(url)`, `head_revision()`.
- Repositories, plain functions taking a `Connection` so that the caller decides what one
  transaction covers (one per batch, docs/architecture.md §4.4-4.5): `plans`, `instances` (rows, job
  rows, snapshots), `changes` (audit rows = the change log), `messages` (processed ids, outbox,
  link seqs), `agents`, `tokens`, `missed_runs`, `locks`.

Times are UTC epoch milliseconds; statuses and roles are protobuf enum value names.
Submodules are imported on use, so importing this package costs nothing.
"""
