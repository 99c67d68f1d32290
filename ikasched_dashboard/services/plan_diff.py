"""What a new plan version changes, in words `plan apply` prints: plan fields (with old and new
values), parameters, jobs and contexts added and removed, and for a changed job, dependency or
lock the fields that differ."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from ikasched.v1 import plan_pb2
from ikasched_dashboard.services.views import plan_jobs

# Plan fields compared by their parts below rather than as one value.
_STRUCTURE = frozenset(
    {
        "scheduled_jobs",
        "job_dependencies",
        "contexts",
        "context_parameters",
        "job_locks",
        "context_dependencies",
    }
)
# More differing fields than this in one item: their count instead.
_MAX_FIELDS = 6


def _contexts(plan: plan_pb2.Context) -> Iterator[plan_pb2.Context]:
    yield plan
    for child in plan.contexts:
        yield from _contexts(child)


def _text(value: Any) -> str:
    if isinstance(value, Message):
        return json_format.MessageToJson(value, indent=None)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_repeated(fd: Any) -> bool:
    flag = getattr(fd, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(fd.label == fd.LABEL_REPEATED)


def logic_text(g: plan_pb2.LogicalGrouping) -> str:
    """A grouping as an expression: 'a and (b or c) and not d'."""

    def operand(o: plan_pb2.LogicalOperator) -> str:
        if o.WhichOneof("operand") == "identifier":
            return o.identifier
        return f"({logic_text(o.logical_grouping)})"

    parts = [" and ".join(operand(o) for o in g.all_of)] if g.all_of else []
    if g.any_of:
        parts.append(" or ".join(operand(o) for o in g.any_of))
    parts += [f"not {operand(o)}" for o in g.none_of]
    if g.HasField("logical_grouping"):
        parts.append(f"({logic_text(g.logical_grouping)})")
    return " and ".join(p if len(parts) == 1 or " " not in p else f"({p})" for p in parts) or "-"


def field_changes(old: Message, new: Message, prefix: str = "") -> list[str]:
    """'path: old -> new' for every differing scalar field, recursing into messages; a repeated
    field of scalars shows both lists, one of messages or a map that differs is 'path changed'.
    A dependency's logic is shown as expressions."""
    if isinstance(old, plan_pb2.LogicalGrouping) and isinstance(new, plan_pb2.LogicalGrouping):
        return [f"{prefix.rstrip('.')}: {logic_text(old)} -> {logic_text(new)}"]
    out: list[str] = []
    for fd in new.DESCRIPTOR.fields:
        before, after = getattr(old, fd.name), getattr(new, fd.name)
        if before == after:
            continue
        path = f"{prefix}{fd.json_name}"
        if _is_repeated(fd) and fd.message_type is None:
            out.append(f"{path}: {_text(list(before))} -> {_text(list(after))}")
        elif _is_repeated(fd):
            out.append(f"{path} changed")
        elif fd.message_type is not None:
            if not old.HasField(fd.name) or not new.HasField(fd.name):
                out.append(f"{path} {'added' if new.HasField(fd.name) else 'removed'}")
            else:
                out.extend(field_changes(before, after, f"{path}."))
        else:
            out.append(f"{path}: {_text(before)} -> {_text(after)}")
    return out


def _keyed(
    kind: str, old: Mapping[str, Message], new: Mapping[str, Message], where: str = ""
) -> list[str]:
    out = [f"{kind} {k}{where} added" for k in sorted(new.keys() - old.keys())]
    out += [f"{kind} {k}{where} removed" for k in sorted(old.keys() - new.keys())]
    for key in sorted(old.keys() & new.keys()):
        if old[key] != new[key]:
            fields = field_changes(old[key], new[key])
            if len(fields) > _MAX_FIELDS:
                shown = f"{len(fields)} fields"
            else:
                shown = "; ".join(fields) or "order"
            out.append(f"{kind} {key}{where} changed: {shown}")
    return out


def plan_changes(old: plan_pb2.Context | None, new: plan_pb2.Context) -> list[str]:
    """What differs from the previous version, in words."""
    if old is None:
        return ["new plan"]
    out: list[str] = []
    for fd in plan_pb2.Context.DESCRIPTOR.fields:
        if fd.name in _STRUCTURE:
            continue
        before, after = getattr(old, fd.name), getattr(new, fd.name)
        if before == after:
            continue
        if fd.message_type is not None and not _is_repeated(fd):
            out.extend(field_changes(before, after, f"{fd.json_name}."))
        elif _is_repeated(fd):
            out.append(f"{fd.json_name}: {_text(list(before))} -> {_text(list(after))}")
        else:
            out.append(f"{fd.json_name}: {_text(before)} -> {_text(after)}")
    out += _keyed(
        "parameter",
        {p.name: p for p in old.context_parameters},
        {p.name: p for p in new.context_parameters},
    )
    out += _keyed("job", dict(plan_jobs(old)), dict(plan_jobs(new)))
    old_ctx = {c.name: c for c in _contexts(old)}
    new_ctx = {c.name: c for c in _contexts(new)}
    out += [f"context {n} added" for n in sorted(new_ctx.keys() - old_ctx.keys())]
    out += [f"context {n} removed" for n in sorted(old_ctx.keys() - new_ctx.keys())]
    for name in sorted(new_ctx.keys() & old_ctx.keys()):
        a, b = old_ctx[name], new_ctx[name]
        where = f" in context {name}"
        out += _keyed(
            "dependency of",
            {d.job_identifier: d for d in a.job_dependencies},
            {d.job_identifier: d for d in b.job_dependencies},
            where,
        )
        old_members = [j.identifier or f"{j.agent_name}-{j.job_name}" for j in a.scheduled_jobs]
        new_members = [j.identifier or f"{j.agent_name}-{j.job_name}" for j in b.scheduled_jobs]
        for ident in [j for j in new_members if j not in old_members]:
            if name != new.name:
                out.append(f"job {ident} joins context {name}")
        for ident in [j for j in old_members if j not in new_members]:
            if name != new.name:
                out.append(f"job {ident} leaves context {name}")
        if list(a.job_locks) != list(b.job_locks):
            out.append(f"job locks of context {name} changed")
        if name != new.name and list(a.context_parameters) != list(b.context_parameters):
            out += _keyed(
                "parameter",
                {p.name: p for p in a.context_parameters},
                {p.name: p for p in b.context_parameters},
                where,
            )
    return out or ["no change in meaning (formatting only)"]
