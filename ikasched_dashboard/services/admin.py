"""GlobalEventService, QueueService (inbox journal, dead letters, per-agent outboxes) and
AgentService (presence from the store)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

from google.protobuf import json_format, symbol_database
from google.protobuf.message import DecodeError, Message
from sqlalchemy import Connection

from ikasched.v1 import admin_service_pb2, admin_service_pb2_grpc, agent_pb2
from ikasched_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from ikasched_common.journal import DeadLetterJournal, Journal, one_transaction
from ikasched_common.secrets import mask_secret_parameters
from ikasched_dashboard.services.context import ServiceContext, not_negative, require
from ikasched_dashboard.services.errors import Ctx, unary
from ikasched_dashboard.store import agents as agent_store
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import messages as message_store
from ikasched_dashboard.store import outbox_link
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.changes import AuditEntry
from ikasched_dashboard.store.db import write_transaction

INBOX = "inbox"
DEAD_LETTERS = "dlq"
OUTBOX_PREFIX = "outbox/"
DEFAULT_PEEK = 20
MAX_PEEK = 1000
_ALL = 1_000_000

T = TypeVar("T")
log = logging.getLogger(__name__)


class GlobalEventServicer(admin_service_pb2_grpc.GlobalEventServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @unary
    async def RaiseGlobalEvent(
        self, request: admin_service_pb2.RaiseGlobalEventRequest, context: Ctx
    ) -> admin_service_pb2.RaiseGlobalEventResponse:
        require(request.job_name, "job_name")
        reached = await self.ctx.orchestration.raise_global_event(
            request.job_name,
            environment_group=request.environment_group,
            ignore_environment_group=request.ignore_environment_group,
            actor=self.ctx.actor(),
            time_ms=self.ctx.now_ms(),
            plans=self.ctx.visible_plans(),
        )
        return admin_service_pb2.RaiseGlobalEventResponse(context_instance_ids=reached)


def payload_json(type_name: str, data: bytes) -> tuple[str, str]:
    """(masked protobuf JSON, problem) of a queued payload."""
    try:
        cls: Callable[[], Message] = symbol_database.Default().GetSymbol(type_name)
    except KeyError:
        return "", f"unknown payload type {type_name!r}"
    try:
        message = cls()
        message.ParseFromString(data)
    except DecodeError:
        return "", f"payload is not a {type_name}"
    return json_format.MessageToJson(mask_secret_parameters(message), indent=None), ""


def _key(message_id: str) -> int:
    try:
        key = int(message_id)
    except ValueError as exc:
        raise InvalidArgument("not a message id of this queue", field="message_id") from exc
    if key < 1:
        raise InvalidArgument("not a message id of this queue", field="message_id")
    return key


class QueueServicer(admin_service_pb2_grpc.QueueServiceServicer):
    """Queues: "inbox" (the dashboard's inbound journal), "dlq" (its dead letters) and
    "outbox/<agent>" (messages waiting for that agent's ack; emptied only whole, forced)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _inbox(self) -> Journal:
        if self.ctx.inbox is None:
            raise Unavailable("the inbox journal is not served by this dashboard")
        return self.ctx.inbox

    def _dlq(self) -> DeadLetterJournal:
        if self.ctx.dead_letters is None:
            raise Unavailable("the dead-letter journal is not served by this dashboard")
        return self.ctx.dead_letters

    async def _off(self, work: Callable[[], T]) -> T:
        return await asyncio.to_thread(work)

    def _inbox_message(self, key: int, value: bytes) -> admin_service_pb2.QueueMessage:
        text, problem = payload_json(self.ctx.inbox_type, value)
        return admin_service_pb2.QueueMessage(
            queue=INBOX,
            message_id=str(key),
            type_name=self.ctx.inbox_type,
            json=text,
            error=problem,
        )

    @unary
    async def ListQueues(
        self, request: admin_service_pb2.ListQueuesRequest, context: Ctx
    ) -> admin_service_pb2.ListQueuesResponse:
        now = self.ctx.now_ms()
        out: list[admin_service_pb2.QueueInfo] = []
        if self.ctx.inbox is not None:
            inbox = self.ctx.inbox
            size = await self._off(lambda: len(inbox))
            out.append(
                admin_service_pb2.QueueInfo(
                    name=INBOX, kind=admin_service_pb2.QUEUE_INBOX, size=size
                )
            )
        if self.ctx.dead_letters is not None:
            dlq = self.ctx.dead_letters
            size = await self._off(lambda: len(dlq))
            head = await self._off(lambda: dlq.peek(1))
            age = max(now - int(head[0].dead_at * 1000), 0) if head else 0
            out.append(
                admin_service_pb2.QueueInfo(
                    name=DEAD_LETTERS,
                    kind=admin_service_pb2.QUEUE_DEAD_LETTER,
                    size=size,
                    oldest_age_millis=age,
                )
            )
        stats = await self.ctx.read(message_store.outbox_stats)
        names = set(stats)
        if request.include_empty:
            names |= {a.name for a in await self.ctx.read(agent_store.list_agents)}
        for name in sorted(names):
            s = stats.get(name)
            out.append(
                admin_service_pb2.QueueInfo(
                    name=OUTBOX_PREFIX + name,
                    kind=admin_service_pb2.QUEUE_OUTBOX,
                    size=s.size if s else 0,
                    oldest_age_millis=max(now - s.oldest_created_time, 0) if s else 0,
                )
            )
        if not request.include_empty:
            out = [q for q in out if q.size]
        return admin_service_pb2.ListQueuesResponse(queues=out)

    @unary
    async def PeekQueue(
        self, request: admin_service_pb2.PeekQueueRequest, context: Ctx
    ) -> admin_service_pb2.PeekQueueResponse:
        require(request.queue, "queue")
        not_negative(limit=request.limit)
        if request.limit > MAX_PEEK:
            raise ResourceExhausted(f"limit: at most {MAX_PEEK}, got {request.limit}")
        limit = request.limit or DEFAULT_PEEK
        if request.queue == INBOX:
            inbox = self._inbox()
            items = await self._off(lambda: inbox.peek(limit))
            return admin_service_pb2.PeekQueueResponse(
                messages=[self._inbox_message(i.key, i.value) for i in items]
            )
        if request.queue == DEAD_LETTERS:
            dlq = self._dlq()
            letters = await self._off(lambda: dlq.peek(limit))
            messages = []
            for letter in letters:
                text, problem = payload_json(self.ctx.inbox_type, letter.value)
                messages.append(
                    admin_service_pb2.QueueMessage(
                        queue=DEAD_LETTERS,
                        message_id=str(letter.key),
                        created_time=int(letter.dead_at * 1000),
                        type_name=self.ctx.inbox_type,
                        json=text,
                        error=letter.reason or problem,
                        attempts=letter.attempts,
                    )
                )
            return admin_service_pb2.PeekQueueResponse(messages=messages)
        agent = self._outbox_agent(request.queue)
        rows = await self.ctx.read(lambda c: message_store.peek_outbox(c, agent, limit))
        out = []
        for row in rows:
            text, problem = payload_json(row.type_name, row.message)
            out.append(
                admin_service_pb2.QueueMessage(
                    queue=request.queue,
                    message_id=row.message_id or str(row.id),
                    created_time=row.created_time,
                    type_name=row.type_name,
                    json=text,
                    error=problem,
                    context_instance_id=row.instance_id or "",
                )
            )
        return admin_service_pb2.PeekQueueResponse(messages=out)

    def _outbox_agent(self, queue: str) -> str:
        if queue.startswith(OUTBOX_PREFIX) and len(queue) > len(OUTBOX_PREFIX):
            return queue[len(OUTBOX_PREFIX) :]
        raise NotFound(f"no queue {queue!r} (queues: inbox, dlq, outbox/<agent>)")

    @unary
    async def ResubmitMessage(
        self, request: admin_service_pb2.QueueMessageRequest, context: Ctx
    ) -> admin_service_pb2.QueueMessage:
        require(request.queue, "queue")
        require(request.message_id, "message_id")
        if request.queue != DEAD_LETTERS:
            self._known(request.queue)
            raise FailedPrecondition(f"only dead letters are resubmitted, not {request.queue}")
        key = _key(request.message_id)
        dlq, inbox = self._dlq(), self._inbox()

        def move() -> tuple[int, bytes]:
            # the new place first, so a crash between the steps duplicates, never loses
            with one_transaction(dlq.journal, inbox):
                value = dlq.get(key).value
                (new_key,) = inbox.append([value])
                dlq.delete([key])
            return new_key, value

        new_key, value = await self._off(move)
        return self._inbox_message(new_key, value)

    def _known(self, queue: str) -> None:
        if queue not in (INBOX, DEAD_LETTERS):
            self._outbox_agent(queue)

    @unary
    async def DeleteMessage(
        self, request: admin_service_pb2.QueueMessageRequest, context: Ctx
    ) -> admin_service_pb2.DeleteMessagesResponse:
        require(request.queue, "queue")
        require(request.message_id, "message_id")
        self._known(request.queue)
        if request.queue.startswith(OUTBOX_PREFIX):
            raise FailedPrecondition("outbox messages leave when their agent acknowledges them")
        key = _key(request.message_id)
        if request.queue == DEAD_LETTERS:
            dlq = self._dlq()
            deleted = await self._off(lambda: dlq.delete([key]))
        else:
            inbox = self._inbox()
            deleted = await self._off(lambda: inbox.remove([key]))
        if not deleted:
            raise NotFound(f"no message {request.message_id} in {request.queue}")
        return admin_service_pb2.DeleteMessagesResponse(deleted=deleted)

    @unary
    async def DeleteAllMessages(
        self, request: admin_service_pb2.DeleteAllMessagesRequest, context: Ctx
    ) -> admin_service_pb2.DeleteMessagesResponse:
        require(request.queue, "queue")
        self._known(request.queue)
        if request.queue.startswith(OUTBOX_PREFIX):
            return await self._delete_outbox(self._outbox_agent(request.queue), request.force)
        journal: Journal
        if request.queue == DEAD_LETTERS:
            journal = self._dlq().journal
        else:
            if not request.force:
                raise FailedPrecondition("emptying the inbox loses work: set force to do it")
            journal = self._inbox()

        def clear() -> int:
            total = 0
            while True:
                items = journal.peek(1000)
                if not items:
                    return total
                total += journal.remove([i.key for i in items])

        return admin_service_pb2.DeleteMessagesResponse(deleted=await self._off(clear))

    async def _delete_outbox(
        self, agent: str, force: bool
    ) -> admin_service_pb2.DeleteMessagesResponse:
        """Empty a stuck agent outbox (docs/architecture.md §4.9): audited, then the agent's
        link is ended so that it reconnects and gets its provisioning and instances afresh."""
        if not force:
            raise FailedPrecondition(
                f"emptying outbox/{agent} drops messages the agent has not acknowledged"
                " (initiations, kills, provisioning): set force to do it"
            )
        actor = self.ctx.actor()
        now = self.ctx.now_ms()

        def work() -> int:
            with write_transaction(self.ctx.engine) as conn:
                deleted = outbox_link.delete_outbox(conn, agent)
                change_store.append_audit(
                    conn,
                    [
                        AuditEntry(
                            time=now,
                            instance_id="",
                            plan_name="",
                            from_status="",
                            to_status="",
                            cause=f"queue delete {OUTBOX_PREFIX}{agent}",
                            actor=actor,
                            detail=f"{deleted} outbox message(s) deleted by an admin",
                        )
                    ],
                )
                return deleted

        deleted = await asyncio.to_thread(work)
        log.warning("%s deleted %d message(s) from outbox/%s", actor, deleted, agent)
        self.ctx.disconnect_agent(agent)  # after the delete: its reconnect sync must stay
        return admin_service_pb2.DeleteMessagesResponse(deleted=deleted)


class AgentServicer(admin_service_pb2_grpc.AgentServiceServicer):
    """Agents with their last known presence, outbox size and plans."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _info(
        self,
        conn: Connection,
        agent: agent_store.AgentPresence,
        stats: dict[str, message_store.OutboxStats],
    ) -> admin_service_pb2.AgentInfo:
        # the agent's own report (lane status) when it has one, else the job rows
        load = self.ctx.agent_load(agent.name)
        running = (
            load.running_jobs
            if load is not None
            else len(instance_store.jobs_on_agent(conn, agent.name, ("RUNNING",)))
        )
        s = stats.get(agent.name)
        plans = [p for p in plan_store.plans_on_agent(conn, agent.name) if self.ctx.may_see(p)]
        return admin_service_pb2.AgentInfo(
            agent_name=agent.name,
            connected=agent.connected,
            last_seen=agent.last_seen,
            agent_version=agent.version,
            agent_hostname=agent.hostname,
            connected_since=agent.connected_since,
            outbox_size=s.size if s else 0,
            running_jobs=running,
            queued_jobs=load.queued_jobs if load is not None else 0,
            plan_names=plans,
            labels=dict(agent.labels),
        )

    @unary
    async def ListAgents(
        self, request: admin_service_pb2.ListAgentsRequest, context: Ctx
    ) -> admin_service_pb2.ListAgentsResponse:
        def load(conn: Connection) -> list[admin_service_pb2.AgentInfo]:
            stats = message_store.outbox_stats(conn)
            agents = agent_store.list_agents(conn, connected_only=request.connected_only)
            infos = [self._info(conn, a, stats) for a in agents]
            # a plan-limited token sees the agents of its plans only
            return [i for i in infos if limited is None or i.plan_names]

        limited = self.ctx.visible_plans()
        return admin_service_pb2.ListAgentsResponse(agents=await self.ctx.read(load))

    @unary
    async def GetAgent(
        self, request: admin_service_pb2.GetAgentRequest, context: Ctx
    ) -> admin_service_pb2.AgentInfo:
        require(request.agent_name, "agent_name")

        visible = self.ctx.visible_plans()

        def load(conn: Connection) -> admin_service_pb2.AgentInfo | None:
            if visible is not None and not any(
                self.ctx.may_see(p) for p in plan_store.plans_on_agent(conn, request.agent_name)
            ):
                # before the lookup: a plan-limited token learns nothing of other agents
                raise PermissionDenied(
                    f"agent {request.agent_name!r} runs none of the plans this token may "
                    f"touch ({', '.join(sorted(visible))})"
                )
            agent = agent_store.get_agent(conn, request.agent_name)
            if agent is None:
                return None
            return self._info(conn, agent, message_store.outbox_stats(conn))

        info = await self.ctx.read(load)
        if info is None:
            raise NotFound(f"agent {request.agent_name!r} not known")
        return info

    @unary
    async def SetAgentDryRunMode(
        self, request: admin_service_pb2.SetAgentDryRunModeRequest, context: Ctx
    ) -> admin_service_pb2.AgentInfo:
        name = require(request.agent_name, "agent_name")
        for job, _on in request.mode.job_dry_run.items():
            if not job.strip():
                raise InvalidArgument("mode.job_dry_run: a job name is empty")
        now = self.ctx.now_ms()
        message = agent_pb2.DashboardMessage(
            id=f"dry-run-mode:{uuid.uuid4().hex}",
            created_time=now,
            set_dry_run_mode=request.mode,
        )

        visible = self.ctx.visible_plans()

        def queue(conn: Connection) -> bool:
            if visible is not None:
                # the mode acts on every plan of the agent: all of them must be the token's
                plans = plan_store.plans_on_agent(conn, name)
                if not plans or not set(plans) <= visible:
                    raise PermissionDenied(
                        f"agent {name!r} runs plans beyond this token's "
                        f"({', '.join(sorted(visible))}): its dry-run mode is not the token's "
                        "to set"
                    )
            if agent_store.get_agent(conn, name) is None:
                return False
            message_store.insert_outbox(
                conn,
                [
                    message_store.OutboxMessage(
                        agent_name=name,
                        message=message.SerializeToString(),
                        message_id=message.id,
                        type_name="set_dry_run_mode",
                        instance_id=None,
                        created_time=now,
                    )
                ],
            )
            return True

        if not await self.ctx.write(queue):
            raise NotFound(f"agent_name: agent {name!r} not known")
        self.ctx.notify_agents([name])
        return await self.GetAgent(admin_service_pb2.GetAgentRequest(agent_name=name), context)
