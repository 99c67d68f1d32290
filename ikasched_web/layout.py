"""A plan drawn as SVG, laid out on the server (pure; no I/O).

Layered left to right: a job's column is the longest dependency chain above it, jobs of one
column ordered by their context, then by the mean row of what they depend on (two sweeps).
Contexts are drawn as labelled clusters around their jobs; an `or` operand's edge is bold and
labelled "or", a `not` operand's dashed and labelled "not" (as `ikasched plan graph` draws
them). Every name is escaped: the SVG is safe to embed as is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape
from typing import Any

from ikasched_cli.graph import ContextNode, PlanGraph, build_graph

NODE_W = 170
NODE_H = 34
COL_GAP = 70
ROW_GAP = 18
MARGIN = 30
_MAX_LABEL = 24


@dataclass(frozen=True, slots=True)
class Placed:
    identifier: str
    context: str  # the innermost context that lists the job (its child_context_name)
    path: str  # the context path from the plan, "plan/child/..."
    kind: str
    x: int
    y: int


def _contexts(root: ContextNode) -> tuple[dict[str, tuple[str, str, str]], list[str]]:
    """identifier -> (context name, path, kind); every context path, outermost first."""
    where: dict[str, tuple[str, str, str]] = {}
    paths: list[str] = []

    def walk(node: ContextNode, path: str) -> None:
        paths.append(path)
        for ident, kind in node.jobs:
            where[ident] = (node.name, path, kind)
        for child in node.children:
            walk(child, f"{path}/{child.name}")

    walk(root, root.name)
    return where, paths


def _columns(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    parents: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        parents[target].append(source)
    column: dict[str, int] = {}

    def depth(node: str, trail: frozenset[str]) -> int:
        if node in column:
            return column[node]
        ups = [p for p in parents[node] if p not in trail]
        value = 1 + max((depth(p, trail | {node}) for p in ups), default=-1)
        column[node] = value
        return value

    for node in nodes:
        depth(node, frozenset())
    return column


def layout(graph: PlanGraph) -> list[Placed]:
    where, paths = _contexts(graph.root)
    order = {path: n for n, path in enumerate(paths)}
    nodes = list(where)
    for edge in graph.edges:
        for ident in (edge.source, edge.target):
            if ident not in where:
                where[ident] = (graph.root.name, graph.root.name, "reference")
                nodes.append(ident)
    pairs = [(e.source, e.target) for e in graph.edges if e.source != e.target]
    column = _columns(nodes, pairs)
    by_column: dict[int, list[str]] = defaultdict(list)
    for ident in nodes:
        by_column[column[ident]].append(ident)
    rows: dict[str, float] = {}
    for col in sorted(by_column):
        by_column[col].sort(key=lambda i: order[where[i][1]])
        for n, ident in enumerate(by_column[col]):
            rows[ident] = n
    parents: dict[str, list[str]] = defaultdict(list)
    for source, target in pairs:
        parents[target].append(source)
    for _sweep in range(2):
        for col in sorted(by_column)[1:]:
            members = by_column[col]

            def mean_row(ident: str) -> float:
                ups = [rows[p] for p in parents[ident] if p in rows]
                return sum(ups) / len(ups) if ups else rows[ident]

            members.sort(key=lambda i: (order[where[i][1]], mean_row(i)))
            for n, ident in enumerate(members):
                rows[ident] = n
    placed = []
    for col, members in sorted(by_column.items()):
        for n, ident in enumerate(members):
            context, path, kind = where[ident]
            placed.append(
                Placed(
                    ident,
                    context,
                    path,
                    kind,
                    MARGIN * 2 + col * (NODE_W + COL_GAP),
                    MARGIN * 2 + n * (NODE_H + ROW_GAP),
                )
            )
    return placed


def _label(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def node_id(context: str, identifier: str) -> str:
    """The DOM id of a job's node (escaped where it is written)."""
    return f"job:{context}:{identifier}"


def to_svg(plan: Any, statuses: dict[tuple[str, str], str]) -> str:
    """`plan`: a plan_pb2.Context; `statuses`: (child context, identifier) -> status name."""
    graph = build_graph(plan)
    placed = layout(graph)
    at = {p.identifier: p for p in placed}
    width = max((p.x for p in placed), default=0) + NODE_W + MARGIN * 2
    height = max((p.y for p in placed), default=0) + NODE_H + MARGIN * 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plan-graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(graph.root.name)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
        "</defs>",
    ]
    _, paths = _contexts(graph.root)
    for path in paths[1:]:
        inside = [p for p in placed if p.path == path or p.path.startswith(path + "/")]
        if not inside:
            continue
        depth = path.count("/")
        pad = max(6, 24 - 4 * depth)
        x0 = min(p.x for p in inside) - pad
        y0 = min(p.y for p in inside) - pad - 12
        x1 = max(p.x for p in inside) + NODE_W + pad
        y1 = max(p.y for p in inside) + NODE_H + pad
        name = path.rsplit("/", 1)[1]
        out.append(
            f'<g class="cluster"><rect x="{x0}" y="{y0}" width="{x1 - x0}" '
            f'height="{y1 - y0}" rx="8"/><text x="{x0 + 6}" y="{y0 + 12}">'
            f"{escape(_label(name))}</text></g>"
        )
    for edge in graph.edges:
        source, target = at.get(edge.source), at.get(edge.target)
        if source is None or target is None or source is target:
            continue
        sx, sy = source.x + NODE_W, source.y + NODE_H // 2
        tx, ty = target.x, target.y + NODE_H // 2
        mid = (sx + tx) // 2
        kind = "not" if edge.negated else "or" if edge.alternative else "and"
        out.append(
            f'<path class="edge edge-{kind}" d="M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}" '
            'marker-end="url(#arrow)"/>'
        )
        if kind != "and":
            out.append(f'<text class="edge-label" x="{mid}" y="{(sy + ty) // 2 - 3}">{kind}</text>')
    for p in placed:
        status = statuses.get((p.context, p.identifier), "")
        virtual = " virtual" if p.kind.endswith("_job") and p.kind not in _COMMAND_KINDS else ""
        out.append(
            f'<g class="job s-{escape(status or "NONE")}{virtual}" '
            f'id="{escape(node_id(p.context, p.identifier))}" '
            f'data-job="{escape(p.identifier)}" data-child="{escape(p.context)}" '
            f'data-status="{escape(status)}">'
            f"<title>{escape(p.identifier)} ({escape(status or 'no status')})</title>"
            f'<rect x="{p.x}" y="{p.y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{p.x + 8}" y="{p.y + 22}">{escape(_label(p.identifier))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


_COMMAND_KINDS = frozenset(
    {"internal_event_driven_job", "quartz_schedule_driven_job", "file_event_driven_job"}
)
