"""`ikasched event|queue|agent list|token ...`."""

from __future__ import annotations

import argparse
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import USAGE, Client, CliError, connect


def _admin(client: Client, service: str) -> Any:
    from ikasched.v1 import admin_service_pb2_grpc

    return client.stub(getattr(admin_service_pb2_grpc, f"{service}Stub"))


def event_raise(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    response = client.call(
        _admin(client, "GlobalEventService").RaiseGlobalEvent,
        admin_service_pb2.RaiseGlobalEventRequest(
            job_name=args.name,
            environment_group=args.environment_group,
            ignore_environment_group=args.any_group,
        ),
    )
    ids = list(response.context_instance_ids)
    output.emit(
        args.output,
        {"event": args.name, "context_instance_ids": ids},
        f"global event {args.name} reached {len(ids)} instance(s)"
        + "".join(f"\n  {i}" for i in ids),
    )
    return 0


def _kind(value: int) -> str:
    from ikasched.v1 import admin_service_pb2

    return str(admin_service_pb2.QueueKind.Name(value)).removeprefix("QUEUE_").lower()


def _queues(client: Client, include_empty: bool) -> list[Any]:
    from ikasched.v1 import admin_service_pb2

    response = client.call(
        _admin(client, "QueueService").ListQueues,
        admin_service_pb2.ListQueuesRequest(include_empty=include_empty),
    )
    return list(response.queues)


def queue_list(args: argparse.Namespace) -> int:
    client = connect(args)
    queues = _queues(client, args.all)
    rows = [
        [
            q.name,
            _kind(q.kind),
            str(q.size),
            f"{q.oldest_age_millis / 1000:.1f}s" if q.size else "-",
        ]
        for q in queues
    ]
    output.emit(
        args.output,
        [output.message_dict(q) for q in queues],
        output.table(rows, ["NAME", "KIND", "SIZE", "OLDEST"]),
    )
    return 0


def _peek(args: argparse.Namespace, client: Client, queue: str) -> int:
    from ikasched.v1 import admin_service_pb2

    if args.limit <= 0:
        raise CliError("--limit must be positive", USAGE)
    response = client.call(
        _admin(client, "QueueService").PeekQueue,
        admin_service_pb2.PeekQueueRequest(queue=queue, limit=args.limit),
    )
    rows = [
        [
            m.message_id,
            m.type_name,
            m.context_instance_id or "-",
            str(m.attempts),
            output.time_text(m.created_time),
            m.error or "-",
        ]
        for m in response.messages
    ]
    output.emit(
        args.output,
        [output.message_dict(m) for m in response.messages],
        output.table(rows, ["ID", "TYPE", "INSTANCE", "ATTEMPTS", "CREATED", "ERROR"])
        if rows
        else f"queue {queue} is empty",
    )
    return 0


def queue_peek(args: argparse.Namespace) -> int:
    return _peek(args, connect(args), args.queue)


def queue_dlq(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    dead = [q for q in _queues(client, True) if q.kind == admin_service_pb2.QUEUE_DEAD_LETTER]
    if not dead:
        raise CliError("this dashboard reports no dead-letter queue")
    return _peek(args, client, dead[0].name)


def queue_resubmit(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    message = client.call(
        _admin(client, "QueueService").ResubmitMessage,
        admin_service_pb2.QueueMessageRequest(queue=args.queue, message_id=args.message_id),
    )
    output.emit(
        args.output,
        output.message_dict(message),
        f"message {args.message_id} resubmitted to {message.queue or 'the inbox'}",
    )
    return 0


def queue_delete(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    stub = _admin(client, "QueueService")
    if args.all:
        if args.message_id:
            raise CliError("give a message id or --all, not both", USAGE)
        response = client.call(
            stub.DeleteAllMessages,
            admin_service_pb2.DeleteAllMessagesRequest(queue=args.queue, force=args.force),
        )
    elif args.message_id:
        response = client.call(
            stub.DeleteMessage,
            admin_service_pb2.QueueMessageRequest(queue=args.queue, message_id=args.message_id),
        )
    else:
        raise CliError("give a message id or --all", USAGE)
    output.emit(
        args.output,
        {"deleted": response.deleted},
        f"{response.deleted} message(s) deleted from {args.queue}",
    )
    return 0


def agent_list(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    response = client.call(
        _admin(client, "AgentService").ListAgents,
        admin_service_pb2.ListAgentsRequest(connected_only=args.connected),
    )
    rows = [
        [
            a.agent_name,
            "connected" if a.connected else "away",
            a.agent_hostname or "-",
            a.agent_version or "-",
            str(a.running_jobs),
            str(a.queued_jobs),
            output.time_text(a.last_seen),
        ]
        for a in response.agents
    ]
    output.emit(
        args.output,
        [output.message_dict(a) for a in response.agents],
        output.table(
            rows,
            ["NAME", "STATE", "HOST", "VERSION", "RUNNING", "QUEUED", "LAST SEEN"],
            status_column=None,
        ),
    )
    return 0


def _role_name(value: int) -> str:
    from ikasched.v1 import admin_service_pb2

    return str(admin_service_pb2.Role.Name(value))


def token_create(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    role: Any = admin_service_pb2.Role.Value(args.role.upper())
    client = connect(args)
    response = client.call(
        _admin(client, "TokenService").CreateToken,
        admin_service_pb2.CreateTokenRequest(
            subject=args.subject,
            role=role,
            plan_names=args.plan,
            agent_name=args.agent,
            ttl_seconds=args.ttl,
        ),
    )
    data = {"token": output.message_dict(response.token), "secret": response.secret}
    output.emit(
        args.output,
        data,
        f"token {response.token.token_id} ({response.token.subject}, "
        f"{_role_name(response.token.role)}) created; its secret, shown only now:\n"
        f"{response.secret}",
    )
    return 0


def token_list(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    response = client.call(
        _admin(client, "TokenService").ListTokens,
        admin_service_pb2.ListTokensRequest(include_inactive=args.all),
    )
    rows = [
        [
            t.token_id,
            t.subject,
            _role_name(t.role),
            ",".join(t.plan_names) or "-",
            t.agent_name or "-",
            output.time_text(t.created_time),
            "revoked" if t.revoked_time else "active",
        ]
        for t in response.tokens
    ]
    output.emit(
        args.output,
        [output.message_dict(t) for t in response.tokens],
        output.table(
            rows,
            ["ID", "SUBJECT", "ROLE", "PLANS", "AGENT", "CREATED", "STATE"],
            status_column=None,
        ),
    )
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    info = client.call(
        _admin(client, "TokenService").RevokeToken,
        admin_service_pb2.RevokeTokenRequest(token_id=args.token_id),
    )
    output.emit(
        args.output, output.message_dict(info), f"token {info.token_id} ({info.subject}) revoked"
    )
    return 0
