"""The agent process: the durable link to the dashboard, the inbox consumer, the executor.

Data directory layout (under `AgentConfig.data_dir`):
  journal/  one diskcache store with sibling journals: "inbox" (the link receiver journals
            every dashboard message there before acking it), "held" (accepted initiations
            without a reported completion), "registry" (provisioning/instance log), "dead"
            (poison messages);
  outbox/   the process-event outbox (agent -> dashboard), kept until the dashboard acks;
  runs/     the executor's run directories (claim with pid and rc records, logs).

Inbox consumer: peek a batch, process in order, then remove the processed keys together with
the registry records they produced, in one transaction. Processing is idempotent by message
id and initiation id, so a crash before the removal only replays. An initiation is first
*held* (durably), then submitted; its completion event goes into the outbox before the hold
is released. On start, every held initiation goes to `Executor.recover` before the consumer
runs, so no initiation ever gets a second process (DESIGN.md §3.6).

A message that keeps failing is retried a bounded number of times, then moved to the dead
letters (DESIGN.md §3.7); the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from google.protobuf.message import DecodeError

from ikasched.v1 import agent_pb2, common_pb2, events_pb2, plan_pb2
from ikasched_agent.executor import Disposition, Executor
from ikasched_agent.registry import (
    REGISTRY_BODIES,
    HeldInitiations,
    Registry,
    RegistryChange,
    RegistryLog,
)
from ikasched_common.clock import Clock, SystemClock
from ikasched_common.config import AgentConfig
from ikasched_common.errors import IkaschedError, InvalidArgument
from ikasched_common.journal import (
    AsyncJournal,
    DeadLetterJournal,
    DiskJournal,
    Durability,
    JournalItem,
    PoisonGuard,
    one_transaction,
)
from ikasched_common.link import (
    AgentIdentity,
    AgentLinkClient,
    Backoff,
    Dialer,
    JournalOutbox,
    LinkClosed,
    LinkSettings,
    Receiver,
)

log = logging.getLogger(__name__)

Initiation = events_pb2.SchedulerJobInitiationEvent
ProcessEvent = events_pb2.ContextualisedScheduledProcessEvent
DashboardMessage = agent_pb2.DashboardMessage
Emit = Callable[[ProcessEvent], Awaitable[None]]
AlertSink = Callable[[agent_pb2.AgentAlert], Awaitable[None]]
BatchOutcome = Literal["drained", "partial", "failed"]

META_INSTANCE_ID = "agent.instance_id"


# ---- plug points for the trigger host and the log server ---------------------------------
class TriggerHost(Protocol):
    """Cron and file-arrival jobs per held instance (ikasched_agent.triggers.TriggerHost)."""

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


TriggerFactory = Callable[[TriggerContext], TriggerHost]
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


async def _call(result: Any) -> Any:
    """Await a plug-in's result when it is awaitable (plug-ins may be sync or async)."""
    if inspect.isawaitable(result):
        return await result
    return result


# ---- options ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentOptions:
    """Knobs that are not operator settings (tests, embedding)."""

    link_settings: LinkSettings = field(default_factory=LinkSettings)
    backoff: Backoff = field(default_factory=Backoff)
    status_interval: float = 5.0
    consume_batch: int = 256
    max_poison_attempts: int = 5
    poison_retry_delay: float = 0.2
    # how long a graceful stop waits for the dashboard to ack the outbox
    flush_timeout: float = 5.0
    # test hook: journal and ack incoming messages but never process them
    hold_inbox: bool = False
    trigger_factory: TriggerFactory | None = None
    log_factory: LogFactory | None = None
    housekeeper_factory: HousekeeperFactory | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def refusal_event(
    init: Initiation, reason: str, *, agent_name: str, hostname: str, now_ms: int
) -> ProcessEvent:
    """The failed completion reported for an initiation this agent will not run."""
    event = ProcessEvent(
        id=f"{init.id}:completed",
        outcome=common_pb2.EXECUTION_INVOKED,
        agent_name=agent_name,
        agent_hostname=hostname,
        job_name=init.job_name,
        job_description=init.job_description,
        command_line=init.internal_event_driven_job.command_line,
        return_code=-1,
        successful=False,
        fire_time=now_ms,
        completion_time=now_ms,
        dry_run=init.dry_run,
        context_name=init.context_name,
        child_context_names=list(init.child_context_names),
        context_instance_id=init.context_instance_id,
        initiation_id=init.id,
        job_identifier=init.job_identifier,
        attempt=init.attempt or 1,
        outcome_reason=reason,
        execution_details=f"not run: {reason}",
        manual=bool(init.manually_submitted_by),
    )
    if init.HasField("internal_event_driven_job"):
        event.internal_event_driven_job.CopyFrom(init.internal_event_driven_job)
    if init.HasField("catalyst_event"):
        event.catalyst_event.CopyFrom(init.catalyst_event)
    return event


def _read_tls_file(config: AgentConfig, name: str) -> bytes | None:
    path = getattr(config, name)
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror or exc}", field=name) from exc


def grpc_dialer(config: AgentConfig, settings: LinkSettings) -> Dialer:
    """The real dialer: keepalive channel, bearer token, TLS/mTLS from the config files."""
    import grpc

    from ikasched_common.link.grpc_transport import GrpcDialer

    credentials: grpc.ChannelCredentials | None = None
    if config.tls_ca_file or config.tls_cert_file or config.tls_key_file:
        if bool(config.tls_cert_file) != bool(config.tls_key_file):
            raise InvalidArgument(
                "tls_cert_file and tls_key_file go together (mutual TLS)", field="tls_cert_file"
            )
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read_tls_file(config, "tls_ca_file"),
            private_key=_read_tls_file(config, "tls_key_file"),
            certificate_chain=_read_tls_file(config, "tls_cert_file"),
        )
    return GrpcDialer(
        config.dashboard, token=config.token or None, settings=settings, credentials=credentials
    )


# ---- the agent ----------------------------------------------------------------------------
class Agent:
    """One agent: link client, inbox consumer, executor, registry, status reports."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        options: AgentOptions | None = None,
        dialer: Dialer | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.options = options or AgentOptions()
        self.name = config.name
        self.hostname = socket.gethostname()
        self.data_dir = Path(config.data_dir)
        self._dialer = dialer
        self._clock: Clock = clock or SystemClock()
        self.registry = Registry(config.name)
        self._started = False
        self._stopping = False
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._link_task: asyncio.Task[None] | None = None
        self.triggers: TriggerHost | None = None
        self.logs: LogService | None = None
        self.housekeeper: Housekeeper | None = None
        self.dead_lettered = 0
        self.processed = 0

    # ---- start -------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the journals, recover held initiations, then link and consume."""
        if self._started:
            raise RuntimeError("agent already started")
        self._started = True
        opts = self.options
        if self._dialer is None:  # first: a bad TLS file fails before anything is touched
            self._dialer = grpc_dialer(self.config, opts.link_settings)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        durability: Durability = "power" if self.config.journal_durability == "power" else "crash"
        store = await asyncio.to_thread(
            DiskJournal, self.data_dir / "journal", durability=durability, prefix="inbox"
        )
        self._store = store
        self.inbox = store
        self._held_journal = store.sibling("held")
        self._registry_journal = store.sibling("registry")
        self._dead_journal = store.sibling("dead")
        self._outbox_journal = await asyncio.to_thread(
            DiskJournal, self.data_dir / "outbox", durability=durability, prefix="outbox"
        )
        self._aj = AsyncJournal(store)
        self.held = HeldInitiations(self._held_journal)
        self._registry_log = RegistryLog(self._registry_journal)
        self.dead_letters = DeadLetterJournal(self._dead_journal)
        self._guard = PoisonGuard(store, self.dead_letters, max_attempts=opts.max_poison_attempts)
        instance_id = await self._aj.run(self._instance_id)
        await self._aj.run(self._registry_log.load, self.registry)
        held = await self._aj.run(self.held.load)

        self.outbox = JournalOutbox(self._outbox_journal)
        self.receiver = Receiver(store)
        self._unlisten = self.receiver.listen(lambda _seq: self._wake.set())

        self.executor = Executor(
            self.data_dir,
            emit=self._emit,
            emit_many=self._emit_many,
            max_concurrent_jobs=self.config.max_concurrent_jobs,
            default_timeout_seconds=self.config.default_timeout_seconds,
            kill_grace_seconds=self.config.kill_grace_seconds,
            agent_name=self.name,
            agent_hostname=self.hostname,
        )
        if opts.trigger_factory is not None:
            self.triggers = opts.trigger_factory(
                TriggerContext(
                    self.name,
                    self.hostname,
                    self._emit,
                    self.send_alert,
                    self._clock,
                    self.data_dir / "triggers",
                )
            )
        if opts.log_factory is not None:
            self.logs = opts.log_factory(self.data_dir / "runs", self._send_chunk)
        if opts.housekeeper_factory is not None:
            self.housekeeper = opts.housekeeper_factory(
                self.data_dir / "runs", self._clock, self.config.log_retention_days
            )
            await self.housekeeper.start()

        # Rule 6: settle every accepted initiation before anything new is taken.
        if held:
            outcome: dict[str, Disposition] = {}
            for init in held:
                try:
                    outcome[init.id] = await self.executor.submit(init)
                except IkaschedError as exc:  # it could never run: say so, once
                    await self._emit(
                        refusal_event(
                            init,
                            str(exc),
                            agent_name=self.name,
                            hostname=self.hostname,
                            now_ms=_now_ms(),
                        )
                    )
                    outcome[init.id] = Disposition.REJECTED
            settled = [i for i, d in outcome.items() if d is Disposition.DUPLICATE]
            if settled:
                await self._aj.run(self.held.release, settled)
            log.info(
                "agent %s recovered %d held initiations: %s",
                self.name,
                len(held),
                _count(outcome.values()),
            )
        if self.triggers is not None:
            # triggers learn the persisted plans and instances again, then start firing
            for plan in self.registry.plans.values():
                await self._to_triggers(
                    "provision",
                    self.triggers.provision(
                        plan.context_name, list(plan.jobs.values()), plan.timezone
                    ),
                )
            await self._to_triggers(
                "sync",
                self.triggers.sync(
                    agent_pb2.SyncInstances(instances=list(self.registry.instances.values()))
                ),
            )
            await self.triggers.start()

        settings = opts.link_settings
        self.link = AgentLinkClient(
            self._dialer,
            AgentIdentity(
                agent_name=self.name,
                agent_instance_id=instance_id,
                agent_version=_version(),
                agent_hostname=self.hostname,
                max_concurrent_jobs=self.config.max_concurrent_jobs,
                labels=dict(self.config.labels),
            ),
            self.receiver,
            self.outbox,
            settings=settings,
            on_lane=self._on_lane,
            backoff=opts.backoff,
        )
        loop = asyncio.get_running_loop()
        self._link_task = loop.create_task(self.link.run(), name="agent-link")
        self._tasks = [loop.create_task(self._status_loop(), name="agent-status")]
        if not opts.hold_inbox:
            self._tasks.append(loop.create_task(self._consume_loop(), name="agent-inbox"))
        log.info(
            "agent %s started (data %s, dashboard %s)",
            self.name,
            self.data_dir,
            self.config.dashboard,
        )

    def _instance_id(self) -> str:
        value = self._store.get_meta(META_INSTANCE_ID)
        if isinstance(value, str) and value:
            return value
        new = uuid.uuid4().hex
        self._store.set_meta({META_INSTANCE_ID: new})
        return new

    # ---- stop --------------------------------------------------------------------------
    async def stop(self) -> None:
        """Graceful stop: no new work, pending events emitted, acks and outbox flushed (within
        the flush timeout), journals closed. Running jobs keep running, detached."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            if task.get_name() == "agent-status":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.triggers is not None:
            with _logged("trigger host close"):
                await self.triggers.aclose()
        if self.logs is not None:
            with _logged("log service close"):
                await self.logs.aclose()
        if self.housekeeper is not None:
            with _logged("housekeeper close"):
                await self.housekeeper.aclose()
        await self.executor.aclose()
        await self._flush_link()
        self.link.stop()
        if self._link_task is not None:
            try:
                await asyncio.wait_for(self._link_task, 10)
            except (TimeoutError, Exception):
                log.warning("link did not end in time")
        self._unlisten()
        if self._dialer is not None:
            close = getattr(self._dialer, "close", None)
            if close is not None:
                with _logged("dialer close"):
                    await _call(close())
        await asyncio.to_thread(self.outbox.close)
        await asyncio.to_thread(self.receiver.close)
        await self._aj.aclose(close_journal=False)
        await asyncio.to_thread(self._outbox_journal.close)
        await asyncio.to_thread(self._store.close)
        log.info("agent %s stopped", self.name)

    async def _flush_link(self) -> None:
        """Let the link send what is journaled: acks of the inbox, the outbox's events."""
        deadline = time.monotonic() + self.options.flush_timeout
        await self.receiver.flush()
        while time.monotonic() < deadline and self.link.session is not None:
            if await self.outbox.size() == 0:
                break
            await asyncio.sleep(0.02)
        # the session's acker sends the last inbox ack on its own; give it a moment
        session = self.link.session
        if session is not None:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    # ---- emit (executor, triggers) -----------------------------------------------------
    async def _emit(self, event: ProcessEvent) -> None:
        """Journal a process event in the outbox; release its initiation once complete."""
        message = agent_pb2.AgentMessage(
            id=event.id or uuid.uuid4().hex, created_time=_now_ms(), process_event=event
        )
        await self.outbox.add([message.SerializeToString()])
        if not event.job_starting and event.initiation_id and event.initiation_id in self.held:
            await self._aj.run(self.held.release, [event.initiation_id])

    async def _emit_many(self, events: Sequence[ProcessEvent]) -> None:
        """Journal the executor's batch of process events in one outbox transaction, then
        release the initiations they complete."""
        now = _now_ms()
        await self.outbox.add(
            [
                agent_pb2.AgentMessage(
                    id=e.id or uuid.uuid4().hex, created_time=now, process_event=e
                ).SerializeToString()
                for e in events
            ]
        )
        done = [
            e.initiation_id
            for e in events
            if not e.job_starting and e.initiation_id and e.initiation_id in self.held
        ]
        if done:
            await self._aj.run(self.held.release, done)

    async def send_alert(self, alert: agent_pb2.AgentAlert) -> None:
        """Journal an operator alert in the outbox."""
        message = agent_pb2.AgentMessage(id=uuid.uuid4().hex, created_time=_now_ms(), alert=alert)
        await self.outbox.add([message.SerializeToString()])

    # ---- inbox consumer ----------------------------------------------------------------
    async def _consume_loop(self) -> None:
        delay = self.options.poison_retry_delay
        while not self._stopping:
            self._wake.clear()
            try:
                limit = self.options.consume_batch
                items = await self._aj.peek(limit)
                if not items:
                    await self._wake.wait()
                    continue
                outcome = await self._process_batch(items)
                if outcome == "failed":
                    await asyncio.sleep(delay)
                elif outcome == "drained" and len(items) < limit and not self._wake.is_set():
                    # the peek saw the whole inbox and nothing was journaled since the wake
                    # was cleared: wait for the receiver instead of reading an empty inbox
                    await self._wake.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                # the journal itself failed: nothing was removed, try again later
                log.exception("inbox consumer failed; retrying")
                await asyncio.sleep(delay)

    async def _process_batch(self, items: Sequence[JournalItem]) -> BatchOutcome:
        """Process items in order: "drained" when every item was handled, "partial" when the
        rest of the batch is left for the next peek, "failed" when an item failed (it was
        counted or dead-lettered)."""
        done: list[int] = []
        records: list[DashboardMessage] = []
        group: list[tuple[JournalItem, Initiation]] = []
        for item in items:
            if self._stopping:
                break
            try:
                message = DashboardMessage.FromString(item.value)
            except DecodeError as exc:
                await self._flush_initiations(group, done, records)
                await self._commit(done, records)
                await self._aj.run(self._dead_now, item, f"undecodable message: {exc}")
                return "partial"
            kind = message.WhichOneof("body")
            if kind == "initiation":
                group.append((item, message.initiation))
                continue
            try:
                await self._flush_initiations(group, done, records)
                await self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("inbox message %s (%s) failed", message.id, kind)
                await self._commit(done, records)
                moved = await self._aj.run(self._guard.failed, item, f"{kind}: {exc!r}")
                if moved:
                    self.dead_lettered += 1
                    log.error("inbox message %s (%s) moved to the dead letters", message.id, kind)
                    if kind in REGISTRY_BODIES:
                        # the registry took it before the failure; keep disk equal to memory
                        await self._aj.run(self._registry_log.record, [message])
                return "partial" if moved else "failed"
            done.append(item.key)
            if kind in REGISTRY_BODIES:
                records.append(message)
        stopped = self._stopping
        await self._flush_initiations(group, done, records)
        await self._commit(done, records)
        return "partial" if stopped else "drained"

    def _dead_now(self, item: JournalItem, reason: str) -> None:
        with one_transaction(self._store, self._dead_journal):
            self.dead_letters.add(item.value, reason, 1)
            self._store.remove([item.key])
        self.dead_lettered += 1
        log.error("inbox item %d moved to the dead letters: %s", item.key, reason)

    async def _commit(self, done: list[int], records: list[DashboardMessage]) -> None:
        if not done:
            return
        keys, recs = list(done), list(records)
        done.clear()
        records.clear()

        def work() -> None:
            with one_transaction(self._store, self._registry_journal):
                self._registry_log.record(recs)
                self._store.remove(keys)

        await self._aj.run(work)
        self.processed += len(keys)
        if recs:
            await self._compact_registry()

    async def _compact_registry(self) -> None:
        snapshot = self.registry.snapshot()
        if await self._aj.run(self._registry_log.needs_compaction, len(snapshot)):
            await self._aj.run(self._registry_log.compact, snapshot)

    async def _flush_initiations(
        self,
        group: list[tuple[JournalItem, Initiation]],
        done: list[int],
        records: list[DashboardMessage],
    ) -> None:
        """Hold (durably) the acceptable initiations of a run of them, then submit them.

        One transaction holds them, records the registry changes processed before them and
        removes all those items from the inbox: a crash after it leaves them held, and held
        initiations are settled on start before anything new is taken.
        """
        if not group:
            return
        batch = list(group)
        group.clear()
        accepted: list[Initiation] = []
        for _, init in batch:
            refusal = self.registry.check(init)
            if refusal is not None:
                log.warning("initiation %s refused: %s", init.id, refusal.reason)
                # journaled in the outbox before its inbox item goes
                await self._emit(
                    refusal_event(
                        init,
                        refusal.reason,
                        agent_name=self.name,
                        hostname=self.hostname,
                        now_ms=_now_ms(),
                    )
                )
            elif init.id not in self.held:
                accepted.append(self.registry.prepare(init))
        keys = [*done, *(item.key for item, _ in batch)]
        recs = list(records)
        done.clear()
        records.clear()
        new = await self._aj.run(self._hold_and_take, accepted, keys, recs)
        self.processed += len(keys)
        if recs:
            await self._compact_registry()
        duplicates: list[str] = []
        for init in new:
            try:
                disposition = await self.executor.submit(init)
            except IkaschedError as exc:
                await self._emit(
                    refusal_event(
                        init,
                        str(exc),
                        agent_name=self.name,
                        hostname=self.hostname,
                        now_ms=_now_ms(),
                    )
                )
                continue
            if disposition is Disposition.DUPLICATE:
                # a redelivery of a run already reported: nothing more will come for it
                duplicates.append(init.id)
        if duplicates:
            await self._aj.run(self.held.release, duplicates)

    def _hold_and_take(
        self, accepted: list[Initiation], keys: list[int], recs: list[DashboardMessage]
    ) -> list[Initiation]:
        """On the journal thread: hold `accepted`, record `recs`, remove `keys` from the inbox,
        in one transaction; returns the newly held initiations."""
        new: list[Initiation] = []
        try:
            with one_transaction(self._store, self._held_journal, self._registry_journal):
                self._registry_log.record(recs)
                if accepted:
                    new = self.held.add(accepted)
                self._store.remove(keys)
        except BaseException:
            # rolled back: the held index in memory must not claim what the disk lost, or
            # the replay would skip these initiations
            if new:
                with contextlib.suppress(Exception):
                    self.held.release(i.id for i in new)
            raise
        return new

    async def _handle(self, message: DashboardMessage) -> None:
        """One non-initiation message."""
        kind = message.WhichOneof("body")
        if kind in REGISTRY_BODIES:
            change = self.registry.apply(message)
            await self._registry_changed(message, change)
        elif kind == "cancel_initiation":
            c = message.cancel_initiation
            if not await self.executor.cancel(c.initiation_id, c.reason):
                log.info(
                    "cancel of %s: not queued here (started, ended or unknown)", c.initiation_id
                )
        elif kind == "kill_job":
            k = message.kill_job
            reason = k.reason or (f"killed by {k.user}" if k.user else "")
            if not await self.executor.kill(k.initiation_id, destroy=k.destroy, reason=reason):
                log.info("kill of %s: no such live job here", k.initiation_id)
        elif kind == "manual_fire":
            if self.triggers is None:
                log.warning(
                    "manual fire of %s: this agent has no trigger host",
                    message.manual_fire.job_identifier,
                )
            else:
                await self._to_triggers(
                    "manual fire",
                    self.triggers.manual_fire(message.manual_fire, message_id=message.id),
                    message.manual_fire.context_instance_id,
                    message.manual_fire.job_identifier,
                )
        else:
            log.warning("inbox message %s has no known body (%s); ignored", message.id, kind)

    async def _registry_changed(self, message: DashboardMessage, change: RegistryChange) -> None:
        kind = change.kind
        if kind == "remove_instance" and message.remove_instance.kill_running_jobs:
            iid = message.remove_instance.context_instance_id
            for initiation_id in self.held.of_instance(iid):
                await self.executor.kill(
                    initiation_id, destroy=True, reason=f"instance {iid} removed"
                )
        host = self.triggers
        if host is None:
            return
        if kind == "provision_jobs":
            p = message.provision_jobs
            await self._to_triggers(
                "provision", host.provision(p.context_name, list(p.jobs), p.timezone)
            )
        elif kind == "remove_plan_jobs":
            await self._to_triggers(
                "remove plan", host.remove_plan(message.remove_plan_jobs.context_name)
            )
        elif kind == "activate_instance":
            a = message.activate_instance
            await self._to_triggers("activate", host.activate(a), a.context_instance_id)
        elif kind == "remove_instance":
            iid = message.remove_instance.context_instance_id
            await self._to_triggers("remove instance", host.remove_instance(iid), iid)
        elif kind == "sync_instances":
            await self._to_triggers("sync", host.sync(message.sync_instances))

    async def _to_triggers(
        self, what: str, call: Awaitable[None], instance_id: str = "", job_identifier: str = ""
    ) -> None:
        """A trigger-host call. Its refusals (unknown zone, no such trigger) are the dashboard's
        input being wrong, not a poison message: an alert tells the operator, the message is
        done. Other failures propagate (bounded retries, then dead letters)."""
        try:
            await call
        except IkaschedError as exc:
            log.error("trigger host refused %s: %s", what, exc)
            await self.send_alert(
                agent_pb2.AgentAlert(
                    type=agent_pb2.AgentAlert.ALERT_ERROR,
                    context_instance_id=instance_id,
                    job_identifier=job_identifier,
                    message=f"{what} refused by agent {self.name}: {exc}",
                    time=_now_ms(),
                )
            )

    # ---- lane --------------------------------------------------------------------------
    async def _on_lane(self, message: agent_pb2.DashboardLaneMessage) -> None:
        kind = message.WhichOneof("body")
        if self.logs is not None:
            if kind == "log_request":
                self.logs.request(message.log_request)
            elif kind == "log_cancel":
                self.logs.cancel(message.log_cancel)
            return
        if kind == "log_request":
            await self._send_chunk(
                agent_pb2.LogChunk(
                    request_id=message.log_request.request_id,
                    eof=True,
                    error="this agent does not serve logs",
                )
            )

    async def _send_chunk(self, chunk: agent_pb2.LogChunk) -> None:
        """Put a chunk on the lane, waiting while it is full; a transfer ends with the link."""
        if not await self.link.send_lane(agent_pb2.AgentLaneMessage(log_chunk=chunk)):
            raise LinkClosed("not connected to the dashboard")

    async def status(self) -> agent_pb2.AgentStatus:
        """Current load, as sent on the lane."""
        return agent_pb2.AgentStatus(
            running_jobs=len(self.executor.running()),
            queued_jobs=len(self.executor.queued()),
            active_instances=len(self.registry.instances),
            outbox_size=await self.outbox.size(),
        )

    async def _status_loop(self) -> None:
        while not self._stopping:
            session = self.link.session
            if session is not None:
                with contextlib.suppress(asyncio.QueueFull):
                    session.send_lane_nowait(agent_pb2.AgentLaneMessage(status=await self.status()))
            await asyncio.sleep(self.options.status_interval)


def _count(dispositions: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dispositions:
        out[d.value] = out.get(d.value, 0) + 1
    return out


def _version() -> str:
    try:
        from ikasched_common import __version__
    except ImportError:  # pragma: no cover
        return "0"
    return str(__version__)


@contextlib.contextmanager
def _logged(what: str) -> Any:
    try:
        yield
    except Exception:
        log.exception("%s failed", what)


# ---- process entry ------------------------------------------------------------------------
async def serve(
    config: AgentConfig,
    *,
    options: AgentOptions | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run an agent until `stop` is set or SIGTERM/SIGINT arrives; then stop gracefully."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    agent = Agent(config, options=options)
    try:
        await agent.start()  # a failure here (unreadable journals, bad TLS files) propagates
        try:
            await stop.wait()
            log.info("agent %s stopping", config.name)
        finally:
            await agent.stop()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def real_trigger_host(ctx: TriggerContext) -> TriggerHost:
    """The cron and file-arrival trigger host of ikasched_agent.triggers."""
    from ikasched_agent.triggers import TriggerHost as Host

    return Host(
        ctx.agent_name,
        ctx.emit,
        ctx.clock,
        ctx.state_dir,
        alert=ctx.alert,
        agent_hostname=ctx.agent_hostname,
    )


def real_log_server(runs_dir: Path, send_chunk: SendChunk) -> LogService:
    from ikasched_agent.logs import LogServer

    return LogServer(runs_dir, send_chunk)


def real_housekeeper(runs_dir: Path, clock: Clock, max_age_days: int) -> Housekeeper:
    from ikasched_agent.logs import LogHousekeeper

    return LogHousekeeper(runs_dir, clock, max_age_days=max_age_days)


def default_options(config: AgentConfig) -> AgentOptions:
    """Options of a real agent: trigger host, log server and run housekeeping."""
    return AgentOptions(
        trigger_factory=real_trigger_host,
        log_factory=real_log_server,
        housekeeper_factory=real_housekeeper if config.log_retention_days > 0 else None,
    )


def run_agent(config: AgentConfig, *, options: AgentOptions | None = None) -> int:
    """Run the agent process until SIGTERM/SIGINT; returns the exit status (0)."""
    config.validate()
    asyncio.run(serve(config, options=options or default_options(config)))
    return 0
