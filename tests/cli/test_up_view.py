"""The live view of `ikasched up` fits the terminal and lists jobs in dependency order."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console

from ikasched.v1 import common_pb2, instance_pb2, plan_service_pb2
from ikasched_cli.up_view import dependency_order, render_view
from ikasched_dashboard.plans.loader import load_plan_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NIGHTLY = load_plan_file(EXAMPLES / "nightly-batch.yaml")
CHAIN = ["local-kickoff", "local-extract-orders", "local-load-facts", "local-rebuild-indexes"]


class FakeSource:
    """Stands in for the dashboard reads (the view's input), with many instances."""

    def __init__(self, count: int) -> None:
        self.count = count

    def plans(self) -> list[Any]:
        return [plan_service_pb2.PlanSummary(name=f"plan-{n}", version=1) for n in range(12)]

    def live(self, first: str) -> list[Any]:
        return [
            instance_pb2.ContextInstance(id=f"i{n}", context_name="nightly-batch")
            for n in range(self.count)
        ]

    def instance(self, iid: str) -> Any:
        inst = instance_pb2.ContextInstance(id=iid, context_name="nightly-batch", plan_version=1)
        for ident in reversed(CHAIN):  # the dashboard's order is not the dependency order
            inst.jobs.add(identifier=ident, status=common_pb2.WAITING)
        return inst

    def plan(self, name: str, version: int) -> Any:
        return NIGHTLY


def _lines(height: int, count: int) -> list[str]:
    console = Console(file=io.StringIO(), width=100, height=height, color_system=None)
    view = render_view(FakeSource(count), "i0", "footer line 1\nfooter line 2", height)  # type: ignore[arg-type]
    with console.capture() as captured:
        console.print(view)
    return captured.get().rstrip("\n").splitlines()


def test_jobs_in_dependency_order() -> None:
    assert dependency_order(NIGHTLY, list(reversed(CHAIN))) == CHAIN
    lines = _lines(60, 1)
    rows = [line.split()[0] for line in lines if line.startswith("local-")]
    assert rows == CHAIN, lines


def test_view_fits_the_window() -> None:
    for height in (15, 24, 40):
        lines = _lines(height, 20)
        assert len(lines) <= height, (height, len(lines), lines)
        assert lines[-1] == "footer line 2"
        assert any("more" in line for line in lines)
