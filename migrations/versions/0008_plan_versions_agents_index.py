"""A covering index over plan_versions (name, version, agent_names): an agent's hello finds its
plans by scanning the agent lists without reading the plan blobs (docs/benchmarks.md §4.4).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_plan_versions_name_version_agent_names",
        "plan_versions",
        ["name", "version", "agent_names"],
    )


def downgrade() -> None:
    op.drop_index("ix_plan_versions_name_version_agent_names", table_name="plan_versions")
