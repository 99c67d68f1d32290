"""Longer-than-usual notifications (docs/semantics.md §15.1): a RUNNING_TIME rule's factor K
and run count N (a run longer than K × the p95 of its job's last N runs).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.add_column(sa.Column("p95_factor", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("p95_runs", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.drop_column("p95_runs")
        batch.drop_column("p95_factor")
