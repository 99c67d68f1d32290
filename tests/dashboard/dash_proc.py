"""A dashboard in its own process, for the SIGKILL tests and the restart bench.

usage: python -m tests.dashboard.dash_proc DATA_DIR PORT [--create N --length L]
With --create, plans are provisioned and N instances created before "CREATED" is printed.
Prints "READY <recovery seconds>" once serving.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.testing import chain_plan, core_dashboard, dashboard_config, provision


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("port", type=int)
    parser.add_argument("--create", type=int, default=0)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--plans", type=int, default=2)
    args = parser.parse_args()
    config = dashboard_config(Path(args.data_dir), f"127.0.0.1:{args.port}")
    process = core_dashboard(config)
    await process.start()
    print(
        f"READY {process.recovery_seconds:.3f} {len(process.orchestrator.live_instance_ids())}",
        flush=True,
    )
    if args.create:
        names = [f"plan{n}" for n in range(args.plans)]
        for name in names:
            await provision(process, chain_plan(name, ["a1", "a2"], args.length))
        ids = await asyncio.gather(
            *(
                process.orchestrator.create_instance(NewInstance(names[n % len(names)], n + 1))
                for n in range(args.create)
            )
        )
        print("CREATED " + " ".join(ids), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
