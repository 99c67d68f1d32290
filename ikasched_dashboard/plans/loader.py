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

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.documents import (
    Format,
    LoadProblem,
    PlanLoadError,
    parse_plan_document,
)
from ikasched_dashboard.plans.normalise import MAX_DOCUMENT_DEPTH, normalise_plan_dict

__all__ = [
    "MAX_DOCUMENT_DEPTH",
    "PLAN_SUFFIXES",
    "Format",
    "LoadProblem",
    "LoadedPlan",
    "PlanLoadError",
    "dump_plan",
    "dump_plan_json",
    "dump_plan_yaml",
    "load_plan_dir",
    "load_plan_file",
    "load_plan_text",
    "normalise_plan_dict",
    "parse_plan_document",
    "plan_from_dict",
    "plan_to_dict",
]

#: File name endings read as plans by :func:`load_plan_dir`.
PLAN_SUFFIXES: tuple[str, ...] = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class LoadedPlan:
    """A plan read from a file of a plan directory."""

    source: str
    plan: plan_pb2.Context


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


#: A directory of this name under a plan directory holds calendars (and plans that need
#: them applied first): loading the plan directory leaves it out (docs/semantics.md §13).
CALENDAR_DIR = "calendars"


def plan_files(root: Path) -> list[Path]:
    """The plan files under a directory (recursively, in path order, hidden entries and
    `calendars` directories left out)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in PLAN_SUFFIXES
        and not any(
            part.startswith(".") or part == CALENDAR_DIR for part in p.relative_to(root).parts[:-1]
        )
        and not p.name.startswith(".")
    )


def load_plan_dir(directory: str | Path) -> list[LoadedPlan]:
    """Load every plan file under a directory (recursively, in path order, hidden entries left out).

    Problems of all files, and plan names used by two files, are reported together.
    """
    root = Path(directory)
    if not root.is_dir():
        raise PlanLoadError([LoadProblem("", "not a directory", str(root))])
    files = plan_files(root)
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


# libyaml's emitter when PyYAML has it, else pure Python.
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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
