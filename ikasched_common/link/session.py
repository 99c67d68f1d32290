"""The link protocol engine: one `LinkSession` per connection, for either side (the agent's
dialer is `link.client`, the dashboard's server `link.gateway`), and the settings both share.

Resume rule (hello/welcome): each side tells the other its last journaled seq L and its last
assigned seq. As a sender, with outbox position (acked A, assigned S):
  * A <= L <= S (normal): acknowledge up to L (the ack may have been lost), resend (L, S], then
    continue with pending messages.
  * L < A (the receiver lost journaled messages) or L > S (the sender lost its numbering):
    **state loss**. Logged at ERROR; the outbox's unacknowledged messages become pending again
    and numbering continues at L + 1 (`Outbox.reset_sequence(L)`). Nothing hangs and no seq is
    journaled twice; messages the receiver lost after acknowledging them cannot be recovered by
    the link (their ids make a later replay harmless, docs/architecture.md §4.4).
As a receiver, a peer whose last assigned seq is below our last journaled seq has lost its
numbering; we log it and it renumbers by the rule above. A gap in a batch is a protocol error
that tears the connection down; the next hello resumes exactly.

Writer priorities per round: cumulative ack, then one lane frame, then one work batch (inside
the in-flight window), so lane bulk and work interleave and neither waits behind the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message

from ikasched.v1 import agent_pb2
from ikasched_common import clock
from ikasched_common.errors import LinkError, LinkViolation
from ikasched_common.link.frame_rules import check_batch_size, check_seq
from ikasched_common.link.outbox import Outbox, SequencedItem
from ikasched_common.link.receiver import Receiver
from ikasched_common.link.transport import FrameConnection, LinkClosed

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
_FRAME_OVERHEAD = 64  # frame + batch headers
_ITEM_OVERHEAD = 16  # seq + length prefixes of one sequenced message

OutF = TypeVar("OutF", agent_pb2.AgentFrame, agent_pb2.DashboardFrame)
InF = TypeVar("InF", agent_pb2.AgentFrame, agent_pb2.DashboardFrame)
LaneT = TypeVar("LaneT", bound=Message)
LaneIn = TypeVar("LaneIn", bound=Message)


class LinkTimeout(LinkClosed):
    """Nothing heard from the peer within the liveness timeout."""


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Link tuning. The dashboard's values for the first four reach the agent in the welcome."""

    heartbeat_interval: float = 5.0
    liveness_timeout: float = 20.0
    max_batch_messages: int = 500
    max_frame_bytes: int = 4 * 1024 * 1024
    window_messages: int = 5000  # unacknowledged messages in flight
    linger: float = 0.001  # wait this long for a fuller batch, only while others are in flight
    lane_queue_size: int = 64
    handshake_timeout: float = 10.0

    @property
    def message_limit(self) -> int:
        """The largest work message (serialized bytes) a frame can carry: producers refuse to
        queue a bigger one (docs/architecture.md §4.9)."""
        return self.max_frame_bytes - _FRAME_OVERHEAD - _ITEM_OVERHEAD

    def adopt(self, welcome: agent_pb2.DashboardWelcome) -> LinkSettings:
        """These settings with the dashboard's negotiated values."""
        return LinkSettings(
            heartbeat_interval=(welcome.heartbeat_interval_millis / 1000.0)
            or self.heartbeat_interval,
            liveness_timeout=(welcome.liveness_timeout_millis / 1000.0) or self.liveness_timeout,
            max_batch_messages=welcome.max_batch_messages or self.max_batch_messages,
            max_frame_bytes=welcome.max_frame_bytes or self.max_frame_bytes,
            window_messages=self.window_messages,
            linger=self.linger,
            lane_queue_size=self.lane_queue_size,
            handshake_timeout=self.handshake_timeout,
        )


class _Codec(Generic[OutF, LaneT]):
    """Builds one side's outgoing frames."""

    def __init__(self, frame_cls: type[OutF], side: str) -> None:
        self.frame_cls: type[OutF] = frame_cls
        self.side = side

    def batch(self, items: list[SequencedItem]) -> OutF:
        frame = self.frame_cls()
        messages = frame.batch.messages
        for item in items:
            sequenced = messages.add()
            sequenced.seq = item.seq
            sequenced.message.MergeFromString(item.value)
        return frame

    def ack(self, up_to: int) -> OutF:
        frame = self.frame_cls()
        frame.ack.journaled_up_to = up_to
        return frame

    def heartbeat(self) -> OutF:
        frame = self.frame_cls()
        frame.heartbeat.sent_time = clock.now_ms()
        return frame

    def lane(self, message: LaneT) -> OutF:
        frame = self.frame_cls()
        frame.lane.MergeFromString(message.SerializeToString())
        return frame


AGENT_CODEC: _Codec[agent_pb2.AgentFrame, agent_pb2.AgentLaneMessage] = _Codec(
    agent_pb2.AgentFrame, "agent"
)
DASHBOARD_CODEC: _Codec[agent_pb2.DashboardFrame, agent_pb2.DashboardLaneMessage] = _Codec(
    agent_pb2.DashboardFrame, "dashboard"
)

LaneHandler = Callable[[LaneIn], Awaitable[None]]


class LinkSession(Generic[OutF, InF, LaneT, LaneIn]):
    """The protocol engine of one connection after the hello/welcome exchange."""

    def __init__(
        self,
        conn: FrameConnection[OutF, InF],
        codec: _Codec[OutF, LaneT],
        receiver: Receiver,
        outbox: Outbox,
        settings: LinkSettings,
        *,
        peer: str,
        on_lane: LaneHandler[LaneIn] | None = None,
    ) -> None:
        self._conn: FrameConnection[OutF, InF] = conn
        self._codec: _Codec[OutF, LaneT] = codec
        self._receiver = receiver
        self._outbox = outbox
        self._settings = settings
        self._peer = peer
        self._on_lane: LaneHandler[LaneIn] | None = on_lane
        self._lane: asyncio.Queue[LaneT] = asyncio.Queue(settings.lane_queue_size)
        self._ready: deque[OutF] = deque()  # assigned, framed, not yet written
        self._wake = asyncio.Event()
        self._ack_event = asyncio.Event()
        self._stop = asyncio.Event()
        self._done = asyncio.Event()
        self._stop_reason: BaseException | None = None
        self._ack_sent = 0
        self._peer_acked = 0
        self._acked_done = 0
        self._sent_up_to = 0
        self._resend_cursor = 0
        self._resend_end = 0
        self._outbox_version = 0
        self._drained_at = -1
        now = time.monotonic()
        self._last_sent = now
        self._last_recv = now
        self.connected_at = time.time()
        self.last_seen = time.time()
        self.frames_sent = 0
        self.frames_received = 0

    # ---- public -------------------------------------------------------------------------
    @property
    def peer(self) -> str:
        return self._peer

    @property
    def settings(self) -> LinkSettings:
        return self._settings

    def send_lane_nowait(self, message: LaneT) -> None:
        """Queue a lane message; raises asyncio.QueueFull when the lane is backed up."""
        self._lane.put_nowait(message)
        self._wake.set()

    async def send_lane(self, message: LaneT) -> None:
        """Queue a lane message, waiting while the lane is full (flow control for bulk)."""
        if self._done.is_set():
            raise LinkClosed("session ended")
        await self._lane.put(message)
        self._wake.set()

    def stop(self, reason: str = "stopped") -> None:
        """Ask the session to end (it closes the connection)."""
        if self._stop_reason is None:
            self._stop_reason = LinkClosed(reason)
        self._stop.set()

    async def wait_closed(self) -> None:
        await self._done.wait()

    @property
    def closed(self) -> bool:
        return self._done.is_set()

    # ---- run ----------------------------------------------------------------------------
    async def run(
        self, peer_last_journaled: int, peer_last_assigned: int, *, first_frame: OutF | None = None
    ) -> BaseException:
        """Drive the connection until it ends (sending `first_frame`, e.g. the welcome, first);
        returns why it ended. Always closes the connection."""
        unlisten = [
            self._outbox.listen(self._on_outbox_added),
            self._receiver.listen(self._on_journaled),
            self._receiver.listen_errors(self._on_receiver_error),
        ]
        tasks: list[asyncio.Task[None]] = []
        reason: BaseException = LinkClosed("ended")
        try:
            if first_frame is not None:
                await self._send(first_frame)
            await self._resume(peer_last_journaled, peer_last_assigned)
            loop = asyncio.get_running_loop()
            tasks = [
                loop.create_task(self._reader(), name=f"link-reader-{self._peer}"),
                loop.create_task(self._writer(), name=f"link-writer-{self._peer}"),
                loop.create_task(self._acker(), name=f"link-acker-{self._peer}"),
                loop.create_task(self._watchdog(), name=f"link-watchdog-{self._peer}"),
                loop.create_task(self._wait_stop(), name=f"link-stop-{self._peer}"),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if exc is not None:
                    reason = exc
                    break
            else:
                reason = self._stop_reason or LinkClosed("ended")
        except (LinkError, OSError) as exc:
            reason = exc
        finally:
            await _cancel_all(tasks)
            for undo in unlisten:
                undo()
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._done.set()
        if isinstance(reason, LinkClosed):
            log.info("link to %s closed: %s", self._peer, reason)
        else:
            log.warning("link to %s failed: %r", self._peer, reason)
        return reason

    async def _wait_stop(self) -> None:
        await self._stop.wait()

    async def _resume(self, peer_last_journaled: int, peer_last_assigned: int) -> None:
        last = peer_last_journaled
        pos = await self._outbox.position()
        if last < pos.last_acked_seq or last > pos.last_assigned_seq:
            moved = await self._outbox.reset_sequence(last)
            log.error(
                "link state loss towards %s: it has journaled up to %d but our outbox has acked"
                " %d and assigned %d; %d unacknowledged messages renumbered from %d",
                self._peer,
                last,
                pos.last_acked_seq,
                pos.last_assigned_seq,
                moved,
                last + 1,
            )
            self._resend_cursor = self._resend_end = last
        else:
            if last > pos.last_acked_seq:
                await self._outbox.acknowledge(last)
            self._resend_cursor = last
            self._resend_end = pos.last_assigned_seq
        self._sent_up_to = self._peer_acked = self._acked_done = last
        journaled = self._receiver.journaled_seq
        if peer_last_assigned < journaled:
            log.error(
                "link state loss at %s: it last assigned seq %d but we journaled up to %d;"
                " it renumbers from %d",
                self._peer,
                peer_last_assigned,
                journaled,
                journaled + 1,
            )
        # the welcome/hello already told the peer this
        self._ack_sent = journaled

    # ---- tasks --------------------------------------------------------------------------
    def _on_outbox_added(self) -> None:
        self._outbox_version += 1
        self._wake.set()

    def _on_journaled(self, _up_to: int) -> None:
        self._wake.set()

    def _on_receiver_error(self, error: BaseException) -> None:
        self._stop_reason = error
        self._stop.set()

    async def _send(self, frame: OutF) -> None:
        await self._conn.send(frame)
        self._last_sent = time.monotonic()
        self.frames_sent += 1

    async def _reader(self) -> None:
        receiver = self._receiver
        while True:
            frame = await self._conn.recv()
            if frame is None:
                raise LinkClosed("peer closed the stream")
            self._last_recv = time.monotonic()
            self.last_seen = time.time()
            self.frames_received += 1
            kind = frame.WhichOneof("frame")
            if kind == "batch":
                messages = frame.batch.messages
                check_batch_size(messages, self._settings.max_batch_messages)
                receiver.offer([(m.seq, m.message.SerializeToString()) for m in messages])
            elif kind == "ack":
                up_to = frame.ack.journaled_up_to
                check_seq("ack.journaled_up_to", up_to)
                if up_to > self._sent_up_to:
                    raise LinkViolation(
                        f"ack.journaled_up_to: {up_to} is beyond the last sent seq"
                        f" {self._sent_up_to}"
                    )
                if up_to > self._peer_acked:
                    self._peer_acked = up_to
                    self._ack_event.set()
                    self._wake.set()
            elif kind == "heartbeat":
                pass
            elif kind == "lane":
                if self._on_lane is not None:
                    await self._on_lane(frame.lane)  # type: ignore[arg-type]
            else:
                raise LinkViolation(f"{kind}: a {kind} frame after the handshake")

    async def _acker(self) -> None:
        while True:
            await self._ack_event.wait()
            self._ack_event.clear()
            target = self._peer_acked
            if target > self._acked_done:
                await self._outbox.acknowledge(target)
                self._acked_done = target

    async def _watchdog(self) -> None:
        timeout = self._settings.liveness_timeout
        while True:
            silent = time.monotonic() - self._last_recv
            if silent >= timeout:
                raise LinkTimeout(f"nothing heard from {self._peer} for {silent:.3f}s")
            await asyncio.sleep(timeout - silent)

    def _work_possible(self) -> bool:
        if self._sent_up_to - self._peer_acked >= self._settings.window_messages:
            return False
        return self._resend_cursor < self._resend_end or self._drained_at != self._outbox_version

    async def _writer(self) -> None:
        interval = self._settings.heartbeat_interval
        while True:
            self._wake.clear()
            sent = False
            journaled = self._receiver.journaled_seq
            if journaled > self._ack_sent:
                await self._send(self._codec.ack(journaled))
                self._ack_sent = journaled
                sent = True
            if not self._lane.empty():
                await self._send(self._codec.lane(self._lane.get_nowait()))
                sent = True
            # one work frame per round, so lane frames and acks interleave with a long tail
            if not self._ready and self._work_possible():
                self._ready.extend(await self._next_frames())
            if self._ready:
                await self._send(self._ready.popleft())
                sent = True
            if sent:
                continue
            wait = self._last_sent + interval - time.monotonic()
            if wait <= 0:
                await self._send(self._codec.heartbeat())
                continue
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def _frames(self, items: list[SequencedItem]) -> list[OutF]:
        """Split items into frames bounded by message count and bytes (one item at least)."""
        settings = self._settings
        budget = settings.max_frame_bytes - _FRAME_OVERHEAD
        frames: list[OutF] = []
        current: list[SequencedItem] = []
        size = 0
        for item in items:
            cost = len(item.value) + _ITEM_OVERHEAD
            if current and (len(current) >= settings.max_batch_messages or size + cost > budget):
                frames.append(self._codec.batch(current))
                current, size = [], 0
            current.append(item)
            size += cost
        if current:
            frames.append(self._codec.batch(current))
        return frames

    async def _next_frames(self) -> list[OutF]:
        """The next frames of work: the resend tail first, then newly assigned messages.
        Several frames per outbox round trip, so small batches do not pay a hop each."""
        settings = self._settings
        in_flight = self._sent_up_to - self._peer_acked
        limit = min(max(64, settings.max_batch_messages * 2), settings.window_messages - in_flight)
        if self._resend_cursor < self._resend_end:
            resend = await self._outbox.assigned_from(self._resend_cursor, limit)
            if resend:
                if resend[0].seq != self._resend_cursor + 1:
                    raise LinkError(
                        f"outbox resend starts at {resend[0].seq},"
                        f" expected {self._resend_cursor + 1}"
                    )
                self._resend_cursor = resend[-1].seq
                self._sent_up_to = max(self._sent_up_to, self._resend_cursor)
                return self._frames(resend)
            self._resend_cursor = self._resend_end
        version = self._outbox_version
        pending = await self._outbox.pending(limit)
        if not pending:
            self._drained_at = version
            return []
        if len(pending) < settings.max_batch_messages and in_flight > 0 and settings.linger > 0:
            # others are in flight anyway: wait a moment for a fuller batch
            await asyncio.sleep(settings.linger)
            pending = await self._outbox.pending(limit)
        seqs = await self._outbox.assign([p.key for p in pending])
        if seqs[0] != self._sent_up_to + 1:
            raise LinkError(f"outbox assigned seq {seqs[0]}, expected {self._sent_up_to + 1}")
        self._sent_up_to = seqs[-1]
        return self._frames(
            [SequencedItem(seq, p.value) for seq, p in zip(seqs, pending, strict=True)]
        )


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    # cancel again until each task is really done: a cancellation that races a completion
    # inside library code can be lost, and a session that never ends blocks its successor
    pending = [task for task in tasks if not task.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
        pending = [task for task in pending if not task.done()]
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: ending the session reports the first one


AgentSession = LinkSession[
    agent_pb2.AgentFrame,
    agent_pb2.DashboardFrame,
    agent_pb2.AgentLaneMessage,
    agent_pb2.DashboardLaneMessage,
]
DashboardSession = LinkSession[
    agent_pb2.DashboardFrame,
    agent_pb2.AgentFrame,
    agent_pb2.DashboardLaneMessage,
    agent_pb2.AgentLaneMessage,
]
