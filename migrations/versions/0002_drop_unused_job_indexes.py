"""Drop the job_instances indexes no query needs: every job status change rewrote two index
entries in each of them inside the orchestrator's batch transaction.

- ix_job_instances_status: no query filters job rows by status alone (the agent listing uses
  ix_job_instances_agent_name_status).
- ix_job_instances_initiation_id: nothing looks a job row up by initiation on a hot path (the
  orchestrator resolves process events in memory); job_by_initiation still answers, by scan.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_job_instances_status", table_name="job_instances")
    op.drop_index("ix_job_instances_initiation_id", table_name="job_instances")


def downgrade() -> None:
    op.create_index("ix_job_instances_initiation_id", "job_instances", ["initiation_id"])
    op.create_index("ix_job_instances_status", "job_instances", ["status"])
