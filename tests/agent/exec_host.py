"""A stand-in agent process for restart tests: runs an Executor until it is killed.

Usage: python exec_host.py DATA_DIR INITIATIONS_FILE EVENTS_FILE [STOP_POINT]
Initiations and events are one base64 serialized proto per line; events are flushed one by one
so the test sees them even when it SIGKILLs this process. With STOP_POINT, the wrappers this
host spawns stop themselves there (the wrapper's test hook).
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

from ikasched.v1 import events_pb2
from ikasched_agent.executor import Executor
from ikasched_agent.wrapper import STOP_AT_ENV


async def main(data_dir: Path, initiations: Path, events: Path, stop_at: str) -> None:
    out = events.open("a")

    async def emit(event: events_pb2.ContextualisedScheduledProcessEvent) -> None:
        out.write(base64.b64encode(event.SerializeToString()).decode() + "\n")
        out.flush()

    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if stop_at:
        base_env[STOP_AT_ENV] = stop_at
    executor = Executor(data_dir, emit=emit, agent_name="agent1", base_env=base_env)
    for line in initiations.read_text().split():
        init = events_pb2.SchedulerJobInitiationEvent.FromString(base64.b64decode(line))
        await executor.submit(init)
    await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    stop = sys.argv[4] if len(sys.argv) > 4 else ""
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), stop))
