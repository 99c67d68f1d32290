"""Named calendars: one row per calendar with its canonical document (docs/semantics.md §13).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("document_json", sa.Text(), nullable=False),
        sa.Column("updated_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_by", sa.String(length=255), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_calendars")),
    )


def downgrade() -> None:
    op.drop_table("calendars")
