"""Notification rules and the notifications outbox (docs/semantics.md §15).

`enqueue` runs inside an orchestrator batch's transaction (store/batches.py write_batch): the
events the batch made (a job started, completed or failed, an instance ended) are matched
against the rules, and one PENDING row per (rule, event) goes in with the change or not at
all. The notifier (ikasched_dashboard.notifier) posts due rows and marks them DELIVERED, or
PENDING again later, or DEAD after its last attempt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, delete, insert, select, update

from ikasched_dashboard.store.schema import notification_rules, notifications

__all__ = [
    "EVENT_KINDS",
    "NotificationEvent",
    "NotificationRow",
    "Rule",
    "delete_rule",
    "due",
    "enqueue",
    "get_rule",
    "list_notifications",
    "list_rules",
    "mark_delivered",
    "mark_failed",
    "put_rule",
    "replace_plan_rules",
]

EVENT_KINDS = (
    "START",
    "COMPLETE",
    "ERROR",
    "INSTANCE_ENDED",
    "RUNNING_TIME",
    "OVERDUE",
    "MISSED_RUN",
    "AGENT_LOST",
)
PENDING, DELIVERED, DEAD = "PENDING", "DELIVERED", "DEAD"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kinds: tuple[str, ...]
    webhook_url: str
    plan_name: str = ""  # "": every plan
    webhook_secret: str = ""  # "file:NAME" / "env:NAME" of the HMAC secret; "": unsigned
    job_identifier: str = ""  # "": every job (instance events ignore it)
    p95_factor: float = 0.0  # RUNNING_TIME: also longer than this x the job's p95; 0: off
    p95_runs: int = 0  # ... over its last runs (0: 20)
    source_plan: str = ""  # the plan whose file declares it; "": an operator's rule
    child_context: str = ""  # "": every context (instance events ignore it)
    deadline: str = ""  # OVERDUE: "HH:MM:SS" to have started (a job) or completed (instance)
    version: int = 1
    updated_time: int = 0
    updated_by: str = ""

    def matches(self, event: NotificationEvent) -> bool:
        if event.kind not in self.kinds:
            return False
        if self.plan_name and self.plan_name != event.plan_name:
            return False
        job_event = bool(event.job_identifier)
        if self.child_context and job_event and self.child_context != event.child_context:
            return False
        return not (  # an event of no job (an instance's, a plan's) ignores the job filter
            self.job_identifier
            and event.job_identifier
            and self.job_identifier != event.job_identifier
        )


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """What happened, as the webhook body tells it (times epoch ms)."""

    kind: str
    plan_name: str
    instance_id: str
    time: int
    status: str
    job_identifier: str = ""
    child_context: str = ""
    agent_name: str = ""
    attempt: int = 0
    start_time: int = 0
    end_time: int = 0
    return_code: int = 0
    reason: str = ""
    occurrence: str = ""  # tells apart events alike otherwise (an audit row's "audit:POSITION")

    @property
    def key(self) -> str:
        """The same event always has the same key (with the rule: the idempotency key)."""
        job = f"{self.child_context}/{self.job_identifier}" if self.job_identifier else ""
        key = f"{self.kind}:{self.instance_id}:{job}:{self.attempt}:{self.status}"
        return f"{key}:{self.occurrence}" if self.occurrence else key


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: int
    rule_name: str
    kind: str
    idempotency_key: str
    url: str
    body: str
    status: str
    attempts: int
    next_attempt_time: int
    last_error: str
    created_time: int
    delivered_time: int
    secret_ref: str = ""  # the rule's webhook_secret when it was queued


def _rule(row: object) -> Rule:
    m = row._mapping  # type: ignore[attr-defined]
    return Rule(
        name=m["name"],
        kinds=tuple(json.loads(m["kinds"])),
        webhook_url=m["webhook_url"],
        webhook_secret=m["webhook_secret"],
        plan_name=m["plan_name"],
        job_identifier=m["job_identifier"],
        p95_factor=float(m["p95_factor"]),
        p95_runs=int(m["p95_runs"]),
        source_plan=m["source_plan"],
        child_context=m["child_context"],
        deadline=m["deadline"],
        version=int(m["version"]),
        updated_time=int(m["updated_time"]),
        updated_by=m["updated_by"],
    )


def put_rule(conn: Connection, rule: Rule) -> Rule:
    """Create or replace a rule; its version counts the changes."""
    old = get_rule(conn, rule.name)
    values = {
        "plan_name": rule.plan_name,
        "job_identifier": rule.job_identifier,
        "kinds": json.dumps(list(rule.kinds)),
        "webhook_url": rule.webhook_url,
        "webhook_secret": rule.webhook_secret,
        "p95_factor": rule.p95_factor,
        "p95_runs": rule.p95_runs,
        "source_plan": rule.source_plan,
        "child_context": rule.child_context,
        "deadline": rule.deadline,
        "updated_time": rule.updated_time,
        "updated_by": rule.updated_by,
    }
    if old is None:
        conn.execute(insert(notification_rules).values(name=rule.name, version=1, **values))
    else:
        conn.execute(
            update(notification_rules)
            .where(notification_rules.c.name == rule.name)
            .values(version=old.version + 1, **values)
        )
    stored = get_rule(conn, rule.name)
    assert stored is not None
    return stored


def get_rule(conn: Connection, name: str) -> Rule | None:
    row = conn.execute(select(notification_rules).where(notification_rules.c.name == name)).first()
    return _rule(row) if row is not None else None


def list_rules(conn: Connection) -> list[Rule]:
    return [
        _rule(r)
        for r in conn.execute(select(notification_rules).order_by(notification_rules.c.name))
    ]


def replace_plan_rules(conn: Connection, plan_name: str, rules: Sequence[Rule]) -> None:
    """The rules `plan_name`'s file declares become exactly `rules` (none: removed)."""
    c = notification_rules.c
    conn.execute(delete(notification_rules).where(c.source_plan == plan_name))
    for rule in rules:
        put_rule(conn, rule)


def delete_rule(conn: Connection, name: str) -> bool:
    c = notification_rules.c
    return bool(conn.execute(delete(notification_rules).where(c.name == name)).rowcount)


def enqueue(
    conn: Connection, events: Sequence[NotificationEvent], now: int, rules: Sequence[Rule] | None
) -> int:
    """One PENDING row per rule matching each event (`rules` None: read them here). The event's
    JSON is made once and shared by its rules' rows (only the leading "rule" differs)."""
    if not events:
        return 0
    rules = list_rules(conn) if rules is None else rules
    if not rules:
        return 0
    rows: list[dict[str, object]] = []
    for event in events:
        matching = [rule for rule in rules if rule.matches(event)]
        if not matching:
            continue
        tail = json.dumps(asdict(event), sort_keys=True)[1:]  # the fields after "{"
        key = event.key
        rows.extend(
            {
                "rule_name": rule.name,
                "kind": event.kind,
                "idempotency_key": f"{rule.name}:{key}",
                "url": rule.webhook_url,
                "body": '{"rule": ' + json.dumps(rule.name) + ", " + tail,
                "secret_ref": rule.webhook_secret,
                "status": PENDING,
                "next_attempt_time": now,
                "created_time": now,
            }
            for rule in matching
        )
    if rows:
        conn.execute(insert(notifications), rows)
    return len(rows)


def _row(row: object) -> NotificationRow:
    return NotificationRow(**dict(row._mapping))  # type: ignore[attr-defined]


def due(conn: Connection, now: int, limit: int = 50) -> list[NotificationRow]:
    n = notifications.c
    stmt = (
        select(notifications)
        .where(n.status == PENDING, n.next_attempt_time <= now)
        .order_by(n.next_attempt_time, n.id)
        .limit(limit)
    )
    return [_row(r) for r in conn.execute(stmt)]


def mark_delivered(conn: Connection, nid: int, now: int) -> None:
    conn.execute(
        update(notifications)
        .where(notifications.c.id == nid)
        .values(
            status=DELIVERED,
            attempts=notifications.c.attempts + 1,
            delivered_time=now,
            last_error="",
        )
    )


def mark_failed(conn: Connection, nid: int, error: str, next_time: int, dead: bool) -> None:
    conn.execute(
        update(notifications)
        .where(notifications.c.id == nid)
        .values(
            status=DEAD if dead else PENDING,
            attempts=notifications.c.attempts + 1,
            next_attempt_time=next_time,
            last_error=error[:2000],
        )
    )


def list_notifications(
    conn: Connection, *, statuses: Sequence[str] = (), before_id: int = 0, limit: int = 100
) -> list[NotificationRow]:
    """Newest first; page with `before_id` = the last row's id."""
    n = notifications.c
    stmt = select(notifications)
    if statuses:
        stmt = stmt.where(n.status.in_(list(statuses)))
    if before_id:
        stmt = stmt.where(n.id < before_id)
    return [_row(r) for r in conn.execute(stmt.order_by(n.id.desc()).limit(limit))]
