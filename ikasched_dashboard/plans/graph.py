"""Graph algorithms for the validator's dependency-cycle check (deterministic orders)."""

from __future__ import annotations


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's components, iteratively, in a deterministic order (members in graph order)."""
    order = {node: i for i, node in enumerate(graph)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, [])
            if next_edge < len(successors):
                work.append((node, next_edge + 1))
                succ = successors[next_edge]
                if succ not in index:
                    work.append((succ, 0))
                elif succ in on_stack:
                    low[node] = min(low[node], index[succ])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                components.append(sorted(members, key=order.__getitem__))
    components.sort(key=lambda c: order[c[0]])
    return components


def cycle_through(graph: dict[str, list[str]], start: str, members: set[str]) -> list[str]:
    """A shortest cycle from start back to start within one component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for succ in graph.get(node, []):
                if succ not in members:
                    continue
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if succ not in previous:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    return [start, start]  # pragma: no cover - a component always has a cycle
