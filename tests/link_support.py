"""Shared pieces of the link tests: message makers, journals that record or misbehave, a
dashboard with one endpoint per agent, and a bounded wait."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ikasched.v1 import agent_pb2
from ikasched_common.errors import LinkRefused
from ikasched_common.journal import Journal, JournalItem, MemoryJournal, MetaValue
from ikasched_common.link import (
    AgentEndpoint,
    AgentPresence,
    LinkGateway,
    LinkSettings,
    MemoryOutbox,
    Outbox,
    Receiver,
)

FAST = LinkSettings(
    heartbeat_interval=0.05,
    liveness_timeout=2.0,
    max_batch_messages=100,
    window_messages=400,
    handshake_timeout=2.0,
)


def agent_messages(count: int, start: int = 0, prefix: str = "a") -> list[bytes]:
    return [
        agent_pb2.AgentMessage(id=f"{prefix}{i}", created_time=i).SerializeToString()
        for i in range(start, start + count)
    ]


def dashboard_messages(count: int, start: int = 0, prefix: str = "d") -> list[bytes]:
    return [
        agent_pb2.DashboardMessage(id=f"{prefix}{i}", created_time=i).SerializeToString()
        for i in range(start, start + count)
    ]


def agent_ids(journal: Journal) -> list[str]:
    return [agent_pb2.AgentMessage.FromString(i.value).id for i in _all(journal)]


def dashboard_ids(journal: Journal) -> list[str]:
    return [agent_pb2.DashboardMessage.FromString(i.value).id for i in _all(journal)]


def _all(journal: Journal) -> list[JournalItem]:
    out: list[JournalItem] = []
    after: int | None = None
    while True:
        page = journal.peek(1000, after)
        if not page:
            return out
        out.extend(page)
        after = page[-1].key


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll until predicate holds; fail (not a timing assertion: a hang guard) after timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the hang guard")
        await asyncio.sleep(0.005)


class RecordingJournal(MemoryJournal):
    """MemoryJournal that records append calls and can be slowed down or made to fail."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.appends: list[tuple[int, dict[str, MetaValue]]] = []
        self.delay = delay
        self.fail = False
        self.gate: threading.Event | None = None

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        if self.gate is not None:
            self.gate.wait(10)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise OSError("disk on fire")
        self.appends.append((len(values), dict(meta or {})))
        return super().append(values, meta)


class CountingReceiver(Receiver):
    """Receiver that counts every sequenced item offered (resends included)."""

    offered = 0

    def offer(self, items: Sequence[tuple[int, bytes]]) -> int:
        self.offered += len(items)
        return super().offer(items)


@dataclass
class AgentSlot:
    """The dashboard's per-agent state in tests."""

    journal: Journal
    receiver: Receiver
    outbox: Outbox
    lanes: list[agent_pb2.AgentLaneMessage] = field(default_factory=list)


class TestDashboard:
    """A LinkGateway with one inbox journal and one outbox per agent name."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        settings: LinkSettings = FAST,
        *,
        token: str | None = None,
        journal_factory: Callable[[str], Journal] | None = None,
        lane_delay: float = 0.0,
    ) -> None:
        self.lane_delay = lane_delay  # a slow lane consumer (e.g. a log viewer on a slow link)
        self.slots: dict[str, AgentSlot] = {}
        self.token = token
        self.presence_log: list[AgentPresence] = []
        self.journal_factory = journal_factory or (lambda _name: MemoryJournal())
        # (agent, messages journaled, sequenced items offered) when each lane message arrived
        self.lane_events: list[tuple[str, int, int]] = []
        self.gateway = LinkGateway(
            self.on_hello,
            dashboard_id="dash-1",
            settings=settings,
            on_presence=self.presence_log.append,
        )

    def slot(self, name: str) -> AgentSlot:
        if name not in self.slots:
            journal = self.journal_factory(name)
            self.slots[name] = AgentSlot(journal, CountingReceiver(journal), MemoryOutbox())
        return self.slots[name]

    async def on_hello(
        self, hello: agent_pb2.AgentHello, metadata: Mapping[str, str]
    ) -> AgentEndpoint:
        if self.token is not None and metadata.get("authorization") != f"Bearer {self.token}":
            raise LinkRefused("bad agent token", status="unauthenticated")
        slot = self.slot(hello.agent_name)

        async def on_lane(message: agent_pb2.AgentLaneMessage) -> None:
            if self.lane_delay:
                await asyncio.sleep(self.lane_delay)
            slot.lanes.append(message)
            offered = getattr(slot.receiver, "offered", 0)
            self.lane_events.append((hello.agent_name, len(slot.journal), offered))

        return AgentEndpoint(slot.receiver, slot.outbox, on_lane)

    def close(self) -> None:
        for slot in self.slots.values():
            slot.receiver.close()


def exactly_once_in_order(ids: Iterable[str], expected: Sequence[str]) -> None:
    got = list(ids)
    assert len(got) == len(set(got)), "a message was journaled twice"
    assert got == list(expected)
