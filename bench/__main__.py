"""`python -m bench`: every benchmark scenario on real processes over 127.0.0.1 with durable
settings, one table of figures beside the floors measured in the same run (docs/benchmarks.md).

    python -m bench [--quick] [--durability crash|power|both] [--json PATH] [--only a,b]

It never fails on a figure (the verdict column says met / MISSED); only a crash fails it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import core, ops, real
from bench import notify as notify_bench
from bench.results import Figure, table, write_json
from bench.stack import RealStack

SCENARIOS = (
    "footprint", "chain", "schedule", "throughput", "burst", "recovery", "events", "scale", "notify"
)  # fmt: skip
STACK = ("footprint", "chain", "schedule", "throughput", "burst", "recovery")


def machine() -> dict[str, Any]:
    def cmd(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    model = ""
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    root = Path(__file__).resolve().parents[1]
    tmp = tempfile.gettempdir()
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": cmd("git", "-C", str(root), "rev-parse", "--short", "HEAD"),
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tmp_fs": cmd("stat", "-f", "-c", "%T", tmp),
        "load_avg": os.getloadavg(),
    }


def run_stack(
    root: Path, want: set[str], quick: bool, durability: str, first: bool
) -> list[Figure]:
    sizes = real.QUICK if quick else real.FULL
    stack = RealStack(root / f"stack-{durability}", durability, ["local", "b"])
    out: list[Figure] = []
    steps: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("footprint", lambda: ops.footprint(stack, 2.0 if quick else 20.0, 2 if quick else 15)),
        ("chain", lambda: real.chain(stack, sizes, durability)),
        ("schedule", lambda: real.schedule(stack, sizes, durability)),
        ("throughput", lambda: real.throughput(stack, sizes, durability)),
        ("burst", lambda: real.burst(stack, sizes, durability)),
        ("recovery", lambda: ops.recovery(stack, 200 if quick else 5000, durability)),
    ]
    try:
        stack.start()
        for name, step in steps:
            if name in want and (first or name != "footprint"):
                out += timed(name, step)
    finally:
        stack.stop()
    return out


FAILED: list[str] = []


def timed(name: str, step: Callable[[], list[Figure]]) -> list[Figure]:
    """The step's figures; a step that crashes is reported and the others still run."""
    t0 = time.perf_counter()
    try:
        got = step()
    except Exception:
        traceback.print_exc()
        FAILED.append(name)
        got = []
    print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: well under a minute")
    parser.add_argument("--durability", choices=("crash", "power", "both"), default="crash")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to PATH")
    parser.add_argument("--only", default="", help=f"comma list of: {','.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    want = set(args.only.split(",")) if args.only else set(SCENARIOS)
    unknown = want - set(SCENARIOS)
    if unknown:
        parser.error(f"--only: unknown scenario {', '.join(sorted(unknown))}")
    durabilities = ["crash", "power"] if args.durability == "both" else [args.durability]
    meta = machine() | {"quick": args.quick, "durability": args.durability}
    figures: list[Figure] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ikasched-bench-") as tmp:
        root = Path(tmp)
        for n, durability in enumerate(durabilities):
            print(f"durability {durability}:", file=sys.stderr, flush=True)
            if want & set(STACK):
                figures += run_stack(root, want, args.quick, durability, n == 0)
            if "events" in want:
                figures += timed(
                    "events",
                    lambda d=durability: asyncio.run(  # type: ignore[misc]
                        core.events(root / f"events-{d}", args.quick, d)
                    ),
                )
            if "events" in want and core.postgres_url():
                figures += timed(
                    "events (PostgreSQL)",
                    lambda d=durability: asyncio.run(  # type: ignore[misc]
                        core.events_postgres(root / f"events-pg-{d}", args.quick, d)
                    ),
                )
            if "notify" in want:
                figures += timed(
                    "notify",
                    lambda d=durability: asyncio.run(  # type: ignore[misc]
                        notify_bench.notify(root / f"notify-{d}", args.quick, d)
                    ),
                )
            if "scale" in want and n == 0:
                figures += timed(
                    "scale",
                    lambda d=durability: asyncio.run(  # type: ignore[misc]
                        core.scale(root / f"scale-{d}", args.quick, d)
                    ),
                )
    meta["seconds"] = round(time.perf_counter() - t0, 1)
    print()
    print(
        f"commit {meta['commit']}  {meta['cpu']} x{meta['cores']}  python {meta['python']}"
        f"  tmp on {meta['tmp_fs']}  quick={args.quick}  {meta['seconds']} s"
    )
    print(table(figures))
    if args.json:
        write_json(args.json, meta | {"failed": FAILED}, figures)
    if FAILED:
        print(f"python -m bench: crashed: {', '.join(FAILED)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
