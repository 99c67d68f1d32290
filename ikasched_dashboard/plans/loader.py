"""Load job plans written by people (YAML or JSON in protobuf's JSON mapping) and dump them back.

A plan document maps 1:1 onto ``ikasched.v1.plan_pb2.Context``. Both the proto field names
(``scheduled_jobs``) and the JSON names (``scheduledJobs``; ``and``/``or``/``not`` for the
grouping lists) are accepted. Before protobuf parses it, the document is walked against the
message descriptors, which:

- reports every problem at once, each with the path of the offending element *as written in
  the document* (e.g. ``contexts[1].scheduled_jobs[0].internal_event_driven_job.timeout_seconds:
  expected an integer, got 'ten'``), with "did you mean" hints for unknown field names;
- normalises what protobuf is too strict about: day names in any case or Quartz day numbers
  (``mon``, ``Monday``, ``2`` -> ``MON``), enum names in any case, ``disabled`` for
  ``STARTUP_DISABLED``, numbers given as strings (and integers as strings for string fields),
  a bare job identifier as a grouping operand (``and: [a, b]``), a single value for a list,
  an empty (``null``) job type such as ``context_start_job:``, and YAML/ISO date-times for
  blackout date-time ranges (naive times are UTC).

The normalised form (:func:`normalise_plan_dict`) is the canonical dict: JSON names, default
values left out, enums by name, 64-bit integers as numbers. :func:`plan_to_dict` returns
exactly that form, so ``plan_to_dict(load(doc)) == normalise_plan_dict(doc)``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from ikasched.v1 import plan_pb2
from ikasched_common.errors import InvalidArgument

Format = Literal["yaml", "json"]

#: Deepest nesting of messages in a plan document (protobuf's own parser stops at 100).
MAX_DOCUMENT_DEPTH = 90

#: File name endings read as plans by :func:`load_plan_dir`.
PLAN_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")

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


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """One problem in a plan document: where (path as written; "" = the whole document) and what."""

    path: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.path) if part)
        return f"{where}: {self.message}" if where else self.message


class PlanLoadError(InvalidArgument):
    """A plan document could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[LoadProblem]) -> None:
        self.problems: tuple[LoadProblem, ...] = tuple(problems)
        lines = [str(p) for p in self.problems]
        count = len(lines)
        head = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(f"plan not loaded, {head}:\n  " + "\n  ".join(lines))
        self.field = self.problems[0].path if self.problems else ""


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    """A plan read from a file of a plan directory."""

    source: str
    plan: plan_pb2.Context


# --------------------------------------------------------------------------- document parsing


# libyaml's parser when PyYAML has it (about 10x faster on large plans), else pure Python.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that records duplicate mapping keys instead of silently keeping the last."""

    duplicates: list[str]


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            continue  # unhashable keys are reported by the normaliser as bad field names
        if key in seen:
            line = key_node.start_mark.line + 1
            loader.duplicates.append(f"line {line}: key {key!r} appears twice in one mapping")
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=True)
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _too_deep(source: str) -> PlanLoadError:
    return PlanLoadError([LoadProblem("", "the document nests too deeply", source)])


def _guess_format(text: str) -> Format:
    return "json" if text.lstrip().startswith(("{", "[")) else "yaml"


def parse_plan_document(text: str, *, fmt: Format | None = None, source: str = "") -> object:
    """Parse YAML or JSON text into plain Python values; syntax errors carry line and column.

    Without a format, text starting with "{" or "[" is read as JSON, and as YAML (a flow
    mapping such as ``{name: p}``) if it is not valid JSON.
    """
    if fmt is None and _guess_format(text) == "json":
        try:
            return _parse(text, "json", source)
        except PlanLoadError as json_error:
            if not json_error.problems[0].message.startswith("invalid JSON"):
                raise
            try:
                return _parse(text, "yaml", source)
            except PlanLoadError:
                raise json_error from None
    return _parse(text, fmt or "yaml", source)


def _parse(text: str, fmt: Format, source: str) -> object:
    if fmt == "json":
        duplicates: list[str] = []

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in items:
                if key in out:
                    duplicates.append(f"key {key!r} appears twice in one object")
                out[key] = value
            return out

        try:
            data = json.loads(text, object_pairs_hook=pairs)
        except RecursionError:
            raise _too_deep(source) from None
        except json.JSONDecodeError as exc:
            raise PlanLoadError(
                [
                    LoadProblem(
                        "",
                        f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                        source,
                    )
                ]
            ) from None
    else:
        loader = _UniqueKeyLoader(text)
        loader.duplicates = duplicates = []
        try:
            documents = []
            while loader.check_data():
                documents.append(loader.get_data())
        except RecursionError:
            raise _too_deep(source) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise PlanLoadError(
                [LoadProblem("", f"invalid YAML{where}: {problem}", source)]
            ) from None
        finally:
            loader.dispose()
        if len(documents) > 1:
            raise PlanLoadError(
                [
                    LoadProblem(
                        "",
                        f"holds {len(documents)} YAML documents; write one plan per file",
                        source,
                    )
                ]
            )
        data = documents[0] if documents else None
    if duplicates:
        raise PlanLoadError(LoadProblem("", d, source) for d in duplicates)
    return data


# --------------------------------------------------------------------------- normalisation


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


# --------------------------------------------------------------------------- loading


def plan_from_dict(data: object, *, source: str = "") -> plan_pb2.Context:
    """Build a plan from parsed YAML/JSON values; raises PlanLoadError with path-named problems."""
    canonical = normalise_plan_dict(data, source=source)
    plan = plan_pb2.Context()
    try:
        json_format.ParseDict(canonical, plan)
    except json_format.ParseError as exc:  # the walk should have caught it; keep protobuf's words
        raise PlanLoadError([LoadProblem("", str(exc), source)]) from None
    return plan


def load_plan_text(text: str, *, fmt: Format | None = None, source: str = "") -> plan_pb2.Context:
    """Load one plan from YAML or JSON text (format guessed from its first character if unset)."""
    return plan_from_dict(parse_plan_document(text, fmt=fmt, source=source), source=source)


def _format_of(path: Path) -> Format:
    return "json" if path.suffix.lower() == ".json" else "yaml"


def load_plan_file(path: str | Path) -> plan_pb2.Context:
    """Load one plan file; ``.json`` is JSON, anything else YAML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanLoadError([LoadProblem("", f"cannot read: {exc}", str(path))]) from None
    return load_plan_text(text, fmt=_format_of(path), source=str(path))


def load_plan_dir(directory: str | Path) -> list[LoadedPlan]:
    """Load every plan file under a directory (recursively, in path order, hidden entries left out).

    Problems of all files, and plan names used by two files, are reported together.
    """
    root = Path(directory)
    if not root.is_dir():
        raise PlanLoadError([LoadProblem("", "not a directory", str(root))])
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in PLAN_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    plans: list[LoadedPlan] = []
    problems: list[LoadProblem] = []
    owner: dict[str, str] = {}
    for file in files:
        try:
            plan = load_plan_file(file)
        except PlanLoadError as exc:
            problems.extend(exc.problems)
            continue
        if plan.name in owner:
            problems.append(
                LoadProblem(
                    "name", f"plan name {plan.name!r} is also used by {owner[plan.name]}", str(file)
                )
            )
            continue
        owner[plan.name] = str(file)
        plans.append(LoadedPlan(str(file), plan))
    if problems:
        raise PlanLoadError(problems)
    return plans


# --------------------------------------------------------------------------- dumping


def plan_to_dict(plan: plan_pb2.Context) -> dict[str, Any]:
    """The canonical dict of a plan: JSON names (``and``/``or``/``not``), defaults left out."""
    raw = json_format.MessageToDict(plan, preserving_proto_field_name=False)
    return normalise_plan_dict(raw, source="<plan>")


class _PlanDumper(_SafeDumper):  # type: ignore[misc,valid-type]
    """Writes multi-line strings (scripts) as literal blocks."""


_ODD_BREAKS = frozenset("\r\x85\u2028\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML folds unusual line breaks in plain and single-quoted scalars; escape them.
    if _ODD_BREAKS.intersection(value):
        style: str | None = '"'
    else:
        style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_PlanDumper.add_representer(str, _represent_str)


def dump_plan_json(plan: plan_pb2.Context, *, indent: int = 2) -> str:
    """The plan as JSON text (JSON names, defaults left out)."""
    return json.dumps(plan_to_dict(plan), indent=indent, ensure_ascii=False) + "\n"


def dump_plan_yaml(plan: plan_pb2.Context) -> str:
    """The plan as YAML text (JSON names, defaults left out, scripts as literal blocks)."""
    text: str = yaml.dump(
        plan_to_dict(plan),
        Dumper=_PlanDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text


def dump_plan(plan: plan_pb2.Context, fmt: Format) -> str:
    """The plan as YAML or JSON text."""
    return dump_plan_json(plan) if fmt == "json" else dump_plan_yaml(plan)
