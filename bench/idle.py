"""Idle footprint: a dashboard and one connected agent doing nothing (docs/architecture.md §8).

Target: 2 processes, ≤ 150 MB RSS together, ≤ 1% of a core. The floor, measured in the same
run: a bare `python -c` process that sleeps (interpreter start-up RSS, no CPU).

    python bench/idle.py [--quick] [--seconds N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ikasched_cli.up import Stack, prepare_tokens

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat; after the ")" they are at 11 and 12
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def measure(pids: list[int], seconds: float) -> tuple[float, float]:
    """(RSS MB summed at the end, CPU % of one core over the window)."""
    before = sum(cpu_seconds(p) for p in pids)
    time.sleep(seconds)
    used = sum(cpu_seconds(p) for p in pids) - before
    return sum(rss_mb(p) for p in pids), 100.0 * used / seconds


def wait_connected(data_dir: Path, port: int, token: str, deadline: float) -> None:
    env = dict(os.environ, IKASCHED_DASHBOARD=f"127.0.0.1:{port}", IKASCHED_TOKEN=token)
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-m", "ikasched_cli", "agent", "list", "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=data_dir,
            check=False,
        )
        if out.returncode == 0 and '"connected": true' in out.stdout:
            return
        time.sleep(0.5)
    raise SystemExit("the agent did not connect")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 5 s window instead of 30 s")
    parser.add_argument("--seconds", type=float, default=0.0)
    args = parser.parse_args()
    window = args.seconds or (5.0 if args.quick else 30.0)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        tokens = prepare_tokens(data)
        stack = Stack(data)
        floor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        try:
            port = stack.start_dashboard("127.0.0.1:0")
            stack.start_agent(f"127.0.0.1:{port}", tokens.agent)
            wait_connected(data, port, tokens.admin, time.monotonic() + 60)
            time.sleep(2.0)  # let start-up work (migrations, first heartbeats) settle
            assert stack.dashboard is not None and stack.agent is not None
            pids = [stack.dashboard.pid, stack.agent.pid]
            rss, cpu = measure(pids, window)
            floor_rss, floor_cpu = measure([floor.pid], min(window, 5.0))
            each = [f"{rss_mb(p):.1f}" for p in pids]
        finally:
            floor.kill()
            floor.wait()
            stack.stop()

    print(f"idle dashboard + one agent, {window:.0f} s window")
    print(f"{'measure':<34}{'ikasched':>12}{'floor':>12}{'target':>12}")
    print(f"{'processes':<34}{2:>12}{1:>12}{'2':>12}")
    print(f"{'RSS together (MB)':<34}{rss:>12.1f}{floor_rss:>12.1f}{'<= 150':>12}")
    print(f"{'  dashboard, agent (MB)':<34}{', '.join(each):>12}")
    print(f"{'CPU (% of one core)':<34}{cpu:>12.2f}{floor_cpu:>12.2f}{'<= 1':>12}")
    print("floor: a bare `python -c` sleeping process measured in the same run")


if __name__ == "__main__":
    main()
