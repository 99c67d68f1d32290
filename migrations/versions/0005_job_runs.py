"""Execution history: one job_runs row per ended job run (docs/semantics.md §14), kept after its
instance is ended or deleted (no foreign key).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NAME = sa.String(length=255)
ID = sa.String(length=64)
STATUS = sa.String(length=32)


def _text(name: str, kind: sa.types.TypeEngine[str]) -> sa.Column[str]:
    return sa.Column(name, kind, server_default="", nullable=False)


def _number(name: str, kind: sa.types.TypeEngine[int]) -> sa.Column[int]:
    return sa.Column(name, kind, server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("plan_name", NAME, nullable=False),
        _number("plan_version", sa.BigInteger()),
        _text("owner", NAME),
        sa.Column("instance_id", ID, nullable=False),
        _text("child_context", NAME),
        sa.Column("job_identifier", NAME, nullable=False),
        _text("job_name", NAME),
        _text("job_type", STATUS),
        _text("agent_name", NAME),
        _text("agent_hostname", NAME),
        _number("attempt", sa.Integer()),
        sa.Column("status", STATUS, nullable=False),
        _number("start_time", sa.BigInteger()),
        _number("end_time", sa.BigInteger()),
        _number("return_code", sa.Integer()),
        _text("outcome_reason", sa.Text()),
        _number("pid", sa.BigInteger()),
        _text("run_as_user", NAME),
        _text("output_path", sa.Text()),
        _text("error_path", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index("ix_job_runs_end_time", "job_runs", ["end_time"])
    op.create_index("ix_job_runs_plan_name_id", "job_runs", ["plan_name", "id"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_plan_name_id", table_name="job_runs")
    op.drop_index("ix_job_runs_end_time", table_name="job_runs")
    op.drop_table("job_runs")
