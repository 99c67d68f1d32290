"""Time and file triggers of the agent: cron-scheduled and file-arrival jobs, per held instance.

Interface (the agent process calls these on its event loop; every coroutine is serialised by one
lock, so calls may overlap freely):

    host = TriggerHost(agent_name, emit, clock, state_dir, alert=..., agent_hostname=...,
                       fsync=False)                  # fsync=True for "power" durability
    await host.provision(plan_name, jobs, timezone)  # ProvisionJobs: replaces the plan's jobs
    await host.remove_plan(plan_name)                # RemovePlanJobs
    await host.activate(activate_instance)           # ActivateInstance: the agent holds it now
    await host.remove_instance(instance_id)          # RemoveInstance
    await host.sync(sync_instances)                  # SyncInstances: the full set, others go
    await host.manual_fire(manual_fire)              # ManualFire (NotFound if not held)
    await host.start() / await host.aclose()         # background loop and watchdog observer
    await host.tick()                                # handle whatever is due at clock.now()
    host.next_due()                                  # when the next thing is due

``emit`` is an async callback taking a ContextualisedScheduledProcessEvent; the agent journals it
in its outbox before returning. ``alert`` takes an AgentAlert (misfires beyond the grace, file
SLAs, jobs that cannot be scheduled). Provisioned jobs are not persisted here: the agent feeds
them in again at start (from its own store) before the dashboard's SyncInstances.

Rules:

- One slot per (instance, job) for each cron or file job of the instance's plan that the
  activation lists in ``job_identifiers``. Nothing fires for an instance the agent does not hold.
- Cron jobs fire on our CronTrigger in the job's ``time_zone`` (else the plan's), with
  quartz.py's DST policy. A fire inside the job's blackout (crons read in the same zone, plus
  epoch-ms ranges) is dropped when ``drop_event_on_blackout``, otherwise reported with outcome
  EXECUTION_IGNORED_INSIDE_BLACKOUT_WINDOW. ``days_of_week_to_run`` (Quartz numbering, the
  fire's day in the job's zone) suppresses fires on other days (no event: the job simply did
  not fire). An instance with ``quartz_schedule_driven_jobs_disabled`` gets no cron fires
  (manual fires still work; file jobs still detect files).
- Each slot keeps a cursor, "fires handled through", persisted per instance in
  ``state_dir/triggers/``. On activation (and so after an agent restart) the fires in
  (cursor or instance start, now] are looked at once: the latest one within the job's misfire
  grace (default 300 s) fires exactly once; older ones are reported as one ALERT_MISFIRE.
  While running, each due fire fires (a late one within the grace too).
- Event ids are deterministic ("fire:<instance>:<job>:<fire ms>", "file:<instance>:<job>:<hash
  of the files>"): a fire repeated after a crash between ``emit`` and the cursor write carries
  the same id, which the dashboard's processed-id record absorbs.
- File jobs: see filewatch.py for matching and stability. Each slot scans on activation, on its
  poll cron, when watchdog reports a change in its directory, and when a pending file may have
  become stable. Newly stable files are reported in one event (``matched_file_names`` in report
  order, the original paths; ``execution_details`` lists them when ``log_matched_filenames``),
  then moved when ``move_directory`` is set, then remembered as reported (per instance,
  persisted). ``sla_cron_expression``: at each SLA fire, when no file was reported since the
  previous SLA fire (or the instance start), an ALERT_OVERDUE alert.
- ``passthrough_properties`` travel in the event's ``job_execution_output_parameters`` (they
  become parameters of the jobs the fire raises).
- Manual fire: outcome EXECUTION_INVOKED, job_group "group (manual fire)", ``manual`` true, no
  blackout or day-of-week check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from ikasched.v1 import agent_pb2, common_pb2, plan_pb2
from ikasched_agent import filewatch
from ikasched_agent.filewatch import DirectoryWatcher, FileSpec, StabilityTracker
from ikasched_agent.protocol import AgentAlert, AlertSink, Emit
from ikasched_agent.trigger_slots import (
    FilePart,
    PlanJobs,
    Slot,
    SlotFires,
    job_identifier,
    trigger_settings,
)
from ikasched_agent.trigger_state import TriggerState
from ikasched_common.blackout import Blackout
from ikasched_common.calendar_jobs import cron_job_trigger
from ikasched_common.clock import Clock
from ikasched_common.errors import IkaschedError, InvalidArgument, NotFound
from ikasched_common.quartz import CronTrigger, zone
from ikasched_common.secrets import SecretBox, is_sealed
from ikasched_common.waits import wait_event

__all__ = [
    "DEFAULT_MISFIRE_GRACE",
    "MANUAL_FIRE_GROUP",
    "AlertSink",
    "Emit",
    "TriggerHost",
    "TriggerState",
]

log = logging.getLogger(__name__)

MANUAL_FIRE_GROUP = "group (manual fire)"
DEFAULT_MISFIRE_GRACE = timedelta(seconds=300)
#: The background loop re-reads the clock at least this often (clock jumps, suspend).
MAX_SLEEP_SECONDS = 30.0
#: Never spin: the shortest sleep of the background loop.
MIN_SLEEP_SECONDS = 0.01
#: A slot whose handling failed (e.g. emit raised) is retried after this long.
RETRY_DELAY = timedelta(seconds=1)


async def _no_alert(alert: AgentAlert) -> None:
    log.warning("agent alert (no alert sink): %s", alert.message)


class TriggerHost:
    """Cron and file triggers of one agent (see the module docstring for the interface)."""

    def __init__(
        self,
        agent_name: str,
        emit: Emit,
        clock: Clock,
        state_dir: Path | str,
        *,
        alert: AlertSink | None = None,
        agent_hostname: str | None = None,
        fsync: bool = False,
        secret_box: SecretBox | None = None,
    ) -> None:
        if not agent_name:
            raise InvalidArgument("must not be empty", field="agent_name")
        self.agent_name = agent_name
        self.clock = clock
        self._emit = emit
        self._alert = alert if alert is not None else _no_alert
        self._hostname = socket.gethostname() if agent_hostname is None else agent_hostname
        self._state = TriggerState(state_dir, fsync=fsync)
        self._box = secret_box
        self._plans: dict[str, PlanJobs] = {}
        self._held: dict[str, agent_pb2.ActivateInstance] = {}
        self._slots: dict[tuple[str, str], Slot] = {}
        self._fires = SlotFires(
            agent_name,
            self._hostname,
            emit,
            self._alert,
            clock,
            self._state,
            self._held,
            self._watch,
        )
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watcher: DirectoryWatcher | None = None

    # ------------------------------------------------------------------ queries

    def held_instances(self) -> list[str]:
        return sorted(self._held)

    def slots(self) -> list[tuple[str, str]]:
        """(instance id, job identifier) pairs that currently have a trigger."""
        return sorted(self._slots)

    def next_due(self) -> datetime | None:
        now = self.clock.now()
        times = [t for s in self._slots.values() if (t := s.due(now)) is not None]
        return min(times) if times else None

    def pending_files(self, instance_id: str, job_id: str) -> list[str]:
        """Files seen but not yet stable, for diagnostics."""
        slot = self._slots.get((instance_id, job_id))
        return slot.file.tracker.pending_paths if slot and slot.file else []

    # ------------------------------------------------------------------ commands

    async def provision(
        self, plan_name: str, jobs: Sequence[plan_pb2.SchedulerJob], timezone: str = ""
    ) -> None:
        """Replace the plan's jobs; held instances of the plan get their slots rebuilt."""
        if not plan_name:
            raise InvalidArgument("must not be empty", field="context_name")
        zone(timezone)  # refuse an unknown plan zone up front
        kept = {job_identifier(self.agent_name, j): j for j in jobs if trigger_settings(j)}
        async with self._lock:
            self._plans[plan_name] = PlanJobs(timezone, kept)
            for instance_id, held in list(self._held.items()):
                if held.context_name == plan_name:
                    await self._rebuild(instance_id)
        self._wake.set()

    async def remove_plan(self, plan_name: str) -> None:
        async with self._lock:
            self._plans.pop(plan_name, None)
            for instance_id, held in list(self._held.items()):
                if held.context_name == plan_name:
                    await self._rebuild(instance_id)

    async def activate(self, activation: agent_pb2.ActivateInstance) -> None:
        """Hold the instance (or refresh it); catches up fires missed since its start."""
        if not activation.context_instance_id:
            raise InvalidArgument("must not be empty", field="context_instance_id")
        async with self._lock:
            await self._activate(activation)
        self._wake.set()

    async def remove_instance(self, instance_id: str) -> None:
        async with self._lock:
            await self._remove(instance_id)

    async def sync(self, instances: agent_pb2.SyncInstances) -> None:
        """Hold exactly these instances: others are removed, these (re)activated."""
        wanted = {a.context_instance_id for a in instances.instances}
        async with self._lock:
            for instance_id in [i for i in self._held if i not in wanted]:
                await self._remove(instance_id)
            for instance_id in [i for i in self._state.instances() if i not in wanted]:
                await self._state.drop(instance_id)  # left over from before a restart
            for activation in instances.instances:
                await self._activate(activation)
        self._wake.set()

    async def manual_fire(self, request: agent_pb2.ManualFire, *, message_id: str = "") -> None:
        """Fire a held instance's cron or file job now."""
        async with self._lock:
            slot = self._slots.get((request.context_instance_id, request.job_identifier))
            if slot is None:
                raise NotFound(
                    f"job {request.job_identifier!r} has no trigger for instance "
                    f"{request.context_instance_id!r} on agent {self.agent_name!r}"
                )
            now = self.clock.now()
            children = (
                (request.child_context_name,) if request.child_context_name else slot.children
            )
            event = self._fires.event(
                slot,
                f"manual:{request.context_instance_id}:{slot.job_id}:"
                f"{message_id or uuid.uuid4().hex}",
                now,
                common_pb2.EXECUTION_INVOKED,
                children=children,
                group=MANUAL_FIRE_GROUP,
            )
            event.manual = True
            event.user = request.user
            event.execution_details = f"manual fire by {request.user or 'unknown user'}"
            await self._emit(event)

    async def tick(self) -> None:
        """Handle every slot due at the clock's now."""
        async with self._lock:
            now = self.clock.now()
            due = [(t, s.key) for s in self._slots.values() if (t := s.due(now)) and t <= now]
            for _, key in sorted(due):
                slot = self._slots.get(key)
                if slot is None:
                    continue
                try:
                    if slot.file is None:
                        await self._fires.run_cron(slot, now)
                    else:
                        await self._fires.run_file(slot, now)
                    slot.retry_at = None
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Keep the loop going; what was not handled is retried a little later.
                    log.exception("trigger %s of instance %s failed", slot.job_id, key[0])
                    slot.retry_at = now + RETRY_DELAY

    async def start(self) -> None:
        """Start the background loop and the directory watches; call inside the event loop."""
        if self._task is not None:
            return
        self._watcher = DirectoryWatcher(asyncio.get_running_loop())
        for slot in self._slots.values():
            self._watch(slot)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="trigger-host")

    async def aclose(self) -> None:
        """Stop the loop and the watches; persisted state stays for the next start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            await asyncio.to_thread(watcher.close)

    # ------------------------------------------------------------------ internals

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("trigger tick failed")
            due = self.next_due()
            delay = MAX_SLEEP_SECONDS
            if due is not None:
                delay = (due - self.clock.now()).total_seconds()
            delay = min(max(delay, MIN_SLEEP_SECONDS), MAX_SLEEP_SECONDS)
            await wait_event(self._wake, delay)
            self._wake.clear()

    async def _activate(self, activation: agent_pb2.ActivateInstance) -> None:
        held = agent_pb2.ActivateInstance()
        held.CopyFrom(activation)
        self._held[activation.context_instance_id] = held
        await self._rebuild(activation.context_instance_id)

    async def _remove(self, instance_id: str) -> None:
        self._held.pop(instance_id, None)
        for key in [k for k in self._slots if k[0] == instance_id]:
            self._close(self._slots.pop(key))
        await self._state.drop(instance_id)

    def _wanted(self, instance_id: str) -> dict[str, tuple[plan_pb2.SchedulerJob, tuple[str, ...]]]:
        held = self._held.get(instance_id)
        plan = self._plans.get(held.context_name) if held is not None else None
        if held is None or plan is None:
            return {}
        children: dict[str, list[str]] = {}
        for i, job_id in enumerate(held.job_identifiers):
            child = held.child_context_names[i] if i < len(held.child_context_names) else ""
            children.setdefault(job_id, []).append(child)
        wanted: dict[str, tuple[plan_pb2.SchedulerJob, tuple[str, ...]]] = {}
        for job_id, names in children.items():
            job = plan.jobs.get(job_id)
            if job is None:
                continue
            # An occurrence at the root ("") means every child context: leave the list empty.
            listed = () if "" in names else tuple(dict.fromkeys(names))
            wanted[job_id] = (job, listed or tuple(job.child_context_names))
        return wanted

    async def _rebuild(self, instance_id: str) -> None:
        """Make the instance's slots match its activation and its plan's jobs."""
        wanted = self._wanted(instance_id)
        for key in [k for k in self._slots if k[0] == instance_id]:
            slot = self._slots[key]
            job_children = wanted.get(key[1])
            if job_children is None or not self._same(slot, *job_children):
                self._close(self._slots.pop(key))
        now = self.clock.now()
        for job_id, (job, children) in wanted.items():
            if (instance_id, job_id) in self._slots:
                continue
            try:
                slot = self._new_slot(instance_id, job_id, job, children)
            except IkaschedError as exc:
                await self._fires.send_alert(
                    agent_pb2.AgentAlert.ALERT_ERROR,
                    instance_id,
                    job_id,
                    f"job {job_id!r} cannot be scheduled: {exc}",
                )
                continue
            self._slots[slot.key] = slot
            self._watch(slot)
            await self._fires.catch_up_on_activation(slot, now)
        await self._state.save(instance_id)

    def _same(self, slot: Slot, job: plan_pb2.SchedulerJob, children: tuple[str, ...]) -> bool:
        if slot.job != job or slot.children != children:
            return False
        if slot.file is not None:
            return slot.file.spec == self._file_spec(slot.instance_id, job)
        return True

    def _zone_of(self, instance_id: str, settings_zone: str) -> str:
        held = self._held[instance_id]
        plan = self._plans.get(held.context_name)
        plan_zone = plan.timezone if plan is not None else ""
        return settings_zone or plan_zone or held.timezone or "UTC"

    def _parameters(self, instance_id: str) -> dict[str, str]:
        held = self._held[instance_id]
        values = {p.name: p.value or p.default_value for p in held.context_parameters}
        if self._box is not None:  # sealed at rest on the agent (docs/architecture.md §7.5)
            for name, value in values.items():
                if is_sealed(value):
                    values[name] = self._box.open(value, aad=name)
        return values

    def _file_spec(self, instance_id: str, job: plan_pb2.SchedulerJob) -> FileSpec:
        return filewatch.resolve_spec(job.file_event_driven_job, self._parameters(instance_id))

    def _new_slot(
        self,
        instance_id: str,
        job_id: str,
        job: plan_pb2.SchedulerJob,
        children: tuple[str, ...],
    ) -> Slot:
        settings = trigger_settings(job)
        assert settings is not None
        tz = self._zone_of(instance_id, settings.time_zone)
        trigger: CronTrigger | None = None
        if isinstance(settings, plan_pb2.QuartzScheduleDrivenJob) and settings.cron_expression:
            # a calendar's documents come with the job (docs/semantics.md §13.5)
            trigger = cron_job_trigger(settings, tz)
        elif settings.cron_expression:
            trigger = CronTrigger(settings.cron_expression, tz)
        blackout = Blackout(
            settings.blackout_window_cron_expressions,
            [(r.start, r.end) for r in settings.blackout_window_date_time_ranges],
            tz,
        )
        grace_s = settings.misfire_grace_seconds
        grace = timedelta(seconds=grace_s) if grace_s > 0 else DEFAULT_MISFIRE_GRACE
        record = self._state.record(instance_id, job_id)
        slot = Slot(instance_id, job_id, job, trigger, blackout, grace, children, record)
        if isinstance(settings, plan_pb2.FileEventDrivenJob):
            spec = self._file_spec(instance_id, job)
            sla = (
                CronTrigger(settings.sla_cron_expression, tz)
                if settings.sla_cron_expression
                else None
            )
            tracker = StabilityTracker(spec.min_age, record.reported)
            slot.file = FilePart(spec, tracker, sla)
        return slot

    def _watch(self, slot: Slot) -> None:
        part = slot.file
        if part is None or self._watcher is None or part.watch is not None:
            return

        def on_change() -> None:
            part.scan_requested = True
            self._wake.set()

        part.watch = self._watcher.watch(part.spec.directory, part.spec.depth > 1, on_change)

    def _close(self, slot: Slot) -> None:
        if slot.file is not None and slot.file.watch is not None and self._watcher is not None:
            self._watcher.unwatch(slot.file.watch)
            slot.file.watch = None
