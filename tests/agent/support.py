"""Helpers shared by the executor tests."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from ikasched_agent.executor import Executor
from ikasched_agent.protocol import ProcessEventMessage


class EventRecorder:
    """In-memory emit target: records the executor's events, lets a test wait for some."""

    def __init__(self) -> None:
        self.events: list[ProcessEventMessage] = []
        self._changed = asyncio.Condition()

    async def __call__(self, event: ProcessEventMessage) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def completions(self) -> dict[str, ProcessEventMessage]:
        """Completion events by initiation id."""
        return {e.initiation_id: e for e in self.events if not e.job_starting}

    async def wait_for(
        self, predicate: Callable[[list[ProcessEventMessage]], bool], timeout: float = 10.0
    ) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.events))

    async def wait_completed(self, *initiation_ids: str, timeout: float = 10.0) -> None:
        wanted = set(initiation_ids)
        await self.wait_for(
            lambda evs: wanted <= {e.initiation_id for e in evs if not e.job_starting}, timeout
        )


@asynccontextmanager
async def open_executor(
    data_dir: Path, **kwargs: Any
) -> AsyncIterator[tuple[Executor, EventRecorder]]:
    recorder = EventRecorder()
    kwargs.setdefault("kill_grace_seconds", 0.5)
    executor = Executor(data_dir, emit=recorder, agent_name="agent1", **kwargs)
    try:
        yield executor, recorder
    finally:
        await executor.aclose()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition about the outside world (files, processes) with a bound."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


def process_gone(pid: int) -> bool:
    """True if no process has this pid or it is a zombie (dead, not yet reaped by init)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(b")") + 2 :].split()[0] == b"Z"


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def kill_group_quietly(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 9)


def group_size(pgid: int) -> int:
    """How many live (non-zombie) processes are in a process group."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_bytes()
            except OSError:
                continue
            rest = stat[stat.rfind(b")") + 2 :].split()
            count += rest[2] == str(pgid).encode() and rest[0] != b"Z"
    return count
