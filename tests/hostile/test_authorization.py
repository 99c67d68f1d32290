"""Every authorization rule (docs/architecture.md §7), for every RPC of every service in the
generated descriptors and every kind of token, against the fully wired dashboard on
127.0.0.1: no token, a malformed, an expired and a revoked token are UNAUTHENTICATED; a
viewer reads and is PERMISSION_DENIED every verb; an agent token may only open its own
agent's link; an operator or an admin limited to plan "pa" is refused every object of plan
"pb" (and its listings and global events stay within "pa"). The stored state is the same
before and after the whole walk. Streams opened with a token end UNAUTHENTICATED when it is
revoked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from ikasched.v1 import admin_service_pb2, agent_pb2, instance_service_pb2, job_service_pb2
from ikasched_common.auth import Role, bearer_metadata
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.security import METHOD_ROLES, SERVICE_FILES, descriptor_methods
from ikasched_dashboard.testing import wait_until

from .conftest import (
    Api,
    Tokens,
    make_tokens,
    sim,
    sim_agents,
    token,
    two_agent_plan,
    unchanged,
    wired,
)

OK = grpc.StatusCode.OK
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
# A call that passed authentication and authorization ends with the service's own answer:
# its result, a validation or lookup error, or (a stream left open) our deadline.
REFUSED = frozenset({UNAUTHENTICATED, DENIED})
STREAM_WAIT = 1.0
CALL_WAIT = 10.0

# What a plan-"pa" operator may call with pb's names in the request: they touch no stored
# object of pb (ValidatePlan checks the caller's own text) or answer within pa only.
SCOPED_ALLOWED = frozenset(
    {
        "PlanService/ValidatePlan",
        "PlanService/ListPlans",
        "AgentService/ListAgents",
        # a filter over what the token sees: pb's jobs never appear (the leak check), and
        # naming pb in context_names is denied (test_list_jobs_naming_a_plan_beyond_the_token)
        "JobService/ListJobs",
        # deletes only the token's plans' runs (tests/services/test_history.py checks pb's stay)
        "HistoryService/PurgeHistory",
        "GlobalEventService/RaiseGlobalEvent",
        # converts the files it is given and checks each plan they name (the walk's empty
        # request names none); pb in the files is refused (tests/cli/test_ikasan.py)
        "MigrationService/ImportIkasanPlans",
    }
)


@dataclass(frozen=True, slots=True)
class World:
    """The objects of plan pb the requests name."""

    instance_b: str
    token_id: str


def _methods() -> dict[str, MethodDescriptor]:
    found: dict[str, MethodDescriptor] = {}
    for module in SERVICE_FILES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found[f"/{service.full_name}/{method.name}"] = method
    assert sorted(found) == descriptor_methods()
    return found


def _fill(message: Message, world: World) -> Message:
    """Name pb's objects in every field that names a plan, instance, job, agent, token..."""
    strings: Mapping[str, str] = {
        "context_name": "pb",
        "plan_name": "pb",
        "name": "pb",
        "context_instance_id": world.instance_b,
        "job_identifier": "b1-j1",
        "agent_name": "b1",
        "token_id": world.token_id,
        "job_name": "go",
        "queue": "inbox",
        "message_id": "1",
        "subject": "intruder",
    }
    descriptor = message.DESCRIPTOR
    for field in descriptor.fields:
        if field.is_repeated:
            continue
        if field.type == FieldDescriptor.TYPE_STRING and field.name in strings:
            setattr(message, field.name, strings[field.name])
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
            kind = field.message_type.full_name
            if kind == "ikasched.v1.Context":
                getattr(message, field.name).CopyFrom(two_agent_plan("pb", "b1", "b2"))
            elif kind == "ikasched.v1.JobRef":
                _fill(getattr(message, field.name), world)
    if descriptor.full_name == "ikasched.v1.CreateTokenRequest":
        message.role = admin_service_pb2.ADMIN  # type: ignore[attr-defined]
    if descriptor.full_name == "ikasched.v1.RaiseGlobalEventRequest":
        message.ignore_environment_group = True  # type: ignore[attr-defined]
    return message


def _request(method: MethodDescriptor, world: World, *, hello_for: str = "b1") -> Message:
    cls = message_factory.GetMessageClass(method.input_type)
    if method.input_type.full_name == "ikasched.v1.AgentFrame":
        frame = agent_pb2.AgentFrame()
        frame.hello.agent_name = hello_for
        frame.hello.agent_instance_id = "walk"
        return frame
    return _fill(cls(), world)


async def _call(
    channel: grpc.aio.Channel, path: str, method: MethodDescriptor, request: Message, md: Any
) -> tuple[grpc.StatusCode, str, list[Message]]:
    """One call; (status, details, responses read). Streams are read for STREAM_WAIT."""
    out_cls = message_factory.GetMessageClass(method.output_type)
    ser: Callable[[Any], bytes] = lambda m: m.SerializeToString()  # noqa: E731
    des = out_cls.FromString
    got: list[Message] = []
    try:
        if method.client_streaming and method.server_streaming:
            call: Any = channel.stream_stream(path, ser, des)(iter([request]), metadata=md)
            async with asyncio.timeout(STREAM_WAIT):
                async for item in call:
                    got.append(item)
        elif method.server_streaming:
            call = channel.unary_stream(path, ser, des)(request, metadata=md)
            async with asyncio.timeout(STREAM_WAIT):
                async for item in call:
                    got.append(item)
        elif method.client_streaming:
            reply = await channel.stream_unary(path, ser, des)(
                iter([request]), metadata=md, timeout=CALL_WAIT
            )
            got.append(reply)
        else:
            reply = await channel.unary_unary(path, ser, des)(
                request, metadata=md, timeout=CALL_WAIT
            )
            got.append(reply)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or "", got
    except TimeoutError:
        call.cancel()
        return grpc.StatusCode.DEADLINE_EXCEEDED, "left open", got
    return OK, "", got


def _short(path: str) -> str:
    return path.removeprefix("/ikasched.v1.")


def _expected(kind: str, path: str, tokens_role: Role | None) -> str:
    """ "unauth", "denied" or "allowed" for a token kind on a method (requests name pb)."""
    role = METHOD_ROLES[path]
    short = _short(path)
    if kind in ("none", "malformed", "expired", "revoked"):
        return "unauth"
    if kind == "agent":
        # an agent token opens a link only, and only for its own agent (the hello names b1)
        return "denied"
    if kind == "viewer":
        return "allowed" if role is Role.VIEWER else "denied"
    if kind == "admin_a":  # everything of pb is beyond it, admin methods too
        return "allowed" if short in SCOPED_ALLOWED else "denied"
    assert kind == "operator_a" and tokens_role is Role.OPERATOR
    if role is Role.ADMIN or role is Role.AGENT:
        return "denied"
    return "allowed" if short in SCOPED_ALLOWED else "denied"


def _kinds(tokens: Tokens) -> dict[str, tuple[str | None, Role | None]]:
    return {
        "none": (None, None),
        "malformed": (tokens.malformed, None),
        "expired": (tokens.expired, None),
        "revoked": (tokens.revoked, None),
        "viewer": (tokens.viewer, Role.VIEWER),
        "operator_a": (tokens.operator_a, Role.OPERATOR),
        "admin_a": (tokens.admin_a, Role.ADMIN),
        "agent": (tokens.agent_a1, Role.AGENT),
    }


async def _setup(app: Dashboard, tokens: Tokens, channel: grpc.aio.Channel) -> World:
    admin = Api(channel, tokens.admin)
    await admin.provision(two_agent_plan("pa", "a1", "a2"))
    await admin.provision(two_agent_plan("pb", "b1", "b2"))
    made = await admin.instances.CreateInstance(
        instance_service_pb2.CreateInstanceRequest(context_name="pb"), metadata=admin.md
    )
    return World(instance_b=made.id, token_id=tokens.admin.split("_")[1])


def _leaks(responses: list[Message], world: World) -> list[str]:
    text = " ".join(json_format.MessageToJson(r) for r in responses)
    return [s for s in (world.instance_b, '"pb"', '"b1"', '"b2"') if s in text]


async def test_every_rpc_and_every_token_kind(tmp_path: Path) -> None:
    async with wired(tmp_path) as app:
        tokens = make_tokens(app)
        methods = _methods()
        assert set(methods) == set(METHOD_ROLES)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            world = await _setup(app, tokens, channel)
            wrong: list[tuple[str, str, str, grpc.StatusCode, str]] = []
            leaks: list[tuple[str, list[str]]] = []
            with unchanged(app.engine):
                for kind, (secret, role) in _kinds(tokens).items():
                    md = None if secret is None else bearer_metadata(secret)
                    paths = sorted(methods)
                    results = await asyncio.gather(
                        *(
                            _call(channel, p, methods[p], _request(methods[p], world), md)
                            for p in paths
                        )
                    )
                    for path, (code, details, got) in zip(paths, results, strict=True):
                        want = _expected(kind, path, role)
                        seen = (
                            "unauth"
                            if code == UNAUTHENTICATED
                            else "denied"
                            if code == DENIED
                            else "allowed"
                        )
                        if seen != want:
                            wrong.append((kind, _short(path), want, code, details))
                        scoped = kind in ("operator_a", "admin_a") and seen == "allowed"
                        found = _leaks(got, world)
                        if scoped and _short(path) != "PlanService/ValidatePlan" and found:
                            leaks.append((_short(path), found))
                        if seen == "denied" and kind == "viewer":
                            assert METHOD_ROLES[path].value in details, (path, details)
            assert not wrong, "\n".join(map(str, wrong))
            assert not leaks, leaks


async def test_streams_end_when_their_token_is_revoked_mid_stream(tmp_path: Path) -> None:
    """Every streaming RPC of the descriptors, opened and held open with a good token, then
    the token revoked: each ends UNAUTHENTICATED."""
    async with wired(tmp_path) as app:
        tokens = make_tokens(app)
        streaming = sorted(
            p for p, m in _methods().items() if m.server_streaming or m.client_streaming
        )
        b1 = sim(app, "b1", tokens.agent_b1, triggers=["b1-start"])
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
            sim_agents(app, b1),
        ):
            world = await _setup(app, tokens, channel)
            admin = Api(channel, tokens.admin)
            # b1-j1 runs (and its log can be followed: the simulated agent never answers)
            await wait_until(lambda: ("pb", "b1-j1") in _ran(app, world))
            opened: dict[str, tuple[Any, str]] = {}
            for path in streaming:
                method = _methods()[path]
                if method.client_streaming:  # the agent link of b2, with b2's own token
                    secret = token(app, Role.AGENT, "agent b2", agent_name="b2")
                    request = _request(method, world, hello_for="b2")
                else:
                    secret = token(app, Role.VIEWER, f"watcher of {path}")
                    request = _request(method, world)
                    if path.endswith("/GetJobLogs"):
                        request.follow = True  # type: ignore[attr-defined]
                opened[path] = (_open(channel, path, method, request, secret), secret)
            auth = app.authenticator
            assert auth is not None
            await wait_until(lambda: auth.open_streams >= len(streaming))
            for _call_of, secret in opened.values():
                await admin.tokens.RevokeToken(
                    admin_service_pb2.RevokeTokenRequest(token_id=secret.split("_")[1]),
                    metadata=admin.md,
                )
            for path, (call, _secret) in opened.items():
                code, details = await _end_of(call)
                assert code == UNAUTHENTICATED, (path, code, details)
                assert "revoked" in details, (path, details)


def _ran(app: Dashboard, world: World) -> set[tuple[str, str]]:
    state = app.orchestrator.instance_state(world.instance_b)
    if state is None:
        return set()
    return {
        (state.plan_name, ident)
        for (ident, _ctx), js in state.jobs.items()
        if js.initiation is not None and js.status.value in ("RUNNING", "COMPLETE")
    }


def _open(
    channel: grpc.aio.Channel, path: str, method: MethodDescriptor, request: Message, secret: str
) -> Any:
    out_cls = message_factory.GetMessageClass(method.output_type)
    md = bearer_metadata(secret)
    ser: Callable[[Any], bytes] = lambda m: m.SerializeToString()  # noqa: E731
    if method.client_streaming:
        queue: asyncio.Queue[Message | None] = asyncio.Queue()
        queue.put_nowait(request)

        async def frames() -> Any:
            while (item := await queue.get()) is not None:
                yield item

        return channel.stream_stream(path, ser, out_cls.FromString)(frames(), metadata=md)
    return channel.unary_stream(path, ser, out_cls.FromString)(request, metadata=md)


async def _end_of(call: Any) -> tuple[grpc.StatusCode, str]:
    try:
        async with asyncio.timeout(15):
            async for _ in call:
                pass
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    except TimeoutError:
        return OK, "still open 15 s after the revocation"
    return OK, "ended without an error"


async def test_list_jobs_naming_a_plan_beyond_the_token(tmp_path: Path) -> None:
    async with wired(tmp_path) as app:
        tokens = make_tokens(app)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            await _setup(app, tokens, channel)
            call = channel.unary_unary(
                "/ikasched.v1.JobService/ListJobs",
                lambda m: m.SerializeToString(),
                job_service_pb2.ListJobsResponse.FromString,
            )
            own = await call(
                job_service_pb2.ListJobsRequest(context_names=["pa"]),
                metadata=bearer_metadata(tokens.operator_a),
                timeout=CALL_WAIT,
            )
            assert all(j.context_name == "pa" for j in own.jobs)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(
                    job_service_pb2.ListJobsRequest(context_names=["pa", "pb"]),
                    metadata=bearer_metadata(tokens.operator_a),
                    timeout=CALL_WAIT,
                )
            assert refused.value.code() == DENIED
            assert "pb" in (refused.value.details() or "")
