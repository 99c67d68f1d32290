"""`plan graph` draws `and`, `or` and `not` operands differently (DOT and Mermaid)."""

from __future__ import annotations

from ikasched_cli.graph import build_graph, to_dot, to_mermaid
from ikasched_dashboard.plans.loader import load_plan_text

PLAN = """
name: g
scheduledJobs:
  - {agentName: l, jobName: a, internalEventDrivenJob: {commandLine: "true"}}
  - {agentName: l, jobName: b, internalEventDrivenJob: {commandLine: "true"}}
  - {agentName: l, jobName: c, internalEventDrivenJob: {commandLine: "true"}}
  - {agentName: l, jobName: d, internalEventDrivenJob: {commandLine: "true"}}
  - {agentName: l, jobName: e, internalEventDrivenJob: {commandLine: "true"}}
jobDependencies:
  - jobIdentifier: l-a
  - jobIdentifier: l-b
  - jobIdentifier: l-c
  - jobIdentifier: l-d
    logicalGrouping: {and: [l-a]}
  - jobIdentifier: l-e
    logicalGrouping: {or: [l-b, l-c], not: [l-d]}
"""


def test_and_or_not_edges_differ() -> None:
    graph = build_graph(load_plan_text(PLAN))
    dot = to_dot(graph).splitlines()
    assert "  n_l_a -> n_l_d;" in dot
    assert '  n_l_b -> n_l_e [style=bold, label="or"];' in dot
    assert '  n_l_c -> n_l_e [style=bold, label="or"];' in dot
    assert '  n_l_d -> n_l_e [style=dashed, label="not"];' in dot
    mermaid = to_mermaid(graph).splitlines()
    assert "  n_l_a --> n_l_d" in mermaid
    assert "  n_l_b -- or --> n_l_e" in mermaid
    assert "  n_l_d -. not .-> n_l_e" in mermaid
