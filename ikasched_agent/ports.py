"""Plug points of the agent: the trigger host, the log server and the run housekeeper.

The agent talks to them through these protocols; the real ones (ikasched_agent.triggers,
ikasched_agent.logs) are plugged in by `default_options`, tests plug in fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ikasched.v1 import agent_pb2, plan_pb2
from ikasched_agent.protocol import AlertSink, Emit
from ikasched_common.clock import Clock
from ikasched_common.secrets import SecretBox

__all__ = [
    "Housekeeper",
    "HousekeeperFactory",
    "LogFactory",
    "LogService",
    "SendChunk",
    "TriggerContext",
    "TriggerFactory",
    "TriggerPort",
]


class TriggerPort(Protocol):
    """What the agent asks of a trigger host: cron and file-arrival jobs per held instance
    (ikasched_agent.triggers.TriggerHost is the real one)."""

    async def start(self) -> None: ...
    async def provision(
        self, plan_name: str, jobs: Sequence[plan_pb2.SchedulerJob], timezone: str = ""
    ) -> None: ...
    async def remove_plan(self, plan_name: str) -> None: ...
    async def activate(self, activation: agent_pb2.ActivateInstance) -> None: ...
    async def remove_instance(self, instance_id: str) -> None: ...
    async def sync(self, instances: agent_pb2.SyncInstances) -> None: ...
    async def manual_fire(self, request: agent_pb2.ManualFire, *, message_id: str = "") -> None: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TriggerContext:
    """What a trigger host gets from the agent."""

    agent_name: str
    agent_hostname: str
    emit: Emit
    alert: AlertSink
    clock: Clock
    state_dir: Path
    # opens the secret values the agent keeps sealed (file paths built from parameters)
    secret_box: SecretBox | None = None


TriggerFactory = Callable[[TriggerContext], TriggerPort]
SendChunk = Callable[[agent_pb2.LogChunk], Awaitable[None]]


class LogService(Protocol):
    """Serves log requests arriving on the lane (ikasched_agent.logs.LogServer)."""

    def request(self, req: agent_pb2.LogRequest) -> object: ...
    def cancel(self, cancel: agent_pb2.LogCancel) -> bool: ...
    async def aclose(self) -> None: ...


class Housekeeper(Protocol):
    """Deletes old run directories on a schedule (ikasched_agent.logs.LogHousekeeper)."""

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...


LogFactory = Callable[[Path, SendChunk], LogService]
HousekeeperFactory = Callable[[Path, Clock, int], Housekeeper]
