"""Helpers of the trigger and log tests: recorders, job and instance builders, clock stepping."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ikasched.v1 import agent_pb2, common_pb2, events_pb2, plan_pb2
from ikasched_agent.triggers import TriggerHost
from ikasched_common.blackout import epoch_ms
from ikasched_common.clock import Clock, ManualClock

AGENT = "agent1"
PLAN = "plan1"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def ms(at: datetime) -> int:
    return epoch_ms(at)


@dataclass
class Recorder:
    """Collects what a TriggerHost emits and alerts."""

    events: list[events_pb2.ContextualisedScheduledProcessEvent] = field(default_factory=list)
    alerts: list[agent_pb2.AgentAlert] = field(default_factory=list)
    arrived: asyncio.Event | None = None

    async def emit(self, event: events_pb2.ContextualisedScheduledProcessEvent) -> None:
        self.events.append(event)
        if self.arrived is not None:
            self.arrived.set()

    async def alert(self, alert: agent_pb2.AgentAlert) -> None:
        self.alerts.append(alert)

    def fire_times(self, instance_id: str | None = None) -> list[int]:
        return [
            e.fire_time
            for e in self.events
            if instance_id is None or e.context_instance_id == instance_id
        ]

    async def wait_events(self, n: int, timeout: float = 10.0) -> None:
        """Wait (bounded) until at least n events arrived."""

        async def until() -> None:
            while len(self.events) < n:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(until(), timeout)


def make_host(
    recorder: Recorder, clock: Clock, state_dir: Path, *, fsync: bool = False
) -> TriggerHost:
    return TriggerHost(
        AGENT,
        recorder.emit,
        clock,
        state_dir,
        alert=recorder.alert,
        agent_hostname="host1",
        fsync=fsync,
    )


def cron_job(
    name: str,
    cron: str,
    *,
    time_zone: str = "",
    blackout_crons: Iterable[str] = (),
    blackout_ranges: Iterable[tuple[int, int]] = (),
    drop_on_blackout: bool = False,
    grace_seconds: int = 0,
    days: Iterable[int] = (),
    passthrough: dict[str, str] | None = None,
) -> plan_pb2.SchedulerJob:
    job = plan_pb2.SchedulerJob(identifier=f"{AGENT}-{name}", agent_name=AGENT, job_name=name)
    q = job.quartz_schedule_driven_job
    q.cron_expression = cron
    q.job_group = "grp"
    q.time_zone = time_zone
    q.blackout_window_cron_expressions.extend(blackout_crons)
    for start, end in blackout_ranges:
        q.blackout_window_date_time_ranges.add(start=start, end=end)
    q.drop_event_on_blackout = drop_on_blackout
    q.misfire_grace_seconds = grace_seconds
    q.days_of_week_to_run.extend(days)  # type: ignore[arg-type]
    q.passthrough_properties.update(passthrough or {})
    return job


def file_job(
    name: str,
    directory: Path | str,
    patterns: Iterable[str],
    *,
    cron: str = "0 0 3 * * ?",
    depth: int = 0,
    min_age: int = 0,
    move_to: Path | str | None = None,
    sla: str = "",
    log_names: bool = False,
    sort_by_mtime: bool = False,
    ascending: bool = False,
    replacements: dict[str, str] | None = None,
    blackout_ranges: Iterable[tuple[int, int]] = (),
    drop_on_blackout: bool = False,
) -> plan_pb2.SchedulerJob:
    job = plan_pb2.SchedulerJob(identifier=f"{AGENT}-{name}", agent_name=AGENT, job_name=name)
    f = job.file_event_driven_job
    f.cron_expression = cron
    f.job_group = "files"
    f.file_path = str(directory)
    f.filenames.extend(patterns)
    f.directory_depth = depth
    f.min_file_age_seconds = min_age
    f.move_directory = str(move_to) if move_to is not None else ""
    f.sla_cron_expression = sla
    f.log_matched_filenames = log_names
    f.sort_by_modified_date_time = sort_by_mtime
    f.sort_ascending = ascending
    for token, param in (replacements or {}).items():
        f.replacement_pairs.add(replacement_token=token, job_plan_parameter_name=param)
    for start, end in blackout_ranges:
        f.blackout_window_date_time_ranges.add(start=start, end=end)
    f.drop_event_on_blackout = drop_on_blackout
    return job


def activation(
    instance_id: str,
    start: datetime,
    job_names: Iterable[str],
    *,
    plan: str = PLAN,
    disabled: bool = False,
    children: Iterable[str] | None = None,
    parameters: dict[str, str] | None = None,
) -> agent_pb2.ActivateInstance:
    a = agent_pb2.ActivateInstance(
        context_instance_id=instance_id,
        context_name=plan,
        start_time=ms(start),
        timezone="UTC",
        quartz_schedule_driven_jobs_disabled=disabled,
    )
    a.job_identifiers.extend(f"{AGENT}-{n}" for n in job_names)
    if children is not None:
        a.child_context_names.extend(children)
    for name, value in (parameters or {}).items():
        a.context_parameters.add(name=name, value=value)
    return a


async def step_to(clock: ManualClock, host: TriggerHost, until: datetime) -> None:
    """Move the clock from one due time to the next, ticking at each, up to ``until``."""
    for _ in range(10_000):
        due = host.next_due()
        if due is None or due > until:
            break
        clock.set(max(due, clock.now()))
        await host.tick()
    clock.set(until)
    await host.tick()


INVOKED = common_pb2.EXECUTION_INVOKED
BLACKOUT = common_pb2.EXECUTION_IGNORED_INSIDE_BLACKOUT_WINDOW
