"""Field mapping of plan documents: the parsed values walked against the protobuf messages.

Reports every problem at once with the path as written, and normalises what protobuf is too
strict about (see plans.loader). The result is the canonical dict that json_format parses.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.documents import LoadProblem, PlanLoadError

#: Deepest nesting of messages in a plan document (protobuf's own parser stops at 100).
MAX_DOCUMENT_DEPTH = 90

_INT_RANGES: dict[int, tuple[int, int]] = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_INT_TEXT = re.compile(r"[+-]?\d+")

_DAY_NAMES: dict[str, str] = {}
for _number, _short, _long in (
    (1, "SUN", "SUNDAY"),
    (2, "MON", "MONDAY"),
    (3, "TUE", "TUESDAY"),
    (4, "WED", "WEDNESDAY"),
    (5, "THU", "THURSDAY"),
    (6, "FRI", "FRIDAY"),
    (7, "SAT", "SATURDAY"),
):
    _DAY_NAMES[_short] = _short
    _DAY_NAMES[_long] = _short
    _DAY_NAMES[str(_number)] = _short
_DAY_NAMES.update({"TUES": "TUE", "WEDS": "WED", "THUR": "THU", "THURS": "THU"})

# Friendly spellings of enum values, per enum (upper-cased input -> value name).
_ENUM_ALIASES: dict[str, dict[str, str]] = {
    "ikasched.v1.DayOfWeek": _DAY_NAMES,
    "ikasched.v1.StartupControlType": {"DISABLED": "STARTUP_DISABLED"},
}

_DATE_TIME_RANGE = "ikasched.v1.DateTimeRange"
_LOGICAL_OPERATOR = "ikasched.v1.LogicalOperator"
_CONTEXT: Descriptor = plan_pb2.Context.DESCRIPTOR  # type: ignore[assignment]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value) if isinstance(value, int | float) else type(value).__name__


def _field_lookup(desc: Descriptor) -> dict[str, FieldDescriptor]:
    lookup: dict[str, FieldDescriptor] = {}
    for field in desc.fields:
        lookup[field.name] = field
        lookup[field.json_name] = field
    return lookup


def _message_type(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, field.full_name
    return field.message_type


def _enum_type(field: FieldDescriptor) -> EnumDescriptor:
    assert field.enum_type is not None, field.full_name
    return field.enum_type


def _owner_name(field: FieldDescriptor) -> str:
    return field.containing_type.full_name if field.containing_type is not None else ""


def _is_map(field: FieldDescriptor) -> bool:
    return field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE and bool(
        _message_type(field).GetOptions().map_entry
    )


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


class _Normaliser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[LoadProblem] = []
        self.depth = 0

    def problem(self, path: str, message: str) -> None:
        self.problems.append(LoadProblem(path, message, self.source))

    def message(self, desc: Descriptor, value: object, path: str) -> dict[str, Any] | None:
        if self.depth >= MAX_DOCUMENT_DEPTH:
            self.problem(
                path,
                f"nests deeper than {MAX_DOCUMENT_DEPTH} levels of messages "
                "(limit MAX_DOCUMENT_DEPTH)",
            )
            return None
        self.depth += 1
        try:
            return self._message(desc, value, path)
        finally:
            self.depth -= 1

    def _message(self, desc: Descriptor, value: object, path: str) -> dict[str, Any] | None:
        if desc.full_name == _LOGICAL_OPERATOR and isinstance(value, str):
            value = {"identifier": value}  # "and: [a, b]" names jobs directly
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a mapping ({desc.name}), got {_describe(value)}")
            return None
        lookup = _field_lookup(desc)
        out: dict[str, Any] = {}
        written: dict[str, str] = {}  # field name -> key as written
        for key, item in value.items():
            if key is True and "on" in lookup:  # YAML 1.1 reads a bare `on:` key as true
                key = "on"
            if not isinstance(key, str):
                self.problem(path, f"field names are strings, got {_describe(key)}")
                continue
            here = _join(path, key)
            field = lookup.get(key)
            if field is None:
                self.problem(here, self._unknown_field(desc, key))
                continue
            if field.name in written:
                self.problem(
                    here, f"repeats field {written[field.name]!r} (same field, other spelling)"
                )
                continue
            written[field.name] = key
            converted = self.field(field, item, here)
            if converted is not _DROP:
                out[field.json_name] = converted
        for oneof in desc.oneofs:
            chosen = [written[f.name] for f in oneof.fields if f.json_name in out]
            if len(chosen) > 1:
                what = (
                    "a job has several job types"
                    if oneof.name == "job_type"
                    else (f"only one of the alternatives of {oneof.name!r} may be set")
                )
                self.problem(path, f"{what}: {', '.join(repr(c) for c in chosen)}; keep one")
        return out

    def _unknown_field(self, desc: Descriptor, key: str) -> str:
        names = sorted({n for f in desc.fields for n in (f.name, f.json_name)})
        text = f"unknown field {key!r} in {desc.name}"
        snake = "_" in key  # suggest the spelling style the writer uses
        folded = {
            f.name.lower().replace("_", ""): f.name if snake else f.json_name for f in desc.fields
        }
        folded.update({f.json_name.lower(): f.name if snake else f.json_name for f in desc.fields})
        exact = folded.get(key.lower().replace("_", "").replace("-", ""))
        if exact:
            return f"{text}; did you mean {exact!r}?"
        for field in desc.fields:  # a field written one level too high, e.g. command_line on a job
            if (
                field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE
                and not _is_map(field)
                and key in _field_lookup(_message_type(field))
            ):
                return f"{text}; it belongs inside {field.name!r}"
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        if close:
            return f"{text}; did you mean {close[0]!r}?"
        return text

    def field(self, field: FieldDescriptor, value: object, path: str) -> object:
        if _is_map(field):
            return self.map(field, value, path)
        if _is_repeated(field):
            if value is None:
                return _DROP
            if not isinstance(value, list | tuple):
                if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                    self.problem(path, f"expected a list, got {_describe(value)}")
                    return _DROP
                value = [value]  # a single value stands for a one-element list
            items = [self.single(field, item, f"{path}[{i}]") for i, item in enumerate(value)]
            kept = [item for item in items if item is not _DROP]
            return kept if kept else _DROP
        if value is None:
            if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE and field.containing_oneof:
                return {}  # "context_start_job:" chooses the job type
            return _DROP
        converted = self.single(field, value, path)
        if (
            field.containing_oneof is None
            and converted in ("", 0, False)
            and (field.cpp_type != FieldDescriptor.CPPTYPE_MESSAGE)
        ):
            return _DROP  # a default value is the same as leaving the field out
        if field.cpp_type == FieldDescriptor.CPPTYPE_ENUM and converted == _enum_zero(field):
            return _DROP
        return converted

    def map(self, field: FieldDescriptor, value: object, path: str) -> object:
        if value is None:
            return _DROP
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a mapping, got {_describe(value)}")
            return _DROP
        value_field = _message_type(field).fields_by_name["value"]
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                self.problem(path, f"map keys are strings, got {_describe(key)}")
                continue
            converted = self.single(value_field, item, f"{path}.{key}")
            if converted is not _DROP:
                out[str(key)] = converted
        return out if out else _DROP

    def single(self, field: FieldDescriptor, value: object, path: str) -> object:
        cpp = field.cpp_type
        if cpp == FieldDescriptor.CPPTYPE_MESSAGE:
            message_type = _message_type(field)
            if value is None and message_type.full_name != _LOGICAL_OPERATOR:
                return {}
            result = self.message(message_type, value, path)
            return _DROP if result is None else result
        if cpp == FieldDescriptor.CPPTYPE_STRING:
            if isinstance(value, str):
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            if isinstance(value, dt.date):
                return value.isoformat()
            hint = (
                " (quote it: YAML reads yes/no/on/off/true/false as booleans)"
                if isinstance(value, bool)
                else ""
            )
            self.problem(path, f"expected a string, got {_describe(value)}{hint}")
            return _DROP
        if cpp in _INT_RANGES:
            return self.integer(field, value, path)
        if cpp == FieldDescriptor.CPPTYPE_BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            self.problem(path, f"expected true or false, got {_describe(value)}")
            return _DROP
        if cpp in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            self.problem(path, f"expected a number, got {_describe(value)}")
            return _DROP
        if cpp == FieldDescriptor.CPPTYPE_ENUM:
            return self.enum(_enum_type(field), value, path)
        self.problem(path, f"unsupported field type {field.type}")  # pragma: no cover
        return _DROP

    def integer(self, field: FieldDescriptor, value: object, path: str) -> object:
        number: int | None = None
        if _owner_name(field) == _DATE_TIME_RANGE:
            number = _epoch_millis(value)
        if number is not None:
            pass
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
            number = int(value.strip())
        if number is None:
            what = (
                "an integer or a date-time"
                if (_owner_name(field) == _DATE_TIME_RANGE)
                else "an integer"
            )
            self.problem(path, f"expected {what}, got {_describe(value)}")
            return _DROP
        low, high = _INT_RANGES[field.cpp_type]
        if not low <= number <= high:
            self.problem(path, f"{number} is out of range ({low}..{high})")
            return _DROP
        return number

    def enum(self, enum: EnumDescriptor, value: object, path: str) -> object:
        names = [v.name for v in enum.values if v.number != 0]
        aliases = _ENUM_ALIASES.get(enum.full_name, {})
        if isinstance(value, int) and not isinstance(value, bool):
            found = enum.values_by_number.get(value)
            if found is not None:
                return found.name
        elif isinstance(value, str):
            key = value.strip().upper()
            if key in aliases:
                return aliases[key]
            if key in enum.values_by_name:
                return key
            if _INT_TEXT.fullmatch(key) and int(key) in enum.values_by_number:
                return enum.values_by_number[int(key)].name
        text = f"expected one of {', '.join(names)}; got {_describe(value)}"
        if isinstance(value, str):
            close = difflib.get_close_matches(value.upper(), names + list(aliases), n=1)
            if close:
                text += f"; did you mean {aliases.get(close[0], close[0])!r}?"
        self.problem(path, text)
        return _DROP


class _Drop:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<dropped>"


_DROP: Any = _Drop()


def _enum_zero(field: FieldDescriptor) -> str:
    return str(_enum_type(field).values_by_number[0].name)


def _epoch_millis(value: object) -> int | None:
    if isinstance(value, str) and not _INT_TEXT.fullmatch(value.strip()):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    return None


def normalise_plan_dict(data: object, *, source: str = "") -> dict[str, Any]:
    """The canonical dict of a plan document (see module doc); raises PlanLoadError."""
    normaliser = _Normaliser(source)
    if not isinstance(data, Mapping):
        raise PlanLoadError(
            [
                LoadProblem(
                    "",
                    "a plan is a mapping of fields (name, scheduled_jobs, ...),"
                    f" got {_describe(data)}",
                    source,
                )
            ]
        )
    out = normaliser.message(_CONTEXT, data, "")
    if normaliser.problems or out is None:
        raise PlanLoadError(normaliser.problems)
    return out
