"""An agent-side link in its own process, for the SIGKILL tests.

usage: python tests/link_agent_proc.py TARGET DATA_DIR COUNT

Keeps its outbox and inbox as DiskJournals under DATA_DIR, produces COUNT agent messages
("p0", "p1", ...) in small steps (the produced count commits with each append, so a kill never
loses or repeats a production step) and links to the dashboard at TARGET until killed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import uuid
from pathlib import Path

from ikasched.v1 import agent_pb2
from ikasched_common.journal import DiskJournal
from ikasched_common.link import (
    AgentIdentity,
    AgentLinkClient,
    Backoff,
    JournalOutbox,
    LinkSettings,
    Receiver,
)
from ikasched_common.link.grpc_transport import GrpcDialer

PRODUCED = "test.produced"
INSTANCE = "test.instance_id"


async def main(target: str, data_dir: Path, count: int) -> None:
    outbox_journal = DiskJournal(data_dir / "outbox")
    inbox_journal = DiskJournal(data_dir / "inbox")
    instance = outbox_journal.get_meta(INSTANCE)
    if not isinstance(instance, str):
        instance = uuid.uuid4().hex
        outbox_journal.set_meta({INSTANCE: instance})
    outbox = JournalOutbox(outbox_journal)
    receiver = Receiver(inbox_journal)
    settings = LinkSettings(
        heartbeat_interval=0.1, liveness_timeout=2.0, window_messages=400, max_batch_messages=100
    )
    client = AgentLinkClient(
        GrpcDialer(target, token="agent-token", settings=settings),
        AgentIdentity("proc", instance),
        receiver,
        outbox,
        settings=settings,
        backoff=Backoff(initial=0.01, maximum=0.2),
    )
    link = asyncio.get_running_loop().create_task(client.run())
    rng = random.Random()
    produced = int(outbox_journal.get_meta(PRODUCED, 0) or 0)
    while produced < count:
        step = min(rng.randint(1, 50), count - produced)
        values = [
            agent_pb2.AgentMessage(id=f"p{i}", created_time=i).SerializeToString()
            for i in range(produced, produced + step)
        ]
        await outbox.add(values, meta={PRODUCED: produced + step})
        produced += step
        await asyncio.sleep(0.002)
    print("produced", produced, flush=True)
    await link


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
