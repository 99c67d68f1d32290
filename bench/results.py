"""One figure of `python -m bench`, the table they make and their JSON form."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Figure:
    """A measured value beside the floor measured in the same run.

    `target` is the docs/architecture.md §8 bound on `value` ("<=" or ">=" `bound`, in `unit`),
    or, with `ratio_target`, a bound on value / floor; None: printed for information only."""

    scenario: str
    name: str
    value: float
    unit: str
    floor: float | None = None
    floor_name: str = ""
    op: str = ""  # "<=" or ">=", "" = no target
    bound: float | None = None
    ratio_target: bool = False
    durability: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    @property
    def target(self) -> str:
        if not self.op or self.bound is None:
            return ""
        suffix = " x floor" if self.ratio_target else f" {self.unit}"
        return f"{self.op} {self.bound:g}{suffix}"

    @property
    def verdict(self) -> str:
        if not self.op or self.bound is None:
            return "info"
        measured = self.ratio if self.ratio_target else self.value
        if measured is None:
            return "n/a"
        ok = measured <= self.bound if self.op == "<=" else measured >= self.bound
        return "met" if ok else "MISSED"

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(ratio=self.ratio, target=self.target, verdict=self.verdict)
        return out


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank) of values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value != value:  # NaN
        return "nan"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: Sequence[Figure]) -> str:
    """The one table: scenario, figure, floor, ratio to floor, target, verdict."""
    header = ("scenario", "figure", "value", "floor", "ratio", "target", "verdict")
    rows = [header]
    for f in figures:
        name = f"{f.name} [{f.durability}]" if f.durability else f.name
        rows.append(
            (
                f.scenario,
                name,
                f"{_num(f.value)} {f.unit}",
                f"{_num(f.floor)}" + (f" ({f.floor_name})" if f.floor_name else ""),
                "-" if f.ratio is None else f"{f.ratio:.2f}",
                f.target or "-",
                f.verdict,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, meta: dict[str, Any], figures: Sequence[Figure]) -> None:
    body = {"run": meta, "figures": [f.as_json() for f in figures]}
    path.write_text(json.dumps(body, indent=2, allow_nan=True) + "\n")
