"""Webhook signatures (docs/semantics.md §15.6): a rule's optional secret reference and the
reference copied into each of its notifications (the secret itself is never stored).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_rules") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("secret_ref", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("secret_ref")
    with op.batch_alter_table("notification_rules") as batch:
        batch.drop_column("webhook_secret")
