"""A stand-in agent process for restart tests: runs an Executor until it is killed.

Usage: python exec_host.py DATA_DIR INITIATIONS_FILE EVENTS_FILE
Initiations and events are one base64 serialized proto per line; events are flushed one by one
so the test sees them even when it SIGKILLs this process.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

from ikasched.v1 import events_pb2
from ikasched_agent.executor import Executor


async def main(data_dir: Path, initiations: Path, events: Path) -> None:
    out = events.open("a")

    async def emit(event: events_pb2.ContextualisedScheduledProcessEvent) -> None:
        out.write(base64.b64encode(event.SerializeToString()).decode() + "\n")
        out.flush()

    executor = Executor(data_dir, emit=emit, agent_name="agent1")
    for line in initiations.read_text().split():
        init = events_pb2.SchedulerJobInitiationEvent.FromString(base64.b64decode(line))
        await executor.submit(init)
    await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
