"""OVERDUE by a time of day (docs/semantics.md §15.1): a rule's `by` time, HH:MM:SS in the
instance's zone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.add_column(sa.Column("deadline", sa.String(8), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.drop_column("deadline")
