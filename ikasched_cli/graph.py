"""A plan's contexts, jobs and dependencies as Graphviz DOT or Mermaid text (pure).

Nodes are job identifiers, grouped by the context that lists them; an edge runs from each
operand of a job's logical grouping to the job: plain for an `and` operand (all needed),
labelled "or" (bold in DOT) for an `or` operand (any one is enough), dashed and labelled "not"
for a `not` operand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Virtual job types take their agent name from the type (as the plan validator does).
_VIRTUAL_AGENT = {
    "global_event_job": "GLOBAL_EVENT",
    "context_start_job": "CONTEXT_START_JOB",
    "context_terminal_job": "CONTEXT_TERMINAL_JOB",
    "local_event_job": "LOCAL_EVENT",
    "bridging_job": "BRIDGING",
}


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    negated: bool = False
    # an operand of an `or` (any one of its operands satisfies it)
    alternative: bool = False


@dataclass(frozen=True, slots=True)
class ContextNode:
    name: str
    jobs: tuple[tuple[str, str], ...]  # (identifier, kind)
    children: tuple[ContextNode, ...]


@dataclass(frozen=True, slots=True)
class PlanGraph:
    root: ContextNode
    edges: tuple[Edge, ...]


def _identifier(job: Any) -> str:
    if job.identifier:
        return str(job.identifier)
    kind = job.WhichOneof("job_type") or ""
    agent = job.agent_name or _VIRTUAL_AGENT.get(kind, "")
    return f"{agent}-{job.job_name}" if agent and job.job_name else ""


def _operands(grouping: Any, negated: bool = False) -> Iterator[tuple[str, bool, bool]]:
    """(identifier, negated, alternative) of every operand, nested groupings included."""
    for field, neg, alt in (
        ("all_of", False, False),
        ("any_of", False, True),
        ("none_of", True, False),
    ):
        for operator in getattr(grouping, field):
            if operator.WhichOneof("operand") == "identifier":
                yield operator.identifier, negated or neg, alt
            elif operator.WhichOneof("operand") == "logical_grouping":
                yield from _operands(operator.logical_grouping, negated or neg)
    if grouping.HasField("logical_grouping"):
        yield from _operands(grouping.logical_grouping, negated)


def build_graph(plan: Any) -> PlanGraph:
    """`plan`: an ikasched.v1 plan_pb2.Context."""
    edges: list[Edge] = []
    seen: set[Edge] = set()

    def walk(context: Any) -> ContextNode:
        jobs = []
        for job in context.scheduled_jobs:
            ident = _identifier(job)
            if ident:
                jobs.append((ident, job.WhichOneof("job_type") or "reference"))
        for dependency in context.job_dependencies:
            for source, negated, alternative in _operands(dependency.logical_grouping):
                edge = Edge(source, dependency.job_identifier, negated, alternative)
                if edge not in seen:
                    seen.add(edge)
                    edges.append(edge)
        return ContextNode(
            context.name, tuple(jobs), tuple(walk(child) for child in context.contexts)
        )

    return PlanGraph(walk(plan), tuple(edges))


def _placed(root: ContextNode) -> dict[str, str]:
    """Each job in the innermost context that lists it (a child's start/terminal jobs also
    appear in the parent by identifier only)."""
    where: dict[str, str] = {}

    def walk(node: ContextNode, path: str) -> None:
        for ident, _kind in node.jobs:
            where[ident] = path
        for child in node.children:
            walk(child, f"{path}/{child.name}")

    walk(root, root.name)
    return where


def _node_id(ident: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", ident)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: PlanGraph) -> str:
    where = _placed(graph.root)
    lines = [
        f"digraph {_quote(graph.root.name)} {{",
        "  rankdir=LR;",
        "  node [shape=box, style=rounded];",
    ]

    def walk(node: ContextNode, path: str, indent: str) -> None:
        lines.append(f"{indent}subgraph {_quote('cluster_' + path)} {{")
        lines.append(f"{indent}  label={_quote(node.name)};")
        for ident, kind in node.jobs:
            if where.get(ident) == path:
                shape = ", shape=ellipse" if kind in _VIRTUAL_AGENT else ""
                lines.append(f"{indent}  {_node_id(ident)} [label={_quote(ident)}{shape}];")
        for child in node.children:
            walk(child, f"{path}/{child.name}", indent + "  ")
        lines.append(f"{indent}}}")

    walk(graph.root, graph.root.name, "  ")
    for edge in graph.edges:
        style = (
            ' [style=dashed, label="not"]'
            if edge.negated
            else ' [style=bold, label="or"]'
            if edge.alternative
            else ""
        )
        lines.append(f"  {_node_id(edge.source)} -> {_node_id(edge.target)}{style};")
    lines.append("}")
    return "\n".join(lines)


def to_mermaid(graph: PlanGraph) -> str:
    where = _placed(graph.root)
    lines = ["flowchart LR"]
    counter = [0]

    def walk(node: ContextNode, path: str, indent: str) -> None:
        counter[0] += 1
        lines.append(f'{indent}subgraph ctx{counter[0]}["{node.name}"]')
        for ident, kind in node.jobs:
            if where.get(ident) == path:
                shape = ('(["', '"])') if kind in _VIRTUAL_AGENT else ('["', '"]')
                lines.append(f"{indent}  {_node_id(ident)}{shape[0]}{ident}{shape[1]}")
        for child in node.children:
            walk(child, f"{path}/{child.name}", indent + "  ")
        lines.append(f"{indent}end")

    walk(graph.root, graph.root.name, "  ")
    for edge in graph.edges:
        arrow = " -. not .-> " if edge.negated else " -- or --> " if edge.alternative else " --> "
        lines.append(f"  {_node_id(edge.source)}{arrow}{_node_id(edge.target)}")
    return "\n".join(lines)
