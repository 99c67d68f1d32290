"""The dashboard's tables (SQLAlchemy Core), the single source the alembic migrations follow.

Conventions, chosen to be exact and the same on SQLite and PostgreSQL:
- Every timestamp is UTC epoch milliseconds in a BigInteger; 0 means "none" (as in the protos).
- Statuses, job types and roles are stored as the protobuf enum value *names* ("RUNNING"), so a
  row reads the same in SQL as in the API and survives renumbering.
- Lists and maps (labels, plan names, agent names) are JSON text.
- Opaque blobs (plans as serialized protobuf, instance snapshots, outbox messages, the lock
  coordinator's state) are LargeBinary; the store never looks inside them.
- Autoincrement keys that callers rely on for order (change-log positions, outbox ids) are
  BIGINT on PostgreSQL and INTEGER PRIMARY KEY (the rowid) on SQLite, which is what makes
  SQLite assign them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

# Stable constraint names keep alembic autogenerate and future ALTERs deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
SerialKey = BigInteger().with_variant(Integer(), "sqlite")

NAME = 255  # plan, agent, job and context names
ID = 64  # UUIDs and message ids
STATUS = 32  # enum value names


def _millis(name: str, *, nullable: bool = False) -> Column[int]:
    return Column(name, BigInteger, nullable=nullable, server_default=None if nullable else "0")


def _flag(name: str) -> Column[bool]:
    return Column(name, Boolean, nullable=False, server_default=text("false"))


# The head row of a plan: which version is current and whether it creates instances.
plans = Table(
    "plans",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("current_version", BigInteger, nullable=False),
    _flag("enabled"),
    _millis("created_time"),
    _millis("updated_time"),
    Column("updated_by", String(NAME), nullable=False, server_default=""),
)

# Every provisioned version, kept after a plan is replaced or deleted (instances name them).
plan_versions = Table(
    "plan_versions",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("plan", LargeBinary, nullable=False),
    Column("plan_json", Text, nullable=False),
    # Hash of the canonical plan: provisioning the same plan again makes no new version.
    Column("plan_hash", String(128), nullable=False),
    # JSON list; lets "plans on this agent" be answered without parsing every plan.
    Column("agent_names", Text, nullable=False, server_default="[]"),
    _millis("created_time"),
    Column("created_by", String(NAME), nullable=False, server_default=""),
    # Covering index for "plans on this agent" (every agent hello): scanning it reads the
    # agent lists without the plan blobs beside them (store/plans.py plans_on_agent).
    Index(None, "name", "version", "agent_names"),
)

instances = Table(
    "instances",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("plan_name", String(NAME), nullable=False),
    Column("plan_version", BigInteger, nullable=False),
    Column("status", String(STATUS), nullable=False),
    _millis("created_time"),
    _millis("updated_time"),
    _millis("start_time"),
    _millis("end_time"),
    _millis("projected_end_time"),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    _flag("run_until_manually_ended"),
    _flag("dry_run"),
    _flag("quartz_disabled"),
    Column("created_by", String(NAME), nullable=False, server_default=""),
    Column("reset_from", String(ID), nullable=False, server_default=""),
    Column("environment_group", String(NAME), nullable=False, server_default=""),
    # The plan's owner when the instance was created (a cross-plan job query filters by it).
    Column("owner", String(NAME), nullable=False, server_default=""),
    # The engine's opaque machine state; rebuilt from this alone after a restart.
    Column("snapshot", LargeBinary, nullable=True),
    Column("snapshot_version", BigInteger, nullable=False, server_default="0"),
    Index(None, "plan_name", "status"),
    Index(None, "status"),
    Index(None, "created_time"),
)

job_instances = Table(
    "job_instances",
    metadata,
    Column(
        "instance_id",
        String(ID),
        ForeignKey("instances.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("child_context", String(NAME), primary_key=True),
    Column("job_identifier", String(NAME), primary_key=True),
    Column("job_name", String(NAME), nullable=False, server_default=""),
    Column("agent_name", String(NAME), nullable=False, server_default=""),
    Column("job_type", String(STATUS), nullable=False),
    Column("status", String(STATUS), nullable=False),
    _flag("held"),
    _flag("skip"),
    _flag("initiation_raised"),
    _flag("killed"),
    Column("pid", BigInteger, nullable=False, server_default="0"),
    Column("return_code", Integer, nullable=False, server_default="0"),
    _millis("start_time"),
    _millis("end_time"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("initiation_id", String(ID), nullable=False, server_default=""),
    _flag("error_acknowledged"),
    Column("error_ack_message", Text, nullable=False, server_default=""),
    Column("error_ack_ticket", String(NAME), nullable=False, server_default=""),
    Column("error_ack_user", String(NAME), nullable=False, server_default=""),
    _millis("error_ack_time"),
    Column("status_reason", Text, nullable=False, server_default=""),
    # The last run's facts (migration 0003): why it ended as it did, where it ran, and the
    # last process event received for it (serialized, secret values masked).
    Column("outcome_reason", Text, nullable=False, server_default=""),
    Column("agent_hostname", String(NAME), nullable=False, server_default=""),
    Column("last_event", LargeBinary, nullable=True),
    # "What is running on agent X". Nothing else: every index here is rewritten on each job
    # status change inside the orchestrator's batch (migration 0002 dropped two unused ones).
    Index(None, "agent_name", "status"),
)

# One row per transition; `position` orders the change log that watch streams resume from.
audit = Table(
    "audit",
    metadata,
    Column("position", SerialKey, primary_key=True, autoincrement=True),
    _millis("time"),
    Column("instance_id", String(ID), nullable=False),
    Column("plan_name", String(NAME), nullable=False),
    # Empty for a context (or instance) change; then child_context names the context.
    Column("job_identifier", String(NAME), nullable=False, server_default=""),
    Column("child_context", String(NAME), nullable=False, server_default=""),
    Column("from_status", String(STATUS), nullable=False, server_default=""),
    Column("to_status", String(STATUS), nullable=False, server_default=""),
    Column("cause", String(NAME), nullable=False, server_default=""),
    Column("actor", String(NAME), nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    # What the row records: job, context, verb, ack, alert, event-dropped, missed-run, note.
    Column("kind", String(STATUS), nullable=False, server_default=""),
    Index(None, "instance_id", "position"),
    Index(None, "plan_name", "position"),
)

# Ids of inbound messages already applied, written in the transaction of their effects.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("id", String(ID), primary_key=True),
    _millis("processed_time"),
    Index(None, "processed_time"),
)

# Transactional outbox: messages for agents, deleted when the agent acknowledges them.
outbox = Table(
    "outbox",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("agent_name", String(NAME), nullable=False),
    Column("message_id", String(ID), nullable=False, server_default=""),
    Column("type_name", String(NAME), nullable=False, server_default=""),
    Column("message", LargeBinary, nullable=False),
    _millis("created_time"),
    # NULL until first sent; assigned and committed before the send (docs/architecture.md §4.2).
    Column("link_seq", BigInteger, nullable=True),
    Column("instance_id", String(ID), nullable=True),
    # Unique: a seq names one message on the link; NULLs (unsent rows) never collide.
    Index(None, "agent_name", "link_seq", unique=True),
    Index(None, "message_id"),
)

# Per-agent link state on the dashboard side.
agent_links = Table(
    "agent_links",
    metadata,
    Column("agent_name", String(NAME), primary_key=True),
    Column("last_assigned_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_journaled_inbound_seq", BigInteger, nullable=False, server_default="0"),
)

# The single serial lock owner's state (locks survive restarts).
lock_state = Table(
    "lock_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("snapshot", LargeBinary, nullable=False),
    Column("version", BigInteger, nullable=False, server_default="0"),
    _millis("updated_time"),
)

agents = Table(
    "agents",
    metadata,
    Column("name", String(NAME), primary_key=True),
    _flag("connected"),
    _millis("last_seen"),
    Column("version", String(64), nullable=False, server_default=""),
    Column("hostname", String(NAME), nullable=False, server_default=""),
    _millis("connected_since"),
    Column("labels", Text, nullable=False, server_default="{}"),
    # The agent process's run id: tells a reconnect from a restart.
    Column("instance_id", String(ID), nullable=False, server_default=""),
)

missed_runs = Table(
    "missed_runs",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("plan_name", String(NAME), nullable=False),
    _millis("scheduled_time"),
    _millis("detected_time"),
    Column("reason", Text, nullable=False, server_default=""),
    # A restart that notices the same gap again records nothing new.
    Index(None, "plan_name", "scheduled_time", unique=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("subject", String(NAME), nullable=False),
    Column("role", String(STATUS), nullable=False),
    Column("plan_names", Text, nullable=False, server_default="[]"),
    Column("agent_name", String(NAME), nullable=False, server_default=""),
    # Only a hash of the secret is stored; authentication looks tokens up by it.
    Column("secret_hash", String(128), nullable=False),
    _millis("created_time"),
    _millis("expires_time"),
    _millis("revoked_time"),
    _millis("last_used_time"),
    Index(None, "secret_hash", unique=True),
)

# Named calendars (docs/semantics.md §13): the canonical document as JSON, versioned.
calendars = Table(
    "calendars",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("document_json", Text, nullable=False),
    _millis("updated_time"),
    Column("updated_by", String(NAME), nullable=False, server_default=""),
)

# Execution history (docs/semantics.md §14): one row per ended job run, written in the
# transaction of the event that ended it; no foreign key, so it outlives its instance.
job_runs = Table(
    "job_runs",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("plan_name", String(NAME), nullable=False),
    Column("plan_version", BigInteger, nullable=False, server_default="0"),
    Column("owner", String(NAME), nullable=False, server_default=""),
    Column("instance_id", String(ID), nullable=False),
    Column("child_context", String(NAME), nullable=False, server_default=""),
    Column("job_identifier", String(NAME), nullable=False),
    Column("job_name", String(NAME), nullable=False, server_default=""),
    Column("job_type", String(STATUS), nullable=False, server_default=""),
    Column("agent_name", String(NAME), nullable=False, server_default=""),
    Column("agent_hostname", String(NAME), nullable=False, server_default=""),
    Column("attempt", Integer, nullable=False, server_default="0"),
    Column("status", String(STATUS), nullable=False),
    _millis("start_time"),
    _millis("end_time"),
    Column("return_code", Integer, nullable=False, server_default="0"),
    Column("outcome_reason", Text, nullable=False, server_default=""),
    Column("pid", BigInteger, nullable=False, server_default="0"),
    Column("run_as_user", String(NAME), nullable=False, server_default=""),
    Column("output_path", Text, nullable=False, server_default=""),
    Column("error_path", Text, nullable=False, server_default=""),
    Index(None, "end_time"),
    Index(None, "plan_name", "id"),
)

# Notification rules and their durable outbox (docs/semantics.md §15). A notification row is
# written in the transaction of the batch whose change it tells; the notifier posts it.
notification_rules = Table(
    "notification_rules",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("plan_name", String(NAME), nullable=False, server_default=""),
    Column("job_identifier", String(NAME), nullable=False, server_default=""),
    Column("kinds", Text, nullable=False),  # JSON list of event kinds
    Column("webhook_url", Text, nullable=False),
    # "file:NAME" or "env:NAME" of the webhook's HMAC secret (§15.6); "": unsigned
    Column("webhook_secret", Text, nullable=False, server_default=""),
    # RUNNING_TIME longer than p95_factor x the p95 of the job's last p95_runs runs; 0: off
    Column("p95_factor", Float, nullable=False, server_default="0"),
    Column("p95_runs", Integer, nullable=False, server_default="0"),
    # the plan whose file declares the rule (§15.7); "": an operator's
    Column("source_plan", String(NAME), nullable=False, server_default=""),
    Column("child_context", String(NAME), nullable=False, server_default=""),
    # OVERDUE: "HH:MM:SS" in the instance's zone a job must have started / the instance be
    # complete by; "": none
    Column("deadline", String(8), nullable=False, server_default=""),
    Column("version", BigInteger, nullable=False, server_default="1"),
    _millis("updated_time"),
    Column("updated_by", String(NAME), nullable=False, server_default=""),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", SerialKey, primary_key=True, autoincrement=True),
    Column("rule_name", String(NAME), nullable=False),
    Column("kind", String(STATUS), nullable=False),
    Column("idempotency_key", String(NAME), nullable=False),
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("secret_ref", Text, nullable=False, server_default=""),  # the rule's webhook_secret
    # PENDING (to send or retry), DELIVERED, DEAD (gave up after the last attempt)
    Column("status", String(STATUS), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _millis("next_attempt_time"),
    Column("last_error", Text, nullable=False, server_default=""),
    _millis("created_time"),
    _millis("delivered_time"),
    Index(None, "status", "next_attempt_time"),
)


# High availability (docs/architecture.md §12): one lease row ("active"), renewed by the active
# dashboard on PostgreSQL; its epoch is the fencing token every write transaction checks.
dashboard_lease = Table(
    "dashboard_lease",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(ID), nullable=False, server_default=""),
    Column("address", String(NAME), nullable=False, server_default=""),
    Column("epoch", BigInteger, nullable=False, server_default="0"),
    Column("acquired_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
)

# Every dashboard process sharing the database, with its last heartbeat (standbys included).
dashboard_nodes = Table(
    "dashboard_nodes",
    metadata,
    Column("holder", String(ID), primary_key=True),
    Column("address", String(NAME), nullable=False, server_default=""),
    Column("pid", Integer, nullable=False, server_default="0"),
    Column("seen_at", DateTime(timezone=True), nullable=True),
)
