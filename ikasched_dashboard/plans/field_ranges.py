"""Range checks over every field of a plan: numbers, enums and names the code can use.

A plan is stored as sent and read back on every start-up, so a value the dashboard cannot
use later (an epoch time past year 9999, a TTL of 2^63-1 ms, an enum number no version
defines, a name with a NUL or a bidi override) must be refused here, at the edge, with the
path of the field. The walk follows the descriptors, so a field added to the protocol is
covered by its type (enums, names) without touching this module; numbers are bounded by
their JSON name (`NUMBER_RANGES`).
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from ikasched_common.names import name_problem
from ikasched_dashboard.plans.limits import (
    MAX_DURATION_MS,
    MAX_DURATION_SECONDS,
    MAX_EPOCH_MS,
    MAX_LOCK_COUNT,
)
from ikasched_dashboard.plans.plan_index import join_path
from ikasched_dashboard.plans.problems import ValidationProblem

__all__ = ["NAME_FIELDS", "NUMBER_RANGES", "enum_problem", "is_repeated", "range_problems"]

#: (lowest, highest) by JSON field name. Lower bounds the validator's own checks already
#: report (a negative TTL, a lock capacity below 1) are left to them: `None` here.
NUMBER_RANGES: dict[str, tuple[int | None, int]] = {
    "start": (None, MAX_EPOCH_MS),
    "end": (None, MAX_EPOCH_MS),
    "contextTtlMilliseconds": (None, MAX_DURATION_MS),
    "minExecutionTime": (None, MAX_DURATION_MS),
    "maxExecutionTime": (None, MAX_DURATION_MS),
    "recoveryTolerance": (None, MAX_DURATION_MS),
    "misfireGraceSeconds": (None, MAX_DURATION_SECONDS),
    "delaySeconds": (None, MAX_DURATION_SECONDS),
    "timeoutSeconds": (None, MAX_DURATION_SECONDS),
    "minFileAgeSeconds": (None, MAX_DURATION_SECONDS),
    "lockCount": (None, MAX_LOCK_COUNT),
}

#: String fields (JSON names) that hold names or identifiers, wherever they appear.
NAME_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "identifier",
        "agentName",
        "jobName",
        "jobIdentifier",
        "childContextName",
        "jobPlanParameterName",
        "contextName",
        "environmentGroup",
    }
)
#: Map fields whose keys are context names.
_NAME_KEYED_MAPS = frozenset({"skippedContexts", "heldContexts"})
#: Deeper than any plan the validator accepts (its own limits report the depth).
_MAX_WALK_DEPTH = 256

_INTEGER_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def is_repeated(fd: FieldDescriptor) -> bool:
    flag = getattr(fd, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(getattr(fd, "label", None) == FieldDescriptor.LABEL_REPEATED)


def _is_map(fd: FieldDescriptor) -> bool:
    message: Descriptor | None = fd.message_type
    return message is not None and message.GetOptions().map_entry


def enum_problem(fd: FieldDescriptor, value: int) -> str | None:
    """Why `value` is not a member of the field's enum, or None."""
    enum = fd.enum_type
    assert enum is not None
    if enum.values_by_number.get(value) is not None:
        return None
    known = ", ".join(f"{v.name}={v.number}" for v in enum.values)
    return f"{value} is not a {enum.name} (one of {known})"


def number_problem(json_name: str, value: int) -> str | None:
    """Why `value` is out of the range of the field, or None."""
    bounds = NUMBER_RANGES.get(json_name)
    if bounds is None:
        return None
    low, high = bounds
    if value > high or (low is not None and value < low):
        return f"{value} is out of range (at most {high})"
    return None


def _field_problems(path: str, fd: FieldDescriptor, value: object) -> Iterator[str]:
    if fd.type == FieldDescriptor.TYPE_ENUM:
        assert isinstance(value, int)
        problem = enum_problem(fd, value)
    elif fd.type in _INTEGER_TYPES:
        assert isinstance(value, int)
        problem = number_problem(fd.json_name, value)
    elif fd.type == FieldDescriptor.TYPE_STRING and fd.json_name in NAME_FIELDS:
        assert isinstance(value, str)
        problem = name_problem(value)
    else:
        problem = None
    if problem:
        yield problem


def range_problems(plan: Message) -> list[ValidationProblem]:
    """Every number out of range, enum value undefined and unusable name in the plan."""
    out: list[ValidationProblem] = []
    stack: list[tuple[str, Message, int]] = [("", plan, 1)]
    while stack:
        prefix, message, depth = stack.pop()
        found: list[tuple[str, Message, int]] = []
        for fd, value in message.ListFields():
            path = join_path(prefix, fd.json_name)
            if _is_map(fd):
                if fd.json_name in _NAME_KEYED_MAPS:
                    for key in sorted(value):
                        problem = name_problem(key)
                        if problem:
                            out.append(ValidationProblem(path, f"key {key!r} {problem}"))
                continue
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                if depth >= _MAX_WALK_DEPTH:
                    continue
                items = list(value) if is_repeated(fd) else [value]
                for i, item in enumerate(items):
                    where = f"{path}[{i}]" if is_repeated(fd) else path
                    found.append((where, item, depth + 1))
                continue
            values = list(value) if is_repeated(fd) else [value]
            for i, item in enumerate(values):
                where = f"{path}[{i}]" if is_repeated(fd) else path
                for problem in _field_problems(where, fd, item):
                    out.append(ValidationProblem(where, problem))
        stack.extend(reversed(found))
    return out
