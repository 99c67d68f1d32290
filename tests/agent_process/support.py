"""The fake dashboard (the link's server side over gRPC on 127.0.0.1, journals on disk so it
can restart) and message makers for the agent process tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc.aio

from ikasched.v1 import agent_pb2, events_pb2, plan_pb2
from ikasched_agent.agent import Agent, AgentOptions, TriggerFactory
from ikasched_common.config import AgentConfig
from ikasched_common.journal import DiskJournal
from ikasched_common.link import (
    AgentEndpoint,
    Backoff,
    JournalOutbox,
    LinkGateway,
    LinkSettings,
    Receiver,
)
from ikasched_common.link.grpc_transport import start_server

FAST = LinkSettings(
    heartbeat_interval=0.1,
    liveness_timeout=3.0,
    max_batch_messages=100,
    window_messages=400,
    handshake_timeout=3.0,
)
ProcessEvent = events_pb2.ContextualisedScheduledProcessEvent
Msg = agent_pb2.DashboardMessage
AGENT = "a1"
PLAN = "plan1"


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until predicate holds; the timeout is a hang guard, not a measured figure."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the hang guard")
        await asyncio.sleep(0.01)


class FakeDashboard:
    """One agent's link endpoint on the dashboard side, kept in DiskJournals so that
    `restart()` is a dashboard restart that lost nothing it had journaled."""

    def __init__(self, data: Path, settings: LinkSettings = FAST) -> None:
        self.data = data
        self.settings = settings
        self.inbox = DiskJournal(data / "dash-inbox")
        self.out_journal = DiskJournal(data / "dash-outbox")
        self.received: list[agent_pb2.AgentMessage] = []
        self.lanes: list[agent_pb2.AgentLaneMessage] = []
        self.hellos: list[agent_pb2.AgentHello] = []
        self.metadata: list[dict[str, str]] = []
        self.port = 0
        self._server: grpc.aio.Server | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    # ---- server --------------------------------------------------------------------------
    async def start(self) -> int:
        self.receiver = Receiver(self.inbox)
        self.outbox = JournalOutbox(self.out_journal)
        self.receiver.listen(lambda _seq: self._changed.set())
        self.gateway = LinkGateway(self._on_hello, dashboard_id="dash-1", settings=self.settings)
        address = f"127.0.0.1:{self.port}"
        for attempt in range(50):
            try:
                self._server, self.port = await start_server(self.gateway, address)
                break
            except OSError:
                # a restart on the same port: the old listener may still be letting go
                if self.port == 0 or attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        if self._consumer is None:
            self._consumer = asyncio.get_running_loop().create_task(self._consume())
        return self.port

    async def stop_server(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=None)
            self._server = None
        await asyncio.to_thread(self.receiver.close)
        await asyncio.to_thread(self.outbox.close)

    async def restart(self, down_for: float = 0.3) -> None:
        await self.stop_server()
        await asyncio.sleep(down_for)
        await self.start()

    async def close(self) -> None:
        await self.stop_server()
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer

    async def _on_hello(
        self, hello: agent_pb2.AgentHello, metadata: Mapping[str, str]
    ) -> AgentEndpoint:
        self.hellos.append(hello)
        self.metadata.append(dict(metadata))

        async def on_lane(message: agent_pb2.AgentLaneMessage) -> None:
            self.lanes.append(message)

        return AgentEndpoint(self.receiver, self.outbox, on_lane)

    async def _consume(self) -> None:
        # peek, record, remove: what the real dashboard's inbox consumer does, minus the engine
        while True:
            self._changed.clear()
            items = await asyncio.to_thread(self.inbox.peek, 500)
            if not items:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.2)
                continue
            self.received.extend(agent_pb2.AgentMessage.FromString(i.value) for i in items)
            await asyncio.to_thread(self.inbox.remove, [i.key for i in items])

    # ---- sending ---------------------------------------------------------------------------
    async def send(self, *messages: Msg) -> None:
        await self.outbox.add([m.SerializeToString() for m in messages])

    async def outbox_size(self) -> int:
        return await self.outbox.size()

    # ---- what arrived ----------------------------------------------------------------------
    def events(self) -> list[ProcessEvent]:
        return [m.process_event for m in self.received if m.HasField("process_event")]

    def completions(self) -> dict[str, ProcessEvent]:
        """Completion events by initiation id (checks that repeats agree on the outcome)."""
        out: dict[str, ProcessEvent] = {}
        for event in self.events():
            if event.job_starting or not event.initiation_id:
                continue
            seen = out.get(event.initiation_id)
            if seen is not None:
                assert (seen.return_code, seen.successful, seen.id) == (
                    event.return_code,
                    event.successful,
                    event.id,
                ), f"initiation {event.initiation_id} completed twice with different outcomes"
            out[event.initiation_id] = event
        return out

    def starts(self) -> dict[str, ProcessEvent]:
        return {e.initiation_id: e for e in self.events() if e.job_starting}

    def message_id_counts(self) -> Counter[str]:
        return Counter(m.id for m in self.received)

    def statuses(self) -> list[agent_pb2.AgentStatus]:
        return [m.status for m in self.lanes if m.HasField("status")]

    async def wait_completed(self, *ids: str, timeout: float = 30.0) -> dict[str, ProcessEvent]:
        await wait_until(lambda: set(ids) <= set(self.completions()), timeout)
        return self.completions()


# ---- message makers ------------------------------------------------------------------------
def command_job(name: str, command: str = "true", **fields: object) -> plan_pb2.SchedulerJob:
    job = plan_pb2.SchedulerJob(identifier=f"{AGENT}-{name}", agent_name=AGENT, job_name=name)
    job.internal_event_driven_job.command_line = command
    for key, value in fields.items():
        setattr(job.internal_event_driven_job, key, value)
    return job


def provision(*jobs: plan_pb2.SchedulerJob, plan: str = PLAN) -> Msg:
    return Msg(
        id=f"prov-{plan}-{time.monotonic_ns()}",
        provision_jobs=agent_pb2.ProvisionJobs(context_name=plan, jobs=list(jobs)),
    )


def activation(instance: str, plan: str = PLAN) -> agent_pb2.ActivateInstance:
    return agent_pb2.ActivateInstance(context_instance_id=instance, context_name=plan)


def activate(instance: str, plan: str = PLAN) -> Msg:
    return Msg(id=f"act-{instance}", activate_instance=activation(instance, plan))


def initiation(
    initiation_id: str,
    job: plan_pb2.SchedulerJob,
    *,
    instance: str = "i1",
    plan: str = PLAN,
    priority: int = 0,
    parameters: Mapping[str, str] | None = None,
) -> Msg:
    init = events_pb2.SchedulerJobInitiationEvent(
        id=initiation_id,
        agent_name=AGENT,
        job_name=job.job_name,
        job_identifier=job.identifier,
        context_name=plan,
        context_instance_id=instance,
        priority=priority,
    )
    init.internal_event_driven_job.CopyFrom(job.internal_event_driven_job)
    for name, value in (parameters or {}).items():
        init.context_parameters.add(name=name, value=value)
    return Msg(id=f"msg-{initiation_id}", initiation=init)


# ---- agents ----------------------------------------------------------------------------------
def agent_config(data_dir: Path, port: int, **overrides: object) -> AgentConfig:
    values: dict[str, object] = {
        "name": AGENT,
        "dashboard": f"127.0.0.1:{port}",
        "data_dir": data_dir,
        "kill_grace_seconds": 1,
    }
    values.update(overrides)
    return AgentConfig(**values)  # type: ignore[arg-type]


def in_process_agent(
    data_dir: Path,
    port: int,
    *,
    trigger_factory: TriggerFactory | None = None,
    max_poison_attempts: int = 3,
    **overrides: object,
) -> Agent:
    options = AgentOptions(
        link_settings=FAST,
        backoff=Backoff(initial=0.01, maximum=0.2),
        status_interval=0.1,
        trigger_factory=trigger_factory,
        max_poison_attempts=max_poison_attempts,
        poison_retry_delay=0.01,
        flush_timeout=3.0,
    )
    return Agent(agent_config(data_dir, port, **overrides), options=options)


def spawn_agent(
    data_dir: Path, port: int, *extra: str, module: str = "ikasched_cli"
) -> subprocess.Popen[bytes]:
    """`python -m MODULE agent run` as a real process (stderr goes to a log in data_dir)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "agent-stderr.log", "ab")  # noqa: SIM115 - owned by the process
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                module,
                "agent",
                "run",
                "--name",
                AGENT,
                "--dashboard",
                f"127.0.0.1:{port}",
                "--data-dir",
                str(data_dir),
                "--kill-grace-seconds",
                "1",
                "--fast-reconnect",
                "--status-interval",
                "0.2",
                "--log-level",
                "info",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    finally:
        log.close()


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0
