"""The bench's table and JSON: verdicts against value or ratio targets, and the --only check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.results import Figure, pct, table, write_json


def test_value_target_verdicts() -> None:
    fast = Figure("chain", "hop p50", 4.0, "ms", floor=1.0, op="<=", bound=5)
    slow = Figure("chain", "hop p50", 6.0, "ms", floor=1.0, op="<=", bound=5)
    assert (fast.verdict, slow.verdict) == ("met", "MISSED")
    assert fast.ratio == 4.0
    assert fast.target == "<= 5 ms"


def test_ratio_target_compares_value_over_floor() -> None:
    below = Figure("throughput", "executions/s", 60.0, "/s", floor=100.0, op=">=", bound=0.7,
                   ratio_target=True)  # fmt: skip
    above = Figure("throughput", "executions/s", 80.0, "/s", floor=100.0, op=">=", bound=0.7,
                   ratio_target=True)  # fmt: skip
    assert (below.verdict, above.verdict) == ("MISSED", "met")
    assert below.target == ">= 0.7 x floor"
    no_floor = Figure("throughput", "executions/s", 80.0, "/s", op=">=", bound=0.7,
                      ratio_target=True)  # fmt: skip
    assert no_floor.verdict == "n/a"
    assert Figure("scale", "memory per plan", 5.0, "KB").verdict == "info"


def test_table_has_one_row_per_figure_and_json_keeps_verdicts(tmp_path: Path) -> None:
    figures = [
        Figure("events", "durable process events/s", 3000.0, "/s", floor=30000.0,
               floor_name="journal", op=">=", bound=10000, durability="crash"),
        Figure("scale", "memory per plan", 5.0, "KB"),
    ]  # fmt: skip
    lines = table(figures).splitlines()
    assert len(lines) == 2 + len(figures)
    assert "MISSED" in lines[2] and "[crash]" in lines[2] and "0.10" in lines[2]
    write_json(tmp_path / "out.json", {"quick": True}, figures)
    body = json.loads((tmp_path / "out.json").read_text())
    assert [f["verdict"] for f in body["figures"]] == ["MISSED", "info"]
    assert body["run"] == {"quick": True}


def test_percentile_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert pct(values, 0.5) == 51.0
    assert pct(values, 0.99) == 100.0
    assert pct([], 0.5) != pct([], 0.5)  # NaN


def test_unknown_scenario_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--only", "nosuch"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "--only: unknown scenario nosuch" in done.stderr
