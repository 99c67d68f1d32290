"""Rules declared in plan files (docs/semantics.md §15.7): the plan that owns a rule, and a
rule's child context filter.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.add_column(
            sa.Column("source_plan", sa.String(255), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("child_context", sa.String(255), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.drop_column("child_context")
        batch.drop_column("source_plan")
