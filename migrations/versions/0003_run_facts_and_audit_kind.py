"""The facts of a job's last run and the kind of each audit row.

- job_instances: outcome_reason (why the last run ended as it did), agent_hostname (where it
  ran) and last_event (the last process event received, serialized, secrets masked);
- instances: owner (the plan's owner at creation, for cross-plan job queries);
- audit: kind (job, context, verb, ack, alert, event-dropped, missed-run, note), filled in for
  the rows already there from the columns that tell them apart.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = sa.String(length=255)
STATUS = sa.String(length=32)

# The same order of tests as ikasched_dashboard.store.changes.audit_kind.
_BACKFILL = """
UPDATE audit SET kind = CASE
  WHEN to_status <> '' AND job_identifier <> '' THEN 'job'
  WHEN to_status <> '' THEN 'context'
  WHEN cause = 'missed-run' THEN 'missed-run'
  WHEN detail LIKE 'acknowledge-error%' THEN 'ack'
  WHEN detail LIKE 'event dropped:%' THEN 'event-dropped'
  WHEN actor LIKE 'agent:%' THEN 'alert'
  WHEN cause LIKE 'verb:%' THEN 'verb'
  ELSE 'note'
END
"""


def upgrade() -> None:
    with op.batch_alter_table("job_instances") as batch:
        batch.add_column(sa.Column("outcome_reason", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("agent_hostname", NAME, server_default="", nullable=False))
        batch.add_column(sa.Column("last_event", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("owner", NAME, server_default="", nullable=False))
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("kind", STATUS, server_default="", nullable=False))
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("job_instances") as batch:
        batch.drop_column("last_event")
        batch.drop_column("agent_hostname")
        batch.drop_column("outcome_reason")
