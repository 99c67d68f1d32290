"""Notification rules and the notifications outbox (docs/semantics.md §15).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NAME = sa.String(length=255)
STATUS = sa.String(length=32)


def _text(name: str, kind: sa.types.TypeEngine[str]) -> sa.Column[str]:
    return sa.Column(name, kind, server_default="", nullable=False)


def _number(name: str, kind: sa.types.TypeEngine[int], default: str = "0") -> sa.Column[int]:
    return sa.Column(name, kind, server_default=default, nullable=False)


def upgrade() -> None:
    op.create_table(
        "notification_rules",
        sa.Column("name", NAME, nullable=False),
        _text("plan_name", NAME),
        _text("job_identifier", NAME),
        sa.Column("kinds", sa.Text(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=False),
        _number("version", sa.BigInteger(), "1"),
        _number("updated_time", sa.BigInteger()),
        _text("updated_by", NAME),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notification_rules")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("rule_name", NAME, nullable=False),
        sa.Column("kind", STATUS, nullable=False),
        sa.Column("idempotency_key", NAME, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        _number("attempts", sa.Integer()),
        _number("next_attempt_time", sa.BigInteger()),
        _text("last_error", sa.Text()),
        _number("created_time", sa.BigInteger()),
        _number("delivered_time", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_status_next_attempt_time",
        "notifications",
        ["status", "next_attempt_time"],
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_status_next_attempt_time", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("notification_rules")
