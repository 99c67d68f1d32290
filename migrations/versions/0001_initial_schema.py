"""Initial schema: plans, instances, jobs, audit/change log, processed ids, outbox and links,
lock state, agents, missed runs, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Same types as the schema module; spelled out here so this revision never changes with it.
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NAME = sa.String(length=255)
ID = sa.String(length=64)
STATUS = sa.String(length=32)


def _millis(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def _flag(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), server_default=sa.text("false"), nullable=False)


def _text(name: str, kind: sa.types.TypeEngine[str], default: str = "") -> sa.Column[str]:
    return sa.Column(name, kind, server_default=default, nullable=False)


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("name", NAME, nullable=False),
        sa.Column("current_version", sa.BigInteger(), nullable=False),
        _flag("enabled"),
        _millis("created_time"),
        _millis("updated_time"),
        _text("updated_by", NAME),
        sa.PrimaryKeyConstraint("name", name="pk_plans"),
    )
    op.create_table(
        "plan_versions",
        sa.Column("name", NAME, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("plan", sa.LargeBinary(), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("plan_hash", sa.String(length=128), nullable=False),
        _text("agent_names", sa.Text(), "[]"),
        _millis("created_time"),
        _text("created_by", NAME),
        sa.PrimaryKeyConstraint("name", "version", name="pk_plan_versions"),
    )

    op.create_table(
        "instances",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_name", NAME, nullable=False),
        sa.Column("plan_version", sa.BigInteger(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        _millis("created_time"),
        _millis("updated_time"),
        _millis("start_time"),
        _millis("end_time"),
        _millis("projected_end_time"),
        _text("timezone", sa.String(length=64), "UTC"),
        _flag("run_until_manually_ended"),
        _flag("dry_run"),
        _flag("quartz_disabled"),
        _text("created_by", NAME),
        _text("reset_from", ID),
        _text("environment_group", NAME),
        sa.Column("snapshot", sa.LargeBinary(), nullable=True),
        sa.Column("snapshot_version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_instances"),
    )
    op.create_index("ix_instances_plan_name_status", "instances", ["plan_name", "status"])
    op.create_index("ix_instances_status", "instances", ["status"])
    op.create_index("ix_instances_created_time", "instances", ["created_time"])

    op.create_table(
        "job_instances",
        sa.Column("instance_id", ID, nullable=False),
        sa.Column("child_context", NAME, nullable=False),
        sa.Column("job_identifier", NAME, nullable=False),
        _text("job_name", NAME),
        _text("agent_name", NAME),
        sa.Column("job_type", STATUS, nullable=False),
        sa.Column("status", STATUS, nullable=False),
        _flag("held"),
        _flag("skip"),
        _flag("initiation_raised"),
        _flag("killed"),
        sa.Column("pid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("return_code", sa.Integer(), server_default="0", nullable=False),
        _millis("start_time"),
        _millis("end_time"),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _text("initiation_id", ID),
        _flag("error_acknowledged"),
        _text("error_ack_message", sa.Text()),
        _text("error_ack_ticket", NAME),
        _text("error_ack_user", NAME),
        _millis("error_ack_time"),
        _text("status_reason", sa.Text()),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name="fk_job_instances_instance_id_instances",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "instance_id", "child_context", "job_identifier", name="pk_job_instances"
        ),
    )
    op.create_index("ix_job_instances_agent_name_status", "job_instances", ["agent_name", "status"])
    op.create_index("ix_job_instances_initiation_id", "job_instances", ["initiation_id"])
    op.create_index("ix_job_instances_status", "job_instances", ["status"])

    op.create_table(
        "audit",
        sa.Column("position", SERIAL, autoincrement=True, nullable=False),
        _millis("time"),
        sa.Column("instance_id", ID, nullable=False),
        sa.Column("plan_name", NAME, nullable=False),
        _text("job_identifier", NAME),
        _text("child_context", NAME),
        _text("from_status", STATUS),
        _text("to_status", STATUS),
        _text("cause", NAME),
        _text("actor", NAME),
        _text("detail", sa.Text()),
        sa.PrimaryKeyConstraint("position", name="pk_audit"),
    )
    op.create_index("ix_audit_instance_id_position", "audit", ["instance_id", "position"])
    op.create_index("ix_audit_plan_name_position", "audit", ["plan_name", "position"])

    op.create_table(
        "processed_messages",
        sa.Column("id", ID, nullable=False),
        _millis("processed_time"),
        sa.PrimaryKeyConstraint("id", name="pk_processed_messages"),
    )
    op.create_index(
        "ix_processed_messages_processed_time", "processed_messages", ["processed_time"]
    )

    op.create_table(
        "outbox",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("agent_name", NAME, nullable=False),
        _text("message_id", ID),
        _text("type_name", NAME),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        _millis("created_time"),
        sa.Column("link_seq", sa.BigInteger(), nullable=True),
        sa.Column("instance_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_agent_name_link_seq", "outbox", ["agent_name", "link_seq"], unique=True
    )
    op.create_index("ix_outbox_message_id", "outbox", ["message_id"])

    op.create_table(
        "agent_links",
        sa.Column("agent_name", NAME, nullable=False),
        sa.Column("last_assigned_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "last_journaled_inbound_seq", sa.BigInteger(), server_default="0", nullable=False
        ),
        sa.PrimaryKeyConstraint("agent_name", name="pk_agent_links"),
    )

    op.create_table(
        "lock_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        _millis("updated_time"),
        sa.PrimaryKeyConstraint("id", name="pk_lock_state"),
    )

    op.create_table(
        "agents",
        sa.Column("name", NAME, nullable=False),
        _flag("connected"),
        _millis("last_seen"),
        _text("version", sa.String(length=64)),
        _text("hostname", NAME),
        _millis("connected_since"),
        _text("labels", sa.Text(), "{}"),
        _text("instance_id", ID),
        sa.PrimaryKeyConstraint("name", name="pk_agents"),
    )

    op.create_table(
        "missed_runs",
        sa.Column("id", SERIAL, autoincrement=True, nullable=False),
        sa.Column("plan_name", NAME, nullable=False),
        _millis("scheduled_time"),
        _millis("detected_time"),
        _text("reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_missed_runs"),
    )
    op.create_index(
        "ix_missed_runs_plan_name_scheduled_time",
        "missed_runs",
        ["plan_name", "scheduled_time"],
        unique=True,
    )

    op.create_table(
        "tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("subject", NAME, nullable=False),
        sa.Column("role", STATUS, nullable=False),
        _text("plan_names", sa.Text(), "[]"),
        _text("agent_name", NAME),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        _millis("created_time"),
        _millis("expires_time"),
        _millis("revoked_time"),
        _millis("last_used_time"),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
    )
    op.create_index("ix_tokens_secret_hash", "tokens", ["secret_hash"], unique=True)


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    for table in (
        "tokens",
        "missed_runs",
        "agents",
        "lock_state",
        "agent_links",
        "outbox",
        "processed_messages",
        "audit",
        "job_instances",
        "instances",
        "plan_versions",
        "plans",
    ):
        op.drop_table(table)
