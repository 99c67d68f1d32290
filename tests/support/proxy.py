"""A fault-injecting TCP proxy on 127.0.0.1 for link tests: clients connect to `address`, the
proxy forwards to `target`, and on command (or on a seeded random schedule) it cuts every
connection with a TCP reset, stalls them (bytes held, then released), or delays each chunk.

It runs its own event loop in a thread, so synchronous tests driving subprocesses use it as
well as async ones. Unlike a clean stream abort, a cut here can fall anywhere inside a gRPC
frame, and a stall lets the peers' heartbeats and deadlines expire on a connection that is
still open.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from dataclasses import dataclass, field


@dataclass
class FaultCounts:
    connections: int = 0
    cuts: int = 0
    stalls: int = 0
    bytes_forwarded: int = 0
    log: list[str] = field(default_factory=list)


class FaultProxy:
    """See the module doc. Use as a context manager (starts and stops the thread)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.counts = FaultCounts()
        self.port = 0
        self.delay = 0.0  # seconds added before each forwarded chunk
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._open = asyncio.Event()  # set: bytes flow; clear: stalled
        self._chaos: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # ---- commands (from any thread) -------------------------------------------------------
    def cut(self) -> int:
        """Reset every open connection; returns how many were cut."""
        return asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(10)

    def stall(self, seconds: float) -> None:
        """Hold every byte for `seconds` (connections stay open), then let them through."""
        asyncio.run_coroutine_threadsafe(self._stall(seconds), self._loop).result(10 + seconds)

    def start_chaos(
        self,
        seed: int,
        *,
        every: tuple[float, float] = (0.3, 1.2),
        stall_share: float = 0.25,
        stall_seconds: tuple[float, float] = (0.2, 1.5),
    ) -> None:
        """Until stop_chaos: after a random pause in `every`, cut (or, `stall_share` of the
        time, stall) every connection, drawn from `random.Random(seed)`."""

        async def chaos() -> None:
            rng = random.Random(seed)
            while True:
                await asyncio.sleep(rng.uniform(*every))
                if rng.random() < stall_share:
                    await self._stall(rng.uniform(*stall_seconds))
                else:
                    await self._cut()

        def begin() -> None:
            self._chaos = self._loop.create_task(chaos())

        self._loop.call_soon_threadsafe(begin)

    def stop_chaos(self) -> None:
        async def end() -> None:
            if self._chaos is not None:
                self._chaos.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._chaos
                self._chaos = None
            self._open.set()

        asyncio.run_coroutine_threadsafe(end(), self._loop).result(10)

    # ---- the loop's side ------------------------------------------------------------------
    async def _start(self) -> None:
        self._open.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._chaos is not None:
            self._chaos.cancel()
        if self._server is not None:
            self._server.close()
        await self._cut(count=False)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self.counts.connections += 1
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
            )
        finally:
            self._pairs.discard(pair)
            for w in pair:
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            await self._open.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            writer.write(chunk)
            self.counts.bytes_forwarded += len(chunk)
            await writer.drain()

    async def _cut(self, *, count: bool = True) -> int:
        pairs = list(self._pairs)
        for pair in pairs:
            for w in pair:
                _reset(w)
        if count and pairs:
            self.counts.cuts += 1
            self.counts.log.append(f"cut {len(pairs)}")
        return len(pairs)

    async def _stall(self, seconds: float) -> None:
        self.counts.stalls += 1
        self.counts.log.append(f"stall {seconds:.2f}s")
        self._open.clear()
        try:
            await asyncio.sleep(seconds)
        finally:
            self._open.set()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dying host or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
