"""The trigger host's slots, one per (held instance, cron or file job), and `SlotFires`, which
handles a due slot: cron catch-up and fires, file scans and reports, file SLAs, and the
events and alerts they raise (rules in triggers.py's docstring)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ikasched.v1 import agent_pb2, common_pb2, plan_pb2
from ikasched_agent import filewatch
from ikasched_agent.filewatch import FileSeen, FileSpec, StabilityTracker
from ikasched_agent.protocol import AgentAlert, AlertSink, Emit, ProcessEventMessage
from ikasched_agent.trigger_state import JobRecord, TriggerState
from ikasched_common.blackout import Blackout, epoch_ms, from_epoch_ms
from ikasched_common.clock import Clock
from ikasched_common.dispatch import catch_up
from ikasched_common.quartz import CronTrigger

__all__ = [
    "FilePart",
    "PlanJobs",
    "Slot",
    "SlotFires",
    "job_identifier",
    "quartz_day",
    "trigger_settings",
]

#: Shortest interval between two scans of one file slot asked for by directory events.
SCAN_DEBOUNCE = timedelta(milliseconds=50)
_MS = timedelta(milliseconds=1)


def quartz_day(at: datetime) -> int:
    return at.isoweekday() % 7 + 1  # Quartz: 1 = Sunday ... 7 = Saturday


def job_identifier(agent_name: str, job: plan_pb2.SchedulerJob) -> str:
    return job.identifier or f"{agent_name}-{job.job_name}"


@dataclass(slots=True)
class FilePart:
    spec: FileSpec
    tracker: StabilityTracker
    sla: CronTrigger | None
    next_sla: datetime | None = None
    watch: filewatch.WatchHandle | None = None
    scan_requested: bool = True  # scan once on activation
    last_scan: datetime | None = None


@dataclass(slots=True)
class Slot:
    """One (instance, job) the host fires for."""

    instance_id: str
    job_id: str
    job: plan_pb2.SchedulerJob
    trigger: CronTrigger | None  # the cron job's trigger or the file job's poll cron
    blackout: Blackout
    grace: timedelta
    children: tuple[str, ...]
    record: JobRecord
    next_fire: datetime | None = None
    file: FilePart | None = None
    retry_at: datetime | None = None  # after a failure, not due again before this

    @property
    def key(self) -> tuple[str, str]:
        return (self.instance_id, self.job_id)

    def due(self, now: datetime) -> datetime | None:
        times = [self.next_fire]
        if self.file is not None:
            times += [self.file.next_sla, self.file.tracker.recheck_at()]
            if self.file.scan_requested:
                # A file being written raises a storm of inotify events: one scan per interval.
                last = self.file.last_scan
                times.append(now if last is None else max(now, last + SCAN_DEBOUNCE))
        present = [t for t in times if t is not None]
        if not present:
            return None
        due = min(present)
        return max(due, self.retry_at) if self.retry_at is not None else due


@dataclass(slots=True)
class PlanJobs:
    timezone: str
    jobs: dict[str, plan_pb2.SchedulerJob]


def trigger_settings(
    job: plan_pb2.SchedulerJob,
) -> plan_pb2.QuartzScheduleDrivenJob | plan_pb2.FileEventDrivenJob | None:
    kind = job.WhichOneof("job_type")
    if kind == "quartz_schedule_driven_job":
        return job.quartz_schedule_driven_job
    if kind == "file_event_driven_job":
        return job.file_event_driven_job
    return None


class SlotFires:
    """Handles due slots of held instances and raises their events and alerts.

    Shares the host's table of held instances; `watch(slot)` asks the host to watch a file
    slot's directory (it may exist only by now)."""

    def __init__(
        self,
        agent_name: str,
        hostname: str,
        emit: Emit,
        alert: AlertSink,
        clock: Clock,
        state: TriggerState,
        held: dict[str, agent_pb2.ActivateInstance],
        watch: Callable[[Slot], None],
    ) -> None:
        self.agent_name = agent_name
        self.clock = clock
        self._hostname = hostname
        self._emit = emit
        self._alert = alert
        self._state = state
        self._held = held
        self._watch = watch

    def _start_cursor(self, slot: Slot, record_ms: int | None, now: datetime) -> datetime:
        """Where handling resumes: the record's cursor, else just before the instance start
        (a fire at the start itself counts); an instance without a start time starts now."""
        held = self._held[slot.instance_id]
        start = from_epoch_ms(held.start_time) if held.start_time > 0 else now
        start -= _MS
        return max(start, from_epoch_ms(record_ms)) if record_ms is not None else start

    async def _due_fires(self, slot: Slot, cursor: datetime, now: datetime) -> list[datetime]:
        """Fires in (cursor, now] within the grace; older ones become one misfire alert.

        Only the grace period is walked fire by fire, so an old cursor (a long outage, a
        per-second cron) costs two trigger look-ups, not one per missed fire.
        """
        assert slot.trigger is not None
        first = slot.trigger.next_fire_time(cursor)
        if first is None or first > now:
            return []
        horizon = now - slot.grace - _MS  # fires after this are at most grace late
        if first <= horizon:
            last_missed = slot.trigger.previous_fire_time(horizon + _MS) or first
            await self._misfire_alert(slot, first, last_missed)
        return list(catch_up(slot.trigger, max(cursor, horizon), now, slot.grace).late)

    async def catch_up_on_activation(self, slot: Slot, now: datetime) -> None:
        cursor = self._start_cursor(slot, slot.record.cursor_ms, now)
        if slot.trigger is not None and slot.file is None:
            late = await self._due_fires(slot, cursor, now)
            if late:  # several late fires coalesce into one on activation
                await self._fire(slot, late[-1])
        slot.record.cursor_ms = epoch_ms(max(cursor, now))
        slot.next_fire = slot.trigger.next_fire_time(now) if slot.trigger is not None else None
        if slot.file is not None and slot.file.sla is not None:
            sla_cursor = self._start_cursor(slot, slot.record.sla_cursor_ms, now)
            slot.record.sla_cursor_ms = epoch_ms(sla_cursor)
            slot.file.next_sla = slot.file.sla.next_fire_time(sla_cursor)

    async def run_cron(self, slot: Slot, now: datetime) -> None:
        assert slot.trigger is not None
        cursor = self._start_cursor(slot, slot.record.cursor_ms, now)
        for fire in await self._due_fires(slot, cursor, now):
            await self._fire(slot, fire)
            slot.record.cursor_ms = epoch_ms(fire)
        slot.record.cursor_ms = epoch_ms(now)
        slot.next_fire = slot.trigger.next_fire_time(now)
        await self._state.save(slot.instance_id)

    async def _fire(self, slot: Slot, fire: datetime) -> None:
        """One scheduled cron fire: the day, disabled and blackout rules, then the event."""
        held = self._held[slot.instance_id]
        if held.quartz_schedule_driven_jobs_disabled:
            return
        settings = slot.job.quartz_schedule_driven_job
        assert slot.trigger is not None
        if settings.days_of_week_to_run:
            day = quartz_day(fire.astimezone(slot.trigger.tz))
            if day not in settings.days_of_week_to_run:
                return
        outcome = common_pb2.EXECUTION_INVOKED
        if slot.blackout.contains(fire):
            if settings.drop_event_on_blackout:
                return
            outcome = common_pb2.EXECUTION_IGNORED_INSIDE_BLACKOUT_WINDOW
        event_id = f"fire:{slot.instance_id}:{slot.job_id}:{epoch_ms(fire)}"
        event = self.event(slot, event_id, fire, outcome)
        event.execution_details = (
            f"cron {slot.trigger.expression.text!r} in {slot.trigger.timezone} fired at "
            f"{fire.astimezone(slot.trigger.tz).isoformat()}"
        )
        await self._emit(event)

    async def run_file(self, slot: Slot, now: datetime) -> None:
        part = slot.file
        assert part is not None
        judged = part.sla is not None and part.next_sla is not None and part.next_sla <= now
        if judged:
            await self._judge_sla(slot, part, now)
        if slot.trigger is not None and slot.next_fire is not None and slot.next_fire <= now:
            slot.next_fire = slot.trigger.next_fire_time(now)
        part.scan_requested = False
        part.last_scan = now
        if part.watch is None:
            self._watch(slot)  # the directory may exist by now
        files = await asyncio.to_thread(filewatch.scan, part.spec)
        stable = part.tracker.observe(files, now)
        if stable:
            await self._report_files(slot, part, filewatch.order(stable, part.spec), now)
        slot.record.cursor_ms = epoch_ms(now)
        if stable or judged:
            await self._state.save(slot.instance_id)

    async def _report_files(
        self, slot: Slot, part: FilePart, files: list[FileSeen], now: datetime
    ) -> None:
        settings = slot.job.file_event_driven_job
        digest = hashlib.sha256("\n".join(sorted(f.key for f in files)).encode()).hexdigest()
        outcome = common_pb2.EXECUTION_INVOKED
        drop = False
        if slot.blackout.contains(now):
            drop = settings.drop_event_on_blackout
            outcome = common_pb2.EXECUTION_IGNORED_INSIDE_BLACKOUT_WINDOW
        names = [f.path for f in files]
        if not drop:
            event = self.event(
                slot, f"file:{slot.instance_id}:{slot.job_id}:{digest[:32]}", now, outcome
            )
            event.matched_file_names.extend(names)
            details = f"{len(names)} file(s) arrived in {part.spec.directory}"
            if settings.log_matched_filenames:
                details += ": " + ", ".join(names)
            if part.spec.move_directory is not None:
                details += f"; moved to {part.spec.move_directory}"
            event.execution_details = details
            await self._emit(event)
        if part.spec.move_directory is not None:
            for f in files:
                try:
                    await asyncio.to_thread(filewatch.move_file, f.path, part.spec.move_directory)
                except OSError as exc:
                    await self.send_alert(
                        agent_pb2.AgentAlert.ALERT_ERROR,
                        slot.instance_id,
                        slot.job_id,
                        f"cannot move {f.path} to {part.spec.move_directory}: {exc}",
                    )
        part.tracker.mark_reported(files)
        slot.record.last_arrival_ms = epoch_ms(now)

    async def _judge_sla(self, slot: Slot, part: FilePart, now: datetime) -> None:
        """Judge the latest SLA fire at or before now (several due at once count as one)."""
        assert part.sla is not None
        fire = part.sla.previous_fire_time(now + _MS)
        window_start = self._start_cursor(slot, slot.record.sla_cursor_ms, now)
        if fire is not None and fire > window_start:
            arrival = slot.record.last_arrival_ms
            if arrival is None or not window_start < from_epoch_ms(arrival) <= fire:
                await self.send_alert(
                    agent_pb2.AgentAlert.ALERT_OVERDUE,
                    slot.instance_id,
                    slot.job_id,
                    f"no file matching {', '.join(part.spec.patterns)} arrived in "
                    f"{part.spec.directory} by {fire.astimezone(part.sla.tz).isoformat()}",
                    at=fire,
                )
            slot.record.sla_cursor_ms = epoch_ms(fire)
        part.next_sla = part.sla.next_fire_time(now)

    def event(
        self,
        slot: Slot,
        event_id: str,
        fire: datetime,
        outcome: common_pb2.Outcome,
        *,
        children: Iterable[str] | None = None,
        group: str | None = None,
    ) -> ProcessEventMessage:
        held = self._held[slot.instance_id]
        settings = trigger_settings(slot.job)
        assert settings is not None
        next_fire = slot.trigger.next_fire_time(fire) if slot.trigger is not None else None
        event = ProcessEventMessage(
            id=event_id,
            outcome=outcome,
            agent_name=self.agent_name,
            agent_hostname=self._hostname,
            job_name=slot.job.job_name,
            job_description=slot.job.job_description,
            job_group=settings.job_group if group is None else group,
            successful=True,
            job_starting=False,
            fire_time=epoch_ms(fire),
            next_fire_time=epoch_ms(next_fire) if next_fire is not None else 0,
            dry_run=held.dry_run,
            context_name=held.context_name,
            context_instance_id=slot.instance_id,
            job_identifier=slot.job_id,
        )
        event.child_context_names.extend(slot.children if children is None else children)
        event.job_execution_output_parameters.update(settings.passthrough_properties)
        return event

    async def _misfire_alert(self, slot: Slot, first: datetime, last: datetime) -> None:
        span = (
            f"at {first.isoformat()}"
            if first == last
            else (f"from {first.isoformat()} to {last.isoformat()}")
        )
        await self.send_alert(
            agent_pb2.AgentAlert.ALERT_MISFIRE,
            slot.instance_id,
            slot.job_id,
            f"fires of {slot.job_id!r} {span} missed: more than "
            f"{int(slot.grace.total_seconds())} s late",
            at=last,
        )

    async def send_alert(
        self,
        kind: agent_pb2.AgentAlert.AlertType,
        instance_id: str,
        job_id: str,
        message: str,
        *,
        at: datetime | None = None,
    ) -> None:
        held = self._held.get(instance_id)
        alert = AgentAlert(
            type=kind,
            context_instance_id=instance_id,
            context_name=held.context_name if held is not None else "",
            job_identifier=job_id,
            message=message,
            time=epoch_ms(at if at is not None else self.clock.now()),
        )
        await self._alert(alert)
