"""NotificationService: rules (apply, list, delete, test) and the notifications they queued
(docs/semantics.md §15). Rules act across plans: a plan-limited token may call none of these
(security.GLOBAL_SERVICES)."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from sqlalchemy import Connection

from ikasched.v1 import notification_service_pb2 as pb
from ikasched.v1 import notification_service_pb2_grpc
from ikasched_common.errors import InvalidArgument, NotFound
from ikasched_dashboard.email_channel import mailto_address
from ikasched_dashboard.services.calendars import read_document
from ikasched_dashboard.services.context import (
    ServiceContext,
    decode_token,
    encode_token,
    page_size,
    require,
)
from ikasched_dashboard.services.errors import Ctx, unary
from ikasched_dashboard.services.history import MAX_LAST_RUNS
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.webhook_signing import parse_secret

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FIELDS = frozenset({"name", "plan", "job", "on", "webhook", "email", "secret", "p95", "by"})
_BY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
_STATUSES = (store.PENDING, store.DELIVERED, store.DEAD)


def parse_rule(document: object, actor: str, now: int) -> store.Rule:
    """A rule from its document; InvalidArgument naming the field and why."""
    if not isinstance(document, dict):
        raise InvalidArgument("must be a mapping with name, on and webhook", field="document")
    if True in document and "on" not in document:  # YAML 1.1 reads a bare `on:` key as true
        document = {("on" if k is True else k): v for k, v in document.items()}
    unknown = sorted(str(k) for k in document if k not in _FIELDS)
    if unknown:
        raise InvalidArgument(
            f"unknown field (expected {', '.join(sorted(_FIELDS))})", field=unknown[0]
        )
    name = _string(document, "name", required=True)
    if not _NAME.match(name):
        raise InvalidArgument(
            "letters, digits, '.', '_' or '-', starting with a letter or digit", field="name"
        )
    on = document.get("on")
    if isinstance(on, str):
        on = [on]
    if not isinstance(on, list) or not on:
        raise InvalidArgument(
            f"a list of one or more of {', '.join(store.EVENT_KINDS)}", field="on"
        )
    kinds: list[str] = []
    for n, kind in enumerate(on):
        word = str(kind).strip().upper()
        if word not in store.EVENT_KINDS:
            raise InvalidArgument(
                f"{kind!r} is not one of {', '.join(store.EVENT_KINDS)}", field=f"on[{n}]"
            )
        if word not in kinds:
            kinds.append(word)
    if ("webhook" in document) == ("email" in document):
        raise InvalidArgument(
            "a rule names either a webhook or an email, one of them", field="webhook"
        )
    secret = parse_secret(document.get("secret"))
    if "email" in document:
        if secret:
            raise InvalidArgument("signs webhooks only, not e-mail", field="secret")
        url = mailto_address(document["email"])
    else:
        url = _string(document, "webhook", required=True)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgument("must be an http:// or https:// URL with a host", field="webhook")
    factor, runs = _p95(document.get("p95"), kinds)
    by = _by(document.get("by"), kinds)
    return store.Rule(
        name=name,
        kinds=tuple(kinds),
        webhook_url=url,
        webhook_secret=secret,
        p95_factor=factor,
        p95_runs=runs,
        deadline=by,
        plan_name=_string(document, "plan"),
        job_identifier=_string(document, "job"),
        updated_time=now,
        updated_by=actor,
    )


def _by(value: object, kinds: list[str]) -> str:
    """`by: "HH:MM[:SS]"` of an OVERDUE rule as HH:MM:SS ("" when unset)."""
    if value is None or value == "":
        return ""
    if "OVERDUE" not in kinds:
        raise InvalidArgument("applies to OVERDUE rules only", field="by")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 86400:
        value = f"{value // 3600:02d}:{value // 60 % 60:02d}:{value % 60:02d}"  # YAML 1.1 06:30
    if not isinstance(value, str) or not _BY.match(value.strip()):
        raise InvalidArgument("a time of day, HH:MM or HH:MM:SS (24 h)", field="by")
    text = value.strip()
    return text if len(text) == 8 else text + ":00"


def _p95(value: object, kinds: list[str]) -> tuple[float, int]:
    """`p95: {factor: K, runs: N}` of a RUNNING_TIME rule (None: off)."""
    if value is None:
        return 0.0, 0
    if "RUNNING_TIME" not in kinds:
        raise InvalidArgument("applies to RUNNING_TIME rules only", field="p95")
    if not isinstance(value, dict):
        raise InvalidArgument("must be a mapping with factor and runs", field="p95")
    unknown = sorted(str(k) for k in value if k not in ("factor", "runs"))
    if unknown:
        raise InvalidArgument("unknown field (expected factor, runs)", field=f"p95.{unknown[0]}")
    factor = value.get("factor")
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not 1 <= factor <= 1000:
        raise InvalidArgument("a number from 1 to 1000", field="p95.factor")
    runs = value.get("runs", 20)
    if isinstance(runs, bool) or not isinstance(runs, int) or not 3 <= runs <= MAX_LAST_RUNS:
        raise InvalidArgument(f"a whole number from 3 to {MAX_LAST_RUNS}", field="p95.runs")
    return float(factor), runs


def _string(document: dict[Any, Any], key: str, *, required: bool = False) -> str:
    value = document.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidArgument("must be a string", field=key)
    if required and not value.strip():
        raise InvalidArgument("required", field=key)
    return value.strip()


def rule_proto(rule: store.Rule) -> pb.NotificationRule:
    return pb.NotificationRule(
        name=rule.name,
        context_name=rule.plan_name,
        job_identifier=rule.job_identifier,
        on=list(rule.kinds),
        webhook_url=rule.webhook_url,
        webhook_secret=rule.webhook_secret,
        p95_factor=rule.p95_factor,
        p95_runs=rule.p95_runs,
        source_plan=rule.source_plan,
        child_context=rule.child_context,
        deadline=rule.deadline,
        version=rule.version,
        updated_time=rule.updated_time,
        updated_by=rule.updated_by,
    )


def notification_proto(row: store.NotificationRow) -> pb.Notification:
    return pb.Notification(
        id=row.id,
        rule_name=row.rule_name,
        kind=row.kind,
        idempotency_key=row.idempotency_key,
        url=row.url,
        body=row.body,
        status=row.status,
        attempts=row.attempts,
        next_attempt_time=row.next_attempt_time,
        last_error=row.last_error,
        created_time=row.created_time,
        delivered_time=row.delivered_time,
    )


class NotificationServicer(notification_service_pb2_grpc.NotificationServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @unary
    async def ApplyNotificationRule(
        self, request: pb.ApplyNotificationRuleRequest, context: Ctx
    ) -> pb.ApplyNotificationRuleResponse:
        rule = parse_rule(read_document(request.document), self.ctx.actor(), self.ctx.now_ms())
        stored = await self.ctx.write(lambda c: store.put_rule(c, rule))
        return pb.ApplyNotificationRuleResponse(rule=rule_proto(stored))

    @unary
    async def ListNotificationRules(
        self, request: pb.ListNotificationRulesRequest, context: Ctx
    ) -> pb.ListNotificationRulesResponse:
        rules = await self.ctx.read(store.list_rules)
        return pb.ListNotificationRulesResponse(rules=[rule_proto(r) for r in rules])

    @unary
    async def DeleteNotificationRule(
        self, request: pb.DeleteNotificationRuleRequest, context: Ctx
    ) -> pb.DeleteNotificationRuleResponse:
        name = require(request.name, "name")
        if not await self.ctx.write(lambda c: store.delete_rule(c, name)):
            raise NotFound(f"notification rule {name!r} not found")
        return pb.DeleteNotificationRuleResponse()

    @unary
    async def TestNotificationRule(
        self, request: pb.TestNotificationRuleRequest, context: Ctx
    ) -> pb.TestNotificationRuleResponse:
        name = require(request.name, "name")
        now, actor = self.ctx.now_ms(), self.ctx.actor()

        def queue(conn: Connection) -> store.NotificationRow:
            rule = store.get_rule(conn, name)
            if rule is None:
                raise NotFound(f"notification rule {name!r} not found")
            event = store.NotificationEvent(
                kind="TEST",
                plan_name=rule.plan_name,
                instance_id="",
                time=now,
                status="",
                reason=f"test by {actor}",
            )
            test_rule = store.Rule(
                rule.name, ("TEST",), rule.webhook_url, webhook_secret=rule.webhook_secret
            )
            store.enqueue(conn, [event], now, [test_rule])
            return store.list_notifications(conn, limit=1)[0]

        row = await self.ctx.write(queue)
        return pb.TestNotificationRuleResponse(notification=notification_proto(row))

    @unary
    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: Ctx
    ) -> pb.ListNotificationsResponse:
        size = page_size(request.page)
        statuses = []
        for n, status in enumerate(request.statuses):
            word = status.strip().upper()
            if word not in _STATUSES:
                raise InvalidArgument(
                    f"{status!r} is not one of {', '.join(_STATUSES)}", field=f"statuses[{n}]"
                )
            statuses.append(word)
        token = decode_token(request.page.page_token)
        if token is not None and not (isinstance(token, int) and token > 0):
            raise InvalidArgument("not a token this server gave out", field="page.page_token")
        rows = await self.ctx.read(
            lambda c: store.list_notifications(
                c, statuses=statuses, before_id=token or 0, limit=size + 1
            )
        )
        more = len(rows) > size
        rows = rows[:size]
        return pb.ListNotificationsResponse(
            notifications=[notification_proto(r) for r in rows],
            next_page_token=encode_token(rows[-1].id) if more else "",
        )
