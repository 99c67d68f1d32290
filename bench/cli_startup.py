"""Start-up time of `ikasched` commands beside `python -c pass` (docs/architecture.md §8: ≤ 300 ms).

    python bench/cli_startup.py [--runs N]

Each row runs the command N times as a fresh process (the console script's interpreter, the
same way a shell runs it) and prints the median and worst wall time. The RPC row runs
`ikasched plan list` against a live dashboard started here (real `ikasched dashboard` on
127.0.0.1:0 with a temp data dir and an admin token), so it includes connecting and one call.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 300.0


def _time(argv: list[str], runs: int, env: dict[str, str], cwd: Path) -> list[float]:
    subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)  # warm the cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise SystemExit(
                f"{' '.join(argv)} failed ({done.returncode}): "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    script = shutil.which("ikasched") or str(Path(sys.executable).parent / "ikasched")
    python = sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith("IKASCHED_")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        from ikasched_cli.up import Stack, prepare_tokens

        data = work / "data"
        data.mkdir()
        tokens = prepare_tokens(data)
        stack = Stack(data)
        try:
            port = stack.start_dashboard("127.0.0.1:0")
            rpc_env = dict(env, IKASCHED_DASHBOARD=f"127.0.0.1:{port}", IKASCHED_TOKEN=tokens.admin)
            rows = [
                ("floor: python -c pass", [python, "-c", "pass"], env),
                ("ikasched --help", [script, "--help"], env),
                ("ikasched plan --help", [script, "plan", "--help"], env),
                ("ikasched version", [script, "version"], env),
                ("ikasched plan list (RPC)", [script, "plan", "list"], rpc_env),
            ]
            print(f"{'command':<28} {'median ms':>10} {'max ms':>8} {'minus floor':>12}")
            floor = 0.0
            worst = 0.0
            for name, argv, row_env in rows:
                times = _time(argv, args.runs, row_env, work)
                median = statistics.median(times)
                if name.startswith("floor"):
                    floor = median
                    extra = ""
                else:
                    worst = max(worst, median)
                    extra = f"{median - floor:>11.1f}"
                print(f"{name:<28} {median:>10.1f} {max(times):>8.1f} {extra:>12}")
            verdict = "within" if worst <= TARGET_MS else "OVER"
            print(f"slowest command median {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
