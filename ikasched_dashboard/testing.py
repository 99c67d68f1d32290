"""Official test stand-ins (as `temporalio.testing`): simulated agents for the dashboard's tests
and the bench: the real link client over gRPC on
127.0.0.1, an in-memory inbox/outbox, and a fake executor that answers each initiation with a
starting and a successful completion event (or holds it until told, `auto=False`).

A plan's root trigger is a quartz job: the simulated agent "fires" the jobs named in
`triggers` once per instance it is told about (ActivateInstance or SyncInstances), with a
deterministic event id, so a repeated activation after a reconnect is a harmless duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from sqlalchemy import Engine

from ikasched.v1 import agent_pb2, common_pb2, events_pb2, plan_pb2
from ikasched_common.config import DashboardConfig
from ikasched_common.journal import MemoryJournal, MetaValue
from ikasched_common.link import (
    AgentIdentity,
    AgentLinkClient,
    Backoff,
    LinkSettings,
    MemoryOutbox,
    Receiver,
)
from ikasched_common.link.grpc_transport import GrpcDialer
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.plans.loader import plan_from_dict
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import write_transaction

FAST = LinkSettings(
    heartbeat_interval=0.2,
    liveness_timeout=3.0,
    max_batch_messages=500,
    window_messages=5000,
    handshake_timeout=3.0,
)


class GateJournal(MemoryJournal):
    """An inbox journal whose appends can be blocked: the agent then never acks (stalled)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def append(
        self, values: Sequence[bytes], meta: Mapping[str, MetaValue] | None = None
    ) -> list[int]:
        while not self.gate.wait(0.05):
            pass
        return super().append(values, meta)


class SimAgent:
    """One simulated agent process (lives in the test's event loop)."""

    def __init__(
        self,
        name: str,
        target: str,
        *,
        auto: bool = True,
        triggers: Sequence[str] = (),
        settings: LinkSettings = FAST,
        delay: float = 0.0,
        fail_first: Sequence[str] = (),
        token: str | None = None,
    ) -> None:
        self.name = name
        self.delay = delay  # seconds between an initiation and its answer
        self.fail_first = set(fail_first)  # job identifiers whose first attempt fails
        self.auto = auto
        self.triggers = set(triggers)
        self.journal = GateJournal()
        self.receiver = Receiver(self.journal)
        self.outbox = MemoryOutbox()
        self.dialer = GrpcDialer(target, token=token, settings=settings)
        self.client = AgentLinkClient(
            self.dialer,
            AgentIdentity(name, uuid.uuid4().hex, agent_version="sim-1", labels={"role": "sim"}),
            self.receiver,
            self.outbox,
            settings=settings,
            backoff=Backoff(initial=0.05, maximum=0.3),
        )
        self.initiations: Counter[tuple[str, str]] = Counter()  # (instance, job) -> count
        self.queued: dict[str, events_pb2.SchedulerJobInitiationEvent] = {}
        self.received: list[agent_pb2.DashboardMessage] = []
        self.cancelled: list[str] = []
        self.fired: set[tuple[str, str]] = set()
        self.acked_at: dict[str, float] = {}  # initiation id -> monotonic time journaled
        self.on_initiation: Callable[[events_pb2.SchedulerJobInitiationEvent], None] | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.receiver.listen(lambda _seq: self._wake.set())

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.client.run()), loop.create_task(self._consume())]

    async def stop(self) -> None:
        self.journal.gate.set()
        self.client.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        await self.dialer.close()
        self.receiver.close()

    # ---- the fake executor ---------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                items = self.journal.peek(1000)
                if not items:
                    break
                now = time.monotonic()
                replies: list[bytes] = []
                for item in items:
                    msg = agent_pb2.DashboardMessage.FromString(item.value)
                    self.received.append(msg)
                    replies.extend(self._handle(msg, now))
                self.journal.remove([i.key for i in items])
                if replies:
                    await self.outbox.add(replies)

    def _handle(self, msg: agent_pb2.DashboardMessage, now: float) -> list[bytes]:
        kind = msg.WhichOneof("body")
        if kind == "initiation":
            init = msg.initiation
            self.initiations[(init.context_instance_id, init.job_identifier)] += 1
            self.acked_at[init.id] = now
            if self.on_initiation is not None:
                self.on_initiation(init)
            if init.job_identifier in self.fail_first and init.attempt <= 1:
                return [
                    self._event(init, starting=True),
                    self._event(init, starting=False, successful=False),
                ]
            if self.auto and self.delay:
                loop = asyncio.get_running_loop()
                loop.call_later(self.delay, self._later, init)
                return []
            if self.auto:
                return self.answer(init)
            self.queued[init.id] = init
        elif kind == "cancel_initiation":
            init_id = msg.cancel_initiation.initiation_id
            queued = self.queued.pop(init_id, None)
            if queued is not None:
                self.cancelled.append(init_id)
                return [
                    self._event(
                        queued,
                        starting=False,
                        successful=False,
                        outcome=common_pb2.EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY,
                    )
                ]
        elif kind == "activate_instance":
            return self._fire(msg.activate_instance)
        elif kind == "sync_instances":
            out: list[bytes] = []
            for act in msg.sync_instances.instances:
                out.extend(self._fire(act))
            return out
        return []

    def _fire(self, act: agent_pb2.ActivateInstance) -> list[bytes]:
        out: list[bytes] = []
        for ident in act.job_identifiers:
            if ident in self.triggers:
                self.fired.add((act.context_instance_id, ident))
                ev = events_pb2.ContextualisedScheduledProcessEvent(
                    id=f"fire:{act.context_instance_id}:{ident}",
                    outcome=common_pb2.EXECUTION_INVOKED,
                    agent_name=self.name,
                    job_name=ident.removeprefix(f"{self.name}-"),
                    job_identifier=ident,
                    context_name=act.context_name,
                    context_instance_id=act.context_instance_id,
                    successful=True,
                    fire_time=int(time.time() * 1000),
                )
                out.append(agent_pb2.AgentMessage(id=ev.id, process_event=ev).SerializeToString())
        return out

    def _later(self, init: events_pb2.SchedulerJobInitiationEvent) -> None:
        task = asyncio.get_running_loop().create_task(self.outbox.add(self.answer(init)))
        self._tasks.append(task)

    def answer(self, init: events_pb2.SchedulerJobInitiationEvent) -> list[bytes]:
        """Starting + successful completion of an initiation."""
        return [self._event(init, starting=True), self._event(init, starting=False)]

    async def release(self, initiation_id: str) -> None:
        """A queued initiation (auto=False) runs and succeeds now."""
        init = self.queued.pop(initiation_id)
        await self.outbox.add(self.answer(init))

    def _event(
        self,
        init: events_pb2.SchedulerJobInitiationEvent,
        *,
        starting: bool,
        successful: bool = True,
        outcome: int = common_pb2.EXECUTION_INVOKED,
    ) -> bytes:
        ev = events_pb2.ContextualisedScheduledProcessEvent(
            id=f"{init.id}:{'starting' if starting else 'completed'}",
            outcome=outcome,  # type: ignore[arg-type]
            agent_name=self.name,
            job_name=init.job_name,
            job_identifier=init.job_identifier,
            context_name=init.context_name,
            context_instance_id=init.context_instance_id,
            child_context_names=list(init.child_context_names),
            initiation_id=init.id,
            job_starting=starting,
            successful=successful,
            pid=4242,
            return_code=0 if successful else -1,
            attempt=init.attempt or 1,
            fire_time=int(time.time() * 1000),
            completion_time=0 if starting else int(time.time() * 1000),
        )
        return agent_pb2.AgentMessage(id=ev.id, process_event=ev).SerializeToString()


# ---- plans ----------------------------------------------------------------------------------
def chain_plan(
    name: str, agents: Sequence[str], length: int, *, retry: Mapping[str, int] | None = None
) -> plan_pb2.Context:
    """start (quartz on agents[0]) -> j1 -> ... -> j<length>, jobs alternating over agents."""
    first = agents[0]
    jobs: list[dict[str, Any]] = [
        {
            "agentName": first,
            "jobName": "start",
            "quartzScheduleDrivenJob": {"cronExpression": "0 0 0 * * ?"},
        }
    ]
    deps: list[dict[str, Any]] = [{"jobIdentifier": f"{first}-start"}]
    previous = f"{first}-start"
    for n in range(1, length + 1):
        agent = agents[(n - 1) % len(agents)]
        command: dict[str, Any] = {"commandLine": "true"}
        if retry:
            command["retry"] = dict(retry)
        jobs.append({"agentName": agent, "jobName": f"j{n}", "internalEventDrivenJob": command})
        ident = f"{agent}-j{n}"
        deps.append({"jobIdentifier": ident, "logicalGrouping": {"and": [previous]}})
        previous = ident
    return plan_from_dict({"name": name, "scheduledJobs": jobs, "jobDependencies": deps})


def store_plan(engine: Engine, plan: plan_pb2.Context) -> int:
    data = plan.SerializeToString(deterministic=True)
    agents = sorted({j.agent_name for j in plan.scheduled_jobs})
    with write_transaction(engine) as conn:
        outcome = plan_store.save_plan_version(
            conn,
            name=plan.name,
            plan=data,
            plan_json=json_format.MessageToJson(plan),
            plan_hash=hashlib.sha256(data).hexdigest(),
            agent_names=agents,
            now=int(time.time() * 1000),
            actor="test",
        )
    return outcome.version


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until predicate holds; a hang guard, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the hang guard")
        await asyncio.sleep(0.01)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dashboard_config(
    data_dir: Any, listen: str = "127.0.0.1:0", *, metrics_listen: str = ""
) -> DashboardConfig:
    return DashboardConfig(
        data_dir=data_dir,
        listen=listen,
        heartbeat_interval_ms=200,
        liveness_timeout_ms=3000,
        metrics_listen=metrics_listen,
    )


def core_dashboard(config: DashboardConfig) -> Dashboard:
    """The dashboard's core for simulated agents: no tokens, no lifecycle, no operator verbs."""
    return Dashboard(config, security=False, operator_services=False, link_settings=FAST)


@contextlib.asynccontextmanager
async def running_dashboard(
    data_dir: Any, port: int = 0, *, metrics_listen: str = ""
) -> AsyncIterator[Dashboard]:
    """An in-process core dashboard on 127.0.0.1 (port 0: any), stopped on exit."""
    config = dashboard_config(data_dir, f"127.0.0.1:{port}", metrics_listen=metrics_listen)
    process = core_dashboard(config)
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


async def provision(process: Dashboard, plan: plan_pb2.Context) -> None:
    await asyncio.get_running_loop().run_in_executor(None, store_plan, process.engine, plan)
    await process.orchestrator.plan_provisioned(plan.name)
