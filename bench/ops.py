"""Operations on the real processes of bench/stack.py:

- recovery: N live instances, SIGKILL the dashboard, start it again: restart -> SERVING (its
  port file) and restart -> first processed event (a time job run by hand, fired by the agent
  once it has reconnected, processed). Floor: the same dashboard starting on an empty store.
- footprint: the idle dashboard and one agent: RSS and CPU (bench/idle.py), beside a bare
  sleeping `python -c`; start-up of `ikasched version` and `ikasched plan list` (an RPC),
  beside `python -c pass` (bench/cli_startup.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cli_startup import _time as time_command
from bench.idle import measure
from bench.results import Figure, median
from bench.stack import RealStack, command_job, cron_job, plan_dict
from ikasched_cli.client import CliError

NEVER = "0 0 0 1 1 ? 2099"


def recovery(stack: RealStack, live: int, durability: str) -> list[Figure]:
    stack.provision(
        plan_dict(
            "bench-recovery",
            [cron_job("local", "start", NEVER), command_job("local", "run")],
            [
                {"jobIdentifier": "local-start"},
                {"jobIdentifier": "local-run", "logicalGrouping": {"and": ["local-start"]}},
            ],
        )
    )
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _n: stack.create_instance("bench-recovery"), range(live)))
    stack.kill_dashboard()
    t0 = time.perf_counter()
    serving = stack.start_dashboard()
    target = ids[-1]
    while True:  # the first RunJob the dashboard takes, then its fire event processed
        try:
            stack.run_job(target, "local-start")
            break
        except CliError:
            if time.perf_counter() - t0 > 120:
                raise
            time.sleep(0.01)
    while not any(j.job_name == "start" and j.end_time for j in stack.instance(target).jobs):
        if time.perf_counter() - t0 > 120:
            raise RuntimeError("no event processed within 120 s of the restart")
        time.sleep(0.005)
    first = time.perf_counter() - t0
    common: dict[str, Any] = {
        "scenario": "recovery",
        "unit": "s",
        "durability": durability,
        "floor": stack.first_start_seconds,
        "floor_name": "start on an empty store",
    }
    return [
        Figure(
            name=f"SIGKILL, {live:,} live: restart->SERVING",
            value=serving,
            op="<=",
            bound=5,
            note="target is at 5,000 live instances",
            **common,
        ),
        Figure(
            name="restart->first processed event",
            value=first,
            note="includes the agent's reconnect",
            **common,
        ),
    ]


def footprint(stack: RealStack, seconds: float, runs: int) -> list[Figure]:
    assert stack.dashboard is not None
    pids = [stack.dashboard.pid, stack.agents["local"].pid]
    floor_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        time.sleep(0.5)
        rss, cpu = measure(pids, seconds)
        floor_rss, floor_cpu = measure([floor_proc.pid], min(seconds, 1.0))
    finally:
        floor_proc.kill()
        floor_proc.wait()
    script = shutil.which("ikasched") or str(Path(sys.executable).parent / "ikasched")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IKASCHED_")}
    rpc_env = dict(
        env, IKASCHED_DASHBOARD=f"127.0.0.1:{stack.port}", IKASCHED_TOKEN=stack.admin_token
    )
    cwd = stack.data_dir
    python = median(time_command([sys.executable, "-c", "pass"], runs, env, cwd))
    version = median(time_command([script, "version"], runs, env, cwd))
    listing = median(time_command([script, "plan", "list"], runs, rpc_env, cwd))
    common: dict[str, Any] = {"scenario": "footprint"}
    return [
        Figure(
            name="idle dashboard + one agent RSS",
            value=rss,
            unit="MB",
            floor=floor_rss,
            floor_name="bare python",
            op="<=",
            bound=150,
            **common,
        ),
        Figure(
            name="idle dashboard + one agent CPU",
            value=cpu,
            unit="% core",
            floor=floor_cpu,
            floor_name="bare python",
            op="<=",
            bound=1,
            note=f"{seconds:g} s window",
            **common,
        ),
        Figure(
            name="CLI start-up: ikasched version",
            value=version,
            unit="ms",
            floor=python,
            floor_name="python -c pass",
            op="<=",
            bound=300,
            **common,
        ),
        Figure(
            name="CLI start-up: ikasched plan list (RPC)",
            value=listing,
            unit="ms",
            floor=python,
            floor_name="python -c pass",
            op="<=",
            bound=300,
            **common,
        ),
    ]
