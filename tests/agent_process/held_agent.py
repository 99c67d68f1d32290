"""`ikasched agent run ...` as a real process whose inbox consumer never runs: the link
journals and acknowledges incoming messages and nothing processes them, so a test can crash
the agent on a journaled, unprocessed inbox. Run as `python -m tests.agent_process.held_agent`
with the agent's usual arguments."""

from __future__ import annotations

import asyncio
import sys

from ikasched_agent.consumer import InboxConsumer
from ikasched_cli.main import main


async def _never(self: InboxConsumer) -> None:
    await asyncio.Event().wait()


if __name__ == "__main__":
    InboxConsumer.run = _never  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:]))
