"""Hypothesis-driven fuzzing of every RPC of every operator service (and the TokenService) on
a fully wired dashboard, with an admin token so authorization does not hide validation.

Requests are built from the generated descriptors: every field may be set, with random and
boundary values (huge and negative integers, enum numbers no version defines, long strings and
strings of control and bidi characters, non-finite doubles, nested messages, repeated fields
at and past their size limits), and some requests are corrupt bytes. The rules checked for
every input: the call ends (no crash), never INTERNAL or UNKNOWN; an INVALID_ARGUMENT's detail
starts with the field it refuses; a batch whose calls were all refused leaves the stored plans
and instances exactly as they were; and the server still answers after each batch. The
figures are printed at the end. CI size: >= 2,000 inputs; IKASCHED_LONG_TESTS=1: >= 20,000.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikasched.v1 import (
    admin_service_pb2,
    instance_service_pb2,
    job_service_pb2,
    plan_pb2,
    plan_service_pb2,
)
from ikasched_dashboard.plans.field_ranges import is_repeated
from tests.hostile.wired import Wired, wired

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
INPUTS = 20_000 if LONG else 2_000
BATCH = 50
SEED_PLAN = "fuzz-seed"
_FIELD_FIRST = re.compile(r"^(request|[a-z_][A-Za-z0-9_]*)[\w.\[\]]*: ")
_MUTATING_PREFIXES = (
    "Provision",
    "Delete",
    "Enable",
    "Disable",
    "Create",
    "End",
    "Reset",
    "Run",
    "Update",
    "Set",
    "Hold",
    "Release",
    "Skip",
    "Unskip",
    "Acknowledge",
    "Resubmit",
    "Kill",
    "Raise",
    "Revoke",
)

INTS = [0, 1, -1, 2**31 - 1, -(2**31), 2**53, 253_402_300_799_999, 253_402_300_800_000]
INT64S = [*INTS, 2**63 - 1, -(2**63)]
UINT64S = [0, 1, 2**32, 2**63, 2**64 - 1]
STRINGS = [
    "",
    " ",
    "\t\n",
    "bad\x00name",
    "esc\x1b[2J",
    "bidi\u202eevil",
    "\u2028",
    "x" * 5_000,
    SEED_PLAN,
    "a1-j1",
    "a1",
    "0 0 0 * * ?",
    "Europe/London",
    "not a cron",
]


def _methods() -> list[MethodDescriptor]:
    out: list[MethodDescriptor] = []
    for module in (plan_service_pb2, instance_service_pb2, job_service_pb2, admin_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            out.extend(service.methods)
    return out


METHODS = _methods()


def _class(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


def _scalar(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = fd.type
    if t == FieldDescriptor.TYPE_ENUM:
        assert fd.enum_type is not None
        defined = [v.number for v in fd.enum_type.values]
        return st.sampled_from([*defined, 77, 999, -1, 2**31 - 1])
    if t in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return st.sampled_from(INTS[:5]) | st.integers(-(2**31), 2**31 - 1)
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.integers(0, 2**32 - 1)
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.sampled_from(UINT64S) | st.integers(0, 2**64 - 1)
    if t in (
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
    ):
        return st.sampled_from(INT64S) | st.integers(-(2**63), 2**63 - 1)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    return st.sampled_from(STRINGS) | st.text(max_size=40)


def _repeated(fd: FieldDescriptor) -> bool:
    return is_repeated(fd)


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, depth: int = 0) -> Message:
    message = _class(descriptor)()
    for fd in descriptor.fields:
        if not draw(st.booleans()):
            continue
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            keys = draw(st.lists(st.sampled_from(STRINGS), max_size=3))
            container = getattr(message, fd.name)
            value_fd = fd.message_type.fields_by_name["value"]
            for key in keys:
                if value_fd.message_type is None:
                    container[key] = draw(_scalar(value_fd))
            continue
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            assert fd.message_type is not None
            if depth >= 5:
                continue
            if _repeated(fd):
                for item in draw(st.lists(messages(fd.message_type, depth + 1), max_size=3)):
                    getattr(message, fd.name).append(item)
            else:
                getattr(message, fd.name).CopyFrom(draw(messages(fd.message_type, depth + 1)))
            continue
        if _repeated(fd):
            size = draw(st.sampled_from([0, 1, 3, 10_001]))
            value = draw(_scalar(fd))
            getattr(message, fd.name).extend([value] * size)
        else:
            setattr(message, fd.name, draw(_scalar(fd)))
    return message


@st.composite
def inputs(draw: st.DrawFn) -> tuple[MethodDescriptor, bytes]:
    method = draw(st.sampled_from(METHODS))
    if draw(st.integers(0, 19)) == 0:  # corrupt bytes
        return method, draw(st.binary(min_size=1, max_size=64))
    request = draw(messages(method.input_type))
    return method, request.SerializeToString()


class Server:
    """The wired dashboard on its own event loop, for the synchronous hypothesis driver."""

    def __init__(self, data: Path) -> None:
        self._data = data
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.wired: Wired | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(60), "dashboard did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with wired(self._data) as w:
            self.wired = w
            self._ready.set()
            await self._stop.wait()

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)


def _seed_plan() -> plan_pb2.Context:
    plan = plan_pb2.Context(name=SEED_PLAN, time_window_start="0 0 0 * * ?")
    job = plan.scheduled_jobs.add(agent_name="a1", job_name="j1")
    job.internal_event_driven_job.command_line = "true"
    return plan


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[grpc.Channel, tuple[tuple[str, str], ...]]]:
    running = Server(tmp_path)
    assert running.wired is not None
    channel = grpc.insecure_channel(
        f"127.0.0.1:{running.wired.app.port}",
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    metadata = running.wired.metadata
    stub = channel.unary_unary(
        "/ikasched.v1.PlanService/ProvisionPlan",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=plan_service_pb2.ProvisionPlanResponse.FromString,
    )
    stub(plan_service_pb2.ProvisionPlanRequest(plan=_seed_plan()), metadata=metadata, timeout=30)
    try:
        yield channel, metadata
    finally:
        channel.close()
        running.close()


def _raw(channel: grpc.Channel, path: str, *, streaming: bool = False) -> Any:
    """A call of `path` that sends and returns bytes as they are."""
    if streaming:
        return channel.unary_stream(path, None, None)
    return channel.unary_unary(path, None, None)


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _call(
    channel: grpc.Channel, metadata: Any, method: MethodDescriptor, raw: bytes
) -> tuple[grpc.StatusCode, str]:
    try:
        if method.server_streaming:
            stream = _raw(channel, _path(method), streaming=True)
            for _ in stream(raw, metadata=metadata, timeout=0.5):
                pass
        else:
            _raw(channel, _path(method))(raw, metadata=metadata, timeout=30)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _state(channel: grpc.Channel, metadata: Any) -> bytes:
    """The stored plans and instances, as bytes (exported through the API)."""
    out = b""
    for path, request in (
        ("/ikasched.v1.PlanService/ListPlans", plan_service_pb2.ListPlansRequest()),
        ("/ikasched.v1.InstanceService/ListInstances", instance_service_pb2.ListInstancesRequest()),
    ):
        out += _raw(channel, path)(request.SerializeToString(), metadata=metadata, timeout=30)
    plan = plan_service_pb2.ExportPlanRequest(name=SEED_PLAN)
    export = _raw(channel, "/ikasched.v1.PlanService/ExportPlan")
    try:
        exported: bytes = export(plan.SerializeToString(), metadata=metadata, timeout=30)
    except grpc.RpcError as exc:
        # a fuzzed DeletePlan (an accepted, mutating call) may have removed the seed plan
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        exported = b"<no seed plan>"
    return out + exported


def test_fuzz_every_rpc(server: tuple[grpc.Channel, Any]) -> None:
    channel, metadata = server
    codes: Counter[str] = Counter()
    failures: list[str] = []
    started = time.monotonic()

    @settings(
        max_examples=INPUTS // BATCH,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(inputs(), min_size=BATCH, max_size=BATCH))
    def batch(calls: list[tuple[MethodDescriptor, bytes]]) -> None:
        before = _state(channel, metadata)
        mutated = False
        for method, raw in calls:
            code, detail = _call(channel, metadata, method, raw)
            codes[code.name] += 1
            if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                failures.append(f"{method.name}: {code.name} {detail[:200]}")
            elif code == grpc.StatusCode.INVALID_ARGUMENT and not _FIELD_FIRST.match(detail):
                failures.append(f"{method.name}: detail names no field: {detail[:200]}")
            if code == grpc.StatusCode.OK and method.name.startswith(_MUTATING_PREFIXES):
                mutated = True
        after = _state(channel, metadata)  # the server still answers after the batch
        if not mutated:
            assert after == before, "refused calls changed the stored state"

    batch()
    total = sum(codes.values())
    refusals = {k: v for k, v in sorted(codes.items()) if k != "OK"}
    print(
        f"\nfuzz: {total} inputs in {time.monotonic() - started:.1f}s; accepted {codes['OK']}; "
        f"refusals by code {refusals}; crashes 0; internal errors {len(failures)}"
    )
    assert total >= INPUTS
    assert not failures, "\n".join(failures[:20])
