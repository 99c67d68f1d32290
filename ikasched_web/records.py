"""The console's record pages (docs/architecture.md §11.2): execution history with filters and
paging (`HistoryService.ListJobRuns`), notification rules and their deliveries
(`NotificationService`), agents (`ListAgents`) and queue sizes (`ListQueues`). All read-only:
a viewer's token reads them as the CLI's does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    common_pb2,
    history_service_pb2,
    history_service_pb2_grpc,
    notification_service_pb2,
    notification_service_pb2_grpc,
)
from ikasched_common.errors import InvalidArgument
from ikasched_web.api import Api, ApiError, stub

HISTORY_PAGE = 50
# The filters a history page reads from its query string (and carries to its next page).
HISTORY_FILTERS = ("plan", "instance", "job", "agent", "status", "after", "before")
RUN_END_STATUSES = ("COMPLETE", "SKIPPED_COMPLETE", "ERROR", "KILLED")
NOTIFICATION_STATUSES = ("PENDING", "DELIVERED", "DEAD")


def parse_time(text: str, field: str) -> int:
    """`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` (UTC unless an offset is given) as epoch ms; 0
    when empty."""
    text = text.strip()
    if not text:
        return 0
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(
            f"{text!r} is not a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)", field=field
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def history_request(query: Mapping[str, str]) -> history_service_pb2.ListJobRunsRequest:
    """The ListJobRuns request of a history page's query string; a bad filter is an
    InvalidArgument naming it."""
    status = query.get("status", "").strip().upper()
    statuses: list[str] = []
    if status:
        if status not in RUN_END_STATUSES:
            raise InvalidArgument(
                f"{status!r} is not how a run ends (one of {', '.join(RUN_END_STATUSES)})",
                field="status",
            )
        statuses.append(status)
    after = parse_time(query.get("after", ""), "after")
    before = parse_time(query.get("before", ""), "before")
    if after and before and after >= before:
        raise InvalidArgument("must be earlier than before", field="after")
    plan = query.get("plan", "").strip()
    return history_service_pb2.ListJobRunsRequest(
        context_names=[plan] if plan else [],
        context_instance_id=query.get("instance", "").strip(),
        job_identifier=query.get("job", "").strip(),
        agent_name=query.get("agent", "").strip(),
        statuses=statuses,
        ended_after=after,
        ended_before=before,
        page=common_pb2.PageRequest(page_size=HISTORY_PAGE, page_token=query.get("page", "")),
    )


async def history(api: Api, token: str, query: Mapping[str, str]) -> dict[str, Any]:
    filters = {name: query.get(name, "") for name in HISTORY_FILTERS}
    values: dict[str, Any] = {"filters": filters, "runs": [], "next_page": "", "problem": ""}
    try:
        request = history_request(query)
    except InvalidArgument as exc:
        values["problem"] = str(exc)
        return values
    service = stub(history_service_pb2_grpc.HistoryServiceStub, api.channel)
    answer = await api.call(service.ListJobRuns, request, token)
    values["runs"] = answer.runs
    values["next_page"] = answer.next_page_token
    if answer.next_page_token:
        carried = {k: v for k, v in filters.items() if v}
        values["next_query"] = urlencode({**carried, "page": answer.next_page_token})
    return values


async def _part(api: Api, method: Any, request: Any, token: str) -> tuple[Any, str]:
    try:
        return await api.call(method, request, token), ""
    except ApiError as exc:
        return None, str(exc)


async def notifications(api: Api, token: str, query: Mapping[str, str]) -> dict[str, Any]:
    """The rules and the deliveries (newest first, one page, optionally of one status); each
    from its own call, so a refusal of one leaves the other."""
    status = query.get("status", "").strip().upper()
    values: dict[str, Any] = {"wanted": status, "problem": ""}
    if status and status not in NOTIFICATION_STATUSES:
        values["problem"] = str(
            InvalidArgument(
                f"{status!r} is not a delivery status (one of {', '.join(NOTIFICATION_STATUSES)})",
                field="status",
            )
        )
        status = ""
    service = stub(notification_service_pb2_grpc.NotificationServiceStub, api.channel)
    rules, values["rules_error"] = await _part(
        api,
        service.ListNotificationRules,
        notification_service_pb2.ListNotificationRulesRequest(),
        token,
    )
    sent, values["sent_error"] = await _part(
        api,
        service.ListNotifications,
        notification_service_pb2.ListNotificationsRequest(
            statuses=[status] if status else [],
            page=common_pb2.PageRequest(page_size=100, page_token=query.get("page", "")),
        ),
        token,
    )
    values["rules"] = rules.rules if rules else []
    values["sent"] = sent.notifications if sent else []
    values["next_page"] = sent.next_page_token if sent else ""
    return values


async def agents(api: Api, token: str) -> dict[str, Any]:
    service = stub(admin_service_pb2_grpc.AgentServiceStub, api.channel)
    answer = await api.call(service.ListAgents, admin_service_pb2.ListAgentsRequest(), token)
    return {"agents": sorted(answer.agents, key=lambda a: a.agent_name)}


def queue_kind(value: int) -> str:
    name: str = admin_service_pb2.QueueKind.Name(value)
    return {
        "QUEUE_INBOX": "inbox",
        "QUEUE_OUTBOX": "outbox",
        "QUEUE_DEAD_LETTER": "dead letters",
    }.get(name, "")


async def queues(api: Api, token: str) -> dict[str, Any]:
    service = stub(admin_service_pb2_grpc.QueueServiceStub, api.channel)
    answer = await api.call(
        service.ListQueues, admin_service_pb2.ListQueuesRequest(include_empty=True), token
    )
    return {"queues": list(answer.queues)}


# A queue's messages a peek page shows (the dashboard's limit is larger).
PEEK = 100
# The queue actions a peek page offers: word -> (label, method). The dashboard decides which
# queue allows which (dead letters are resubmitted; inbox and dead letters deleted; outbox
# messages leave when their agent acknowledges them) and its refusal is shown.
QUEUE_VERBS = {"resubmit": ("Resubmit", "ResubmitMessage"), "delete": ("Delete", "DeleteMessage")}


def verbs_of_queue(name: str) -> tuple[str, ...]:
    if name == "dlq":
        return ("resubmit", "delete")
    return ("delete",) if name == "inbox" else ()


async def peek(api: Api, token: str, name: str) -> dict[str, Any]:
    service = stub(admin_service_pb2_grpc.QueueServiceStub, api.channel)
    answer = await api.call(
        service.PeekQueue, admin_service_pb2.PeekQueueRequest(queue=name, limit=PEEK), token
    )
    return {"queue": name, "messages": list(answer.messages), "peek": PEEK}


async def queue_action(api: Api, token: str, name: str, word: str, message_id: str) -> str:
    """Resubmit or delete one message; the flash text of its success."""
    if word not in QUEUE_VERBS:
        raise InvalidArgument(f"unknown queue verb {word!r}", field="verb")
    if not message_id.strip():
        raise InvalidArgument("enter a message id", field="message_id")
    label, method = QUEUE_VERBS[word]
    service = stub(admin_service_pb2_grpc.QueueServiceStub, api.channel)
    request = admin_service_pb2.QueueMessageRequest(queue=name, message_id=message_id.strip())
    await api.call(getattr(service, method), request, token)
    return f"{label}: message {message_id} of {name} done"
