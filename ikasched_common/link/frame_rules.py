"""What a link frame may hold: every rule the reader of a frame checks before it acts on it.

A frame that breaks one ends the connection with a `LinkViolation` naming the frame field
(docs/architecture.md §4.2): `LinkMalformed` (INVALID_ARGUMENT) for bytes that do not decode
or a value out of range, `LinkViolation` (FAILED_PRECONDITION) for a frame out of protocol
order, `LinkOversize` (RESOURCE_EXHAUSTED) for a frame or batch past the negotiated limits.
The dashboard ends the agent's gRPC stream with that code and keeps serving every other link.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from ikasched.v1 import agent_pb2
from ikasched_common.errors import LinkMalformed, LinkOversize
from ikasched_common.names import name_problem

__all__ = [
    "MAX_HELLO_LABELS",
    "MAX_HELLO_TEXT",
    "MAX_SEQ",
    "check_batch_size",
    "check_hello",
    "check_seq",
    "decode_frame",
]

F = TypeVar("F", bound=Message)

#: Largest seq a frame may carry: far past any real count, and low enough that numbering
#: resumed from it (a hello's last_journaled_seq) still fits the signed 64-bit journals.
MAX_SEQ = 2**62
#: Longest text field of a hello (names, host name, version, instance id, label keys/values).
MAX_HELLO_TEXT = 1_000
#: Most labels a hello may carry.
MAX_HELLO_LABELS = 1_000


def decode_frame(frame_cls: type[F], raw: bytes, limit: int) -> F:
    """One frame from its wire bytes; refuses more than `limit` bytes or bytes that do not
    decode as `frame_cls`."""
    if len(raw) > limit:
        raise LinkOversize(
            f"frame: {len(raw)} bytes is more than the link's limit of {limit} bytes"
        )
    frame = frame_cls()
    try:
        frame.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise LinkMalformed(
            f"frame: {len(raw)} bytes do not decode as {frame_cls.DESCRIPTOR.name}: {exc}"
        ) from exc
    if frame.WhichOneof("frame") is None:
        raise LinkMalformed("frame: no part is set (expected one of hello, batch, ack, ...)")
    return frame


def check_seq(field: str, value: int) -> None:
    if value > MAX_SEQ:
        raise LinkMalformed(f"{field}: {value} is out of range (at most {MAX_SEQ})")


def _check_text(field: str, value: str) -> None:
    if len(value) > MAX_HELLO_TEXT:
        raise LinkMalformed(f"{field}: {len(value)} characters, at most {MAX_HELLO_TEXT}")
    problem = name_problem(value)
    if problem is not None:
        raise LinkMalformed(f"{field}: {problem}")


def check_hello(hello: agent_pb2.AgentHello) -> None:
    """Every value of a hello the dashboard stores or compares is in range."""
    if not hello.agent_name:
        raise LinkMalformed("hello.agent_name: is empty")
    for field in ("agent_name", "agent_hostname", "agent_version", "agent_instance_id"):
        _check_text(f"hello.{field}", getattr(hello, field))
    check_seq("hello.last_journaled_seq", hello.last_journaled_seq)
    check_seq("hello.last_assigned_seq", hello.last_assigned_seq)
    if len(hello.labels) > MAX_HELLO_LABELS:
        raise LinkOversize(f"hello.labels: {len(hello.labels)} labels, at most {MAX_HELLO_LABELS}")
    for key, value in hello.labels.items():
        _check_text(f"hello.labels[{key!r}]", key)
        if len(value) > MAX_HELLO_TEXT:
            raise LinkMalformed(
                f"hello.labels[{key!r}]: value of {len(value)} characters, at most {MAX_HELLO_TEXT}"
            )


def check_batch_size(messages: Sized, limit: int) -> None:
    if len(messages) > limit:
        raise LinkOversize(
            f"batch.messages: {len(messages)} messages is more than the link's"
            f" max_batch_messages of {limit}"
        )
