"""Lifecycle with a ManualClock: window starts in several zones and on DST days, blackouts,
non-concurrent refusal, PREPARED next instances, TTL ends, completion ends, missed runs,
restart recovery (docs/semantics.md §9.6) and rescheduling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from ikasched.v1 import common_pb2, plan_pb2
from ikasched_common.blackout import epoch_ms, from_epoch_ms
from ikasched_common.clock import ManualClock
from ikasched_common.errors import FailedPrecondition
from ikasched_dashboard.engine.inputs import ProcessEvent, RunUntilManuallyEnded
from ikasched_dashboard.lifecycle import (
    Lifecycle,
    PlanWindow,
    RecoveryReport,
    end_job_id,
    manual_end_time_ms,
    one_shot_trigger,
    start_job_id,
)
from ikasched_dashboard.plans.loader import load_plan_text
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import missed_runs as missed_store
from ikasched_dashboard.store.db import read_transaction

from .fakes import FakeOrchestration, ManualTimers, save_plan

HOUR = 3_600_000

PLAN = """
name: daily
timeWindowStart: "0 0 6 ? * * *"
timezone: UTC
contextTtlMilliseconds: 28800000
scheduledJobs:
  - agentName: a
    jobName: one
    internalEventDrivenJob: {commandLine: "true"}
  - agentName: a
    jobName: two
    internalEventDrivenJob: {commandLine: "true"}
jobDependencies:
  - jobIdentifier: a-two
    logicalGrouping: {and: [a-one]}
"""


def plan(**fields: object) -> plan_pb2.Context:
    p = load_plan_text(PLAN)
    for name, value in fields.items():
        if name == "blackout_ranges":
            for start, end in value:  # type: ignore[attr-defined]
                p.blackout_window_date_time_ranges.append(
                    common_pb2.DateTimeRange(start=start, end=end)
                )
        elif name == "blackout_crons":
            p.blackout_window_cron_expressions.extend(value)  # type: ignore[arg-type]
        else:
            setattr(p, name, value)
    return p


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


@dataclass
class World:
    engine: Engine
    clock: ManualClock
    orch: FakeOrchestration
    timers: ManualTimers
    lc: Lifecycle

    def rows(self, *statuses: str) -> list[instance_store.InstanceRow]:
        with read_transaction(self.engine) as conn:
            rows = instance_store.list_instances(conn, statuses=statuses, limit=1000)
        return sorted(rows, key=lambda r: (r.start_time, r.id))

    def live(self) -> list[instance_store.InstanceRow]:
        return [r for r in self.rows() if r.status not in ("ENDED", "PREPARED")]

    def missed(self) -> list[missed_store.MissedRunRecord]:
        with read_transaction(self.engine) as conn:
            return missed_store.list_missed_runs(conn)

    def notes(self) -> list[str]:
        with read_transaction(self.engine) as conn:
            return [c.entry.detail for c in change_store.changes_after(conn, 0) if c.entry.detail]

    async def restart(self) -> tuple[World, RecoveryReport]:
        """A new dashboard process over the same store and clock."""
        world = make_world(self.engine, self.clock)
        world.orch.recover()
        report = await world.lc.start()
        return world, report


def make_world(engine: Engine, clock: ManualClock) -> World:
    orch = FakeOrchestration(engine, clock)
    timers = ManualTimers(clock)
    lc = Lifecycle(engine, orch, clock=clock, timers=timers)
    timers.on_misfire = lc.on_misfire
    return World(engine, clock, orch, timers, lc)


async def started(engine: Engine, clock: ManualClock, p: plan_pb2.Context) -> World:
    save_plan(engine, p, now_ms=epoch_ms(clock.now()))
    world = make_world(engine, clock)
    await world.lc.start()
    return world


# --------------------------------------------------------------------------- window starts


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"])
async def test_window_start_creates_instance_at_local_time(
    engine: Engine, clock: ManualClock, zone: str
) -> None:
    w = await started(engine, clock, plan(timezone=zone, able_to_run_concurrently=True))
    await w.timers.advance_to(utc(2026, 3, 4, 0, 0))
    live = [r for r in w.rows() if r.status != "PREPARED"]
    expected = [datetime(2026, 3, d, 6, 0, tzinfo=ZoneInfo(zone)) for d in (2, 3)]
    expected = [e for e in expected if e > utc(2026, 3, 2, 0, 0)]
    assert [r.start_time for r in live] == [epoch_ms(e) for e in expected]
    assert all(r.created_by == "schedule" for r in live)
    # each got its projected end = window start + TTL
    assert [r.projected_end_time for r in live] == [epoch_ms(e) + 8 * HOUR for e in expected]


async def test_window_start_on_dst_days_follows_the_policy(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(utc(2026, 3, 28, 12, 0))
    # 01:30 London does not exist on 2026-03-29: fires once, right after the jump (01:00 UTC)
    w = await started(
        engine,
        clock,
        plan(
            name="spring",
            timezone="Europe/London",
            time_window_start="0 30 1 ? * * *",
            able_to_run_concurrently=True,
        ),
    )
    await w.timers.advance_to(utc(2026, 3, 30, 12, 0))
    starts = [from_epoch_ms(r.start_time) for r in w.rows() if r.status != "PREPARED"]
    assert starts == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


async def test_window_start_in_a_repeated_hour_fires_once(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(utc(2026, 10, 31, 12, 0))
    # 01:30 New York happens twice on 2026-11-01: only the first (EDT, 05:30 UTC) fires
    w = await started(
        engine,
        clock,
        plan(
            name="fall",
            timezone="America/New_York",
            time_window_start="0 30 1 ? * * *",
            able_to_run_concurrently=True,
        ),
    )
    await w.timers.advance_to(utc(2026, 11, 2, 12, 0))
    starts = [from_epoch_ms(r.start_time) for r in w.rows() if r.status != "PREPARED"]
    assert starts == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]


async def test_blackout_at_window_start_creates_nothing(engine: Engine, clock: ManualClock) -> None:
    day2 = epoch_ms(utc(2026, 3, 3, 0, 0))
    w = await started(
        engine,
        clock,
        plan(able_to_run_concurrently=True, blackout_ranges=[(day2, day2 + 12 * HOUR)]),
    )
    # the PREPARED instance already skips the blackout day
    prepared = w.rows("PREPARED")
    assert [from_epoch_ms(p.start_time) for p in prepared] == [utc(2026, 3, 2, 6, 0)]
    await w.timers.advance_to(utc(2026, 3, 4, 12, 0))
    starts = [from_epoch_ms(r.start_time) for r in w.rows() if r.status != "PREPARED"]
    assert starts == [utc(2026, 3, 2, 6, 0), utc(2026, 3, 4, 6, 0)]
    assert any("blackout" in n for n in w.notes())


async def test_blackout_cron_blocks_the_window_start(engine: Engine, clock: ManualClock) -> None:
    # blackout every Tuesday (2026-03-03 is a Tuesday)
    w = await started(
        engine, clock, plan(able_to_run_concurrently=True, blackout_crons=["* * * ? * TUE"])
    )
    outcome = await w.lc.on_window_start("daily", utc(2026, 3, 3, 6, 0))
    assert outcome.action == "blackout" and not outcome.instance_id
    assert w.live() == []


async def test_non_concurrent_plan_skips_a_start_while_an_instance_is_live(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan(context_ttl_milliseconds=48 * HOUR))
    await w.timers.advance_to(utc(2026, 3, 3, 12, 0))
    live = w.live()
    assert len(live) == 1 and from_epoch_ms(live[0].start_time) == utc(2026, 3, 2, 6, 0)
    notes = w.notes()
    assert any("not able to run concurrently" in n and live[0].id in n for n in notes)


async def test_concurrent_plan_runs_instances_side_by_side(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(
        engine, clock, plan(context_ttl_milliseconds=48 * HOUR, able_to_run_concurrently=True)
    )
    await w.timers.advance_to(utc(2026, 3, 3, 12, 0))
    assert len(w.live()) == 2


async def test_prepared_instance_is_activated_and_the_next_one_prepared(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    (prepared,) = w.rows("PREPARED")
    assert from_epoch_ms(prepared.start_time) == utc(2026, 3, 2, 6, 0)
    assert w.orch.live_instance_ids() == []
    await w.timers.advance_to(utc(2026, 3, 2, 6, 0, 5))
    assert w.orch.activated == [prepared.id]
    assert [r.id for r in w.live()] == [prepared.id]
    (following,) = w.rows("PREPARED")
    assert from_epoch_ms(following.start_time) == utc(2026, 3, 3, 6, 0)


async def test_ttl_zero_prepares_nothing_and_never_ends(engine: Engine, clock: ManualClock) -> None:
    w = await started(
        engine, clock, plan(context_ttl_milliseconds=0, able_to_run_concurrently=True)
    )
    assert w.rows("PREPARED") == []
    await w.timers.advance_to(utc(2026, 3, 3, 0, 0))
    (live,) = w.live()
    assert live.projected_end_time == 0 and not w.lc.has_end_timer(live.id)
    assert w.rows("PREPARED") == []


# --------------------------------------------------------------------------- ends


async def test_ttl_end_ends_the_instance_killing_running_jobs(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (live,) = w.live()
    assert w.lc.has_end_timer(live.id)
    await w.timers.advance_to(utc(2026, 3, 2, 14, 0, 1))
    assert [(e.instance_id, e.actor, e.kill_running_jobs) for e in w.orch.ended] == [
        (live.id, "ttl", True)
    ]
    assert w.live() == [] and not w.lc.has_end_timer(live.id)
    (ended,) = w.rows("ENDED")
    assert ended.end_time == epoch_ms(utc(2026, 3, 2, 14, 0))


async def test_ttl_end_is_skipped_when_running_until_manually_ended(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (live,) = w.live()
    await w.orch.apply(live.id, RunUntilManuallyEnded(True, actor="ops"))
    await w.timers.advance_to(utc(2026, 3, 2, 15, 0))
    assert w.orch.ended == [] and [r.id for r in w.live()] == [live.id]
    # a manual end ignores the flag
    await w.lc.end_instance(live.id, actor="ops")
    assert [e.actor for e in w.orch.ended] == ["ops"]
    with pytest.raises(FailedPrecondition):
        await w.lc.end_instance(live.id, actor="ops")


async def test_end_upon_completion(engine: Engine, clock: ManualClock) -> None:
    w = await started(
        engine, clock, plan(end_job_plan_upon_completion=True, able_to_run_concurrently=True)
    )
    iid = await w.lc.create_manual("daily", actor="ops")
    for job in ("one", "two"):
        w.orch.deliver(
            iid, ProcessEvent(id=f"{job}-s", agent_name="a", job_name=job, job_starting=True)
        )
        w.orch.deliver(
            iid, ProcessEvent(id=f"{job}-e", agent_name="a", job_name=job, successful=True)
        )
    assert w.orch.completions == [iid]
    assert await w.lc.on_instance_complete(iid)
    assert [(e.instance_id, e.actor) for e in w.orch.ended] == [(iid, "completion")]


async def test_completion_does_not_end_without_the_flag(engine: Engine, clock: ManualClock) -> None:
    w = await started(engine, clock, plan(able_to_run_concurrently=True))
    iid = await w.lc.create_manual("daily", actor="ops")
    assert not await w.lc.on_instance_complete(iid)
    assert w.orch.ended == []


# --------------------------------------------------------------------------- restart


async def test_restart_before_the_window_recovers_nothing(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    clock.set(utc(2026, 3, 2, 5, 0))
    w2, report = await w.restart()
    assert report.resumed == () and report.ended == ()
    assert w2.live() == [] and len(w2.rows("PREPARED")) == 1
    await w2.timers.advance_to(utc(2026, 3, 2, 6, 0))
    assert len(w2.live()) == 1


async def test_restart_inside_the_window_resumes_the_instance(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (live,) = w.live()
    clock.set(utc(2026, 3, 2, 9, 0))
    w2, report = await w.restart()
    assert report.resumed == (live.id,)
    assert w2.lc.has_end_timer(live.id) and w2.orch.live_instance_ids() == [live.id]
    await w2.timers.advance_to(utc(2026, 3, 2, 14, 0, 1))
    assert [(e.instance_id, e.actor) for e in w2.orch.ended] == [(live.id, "ttl")]


async def test_restart_inside_a_blackout_resumes_the_instance(
    engine: Engine, clock: ManualClock
) -> None:
    # a blackout stops creation only: the running dashboard leaves a live instance alone when
    # one begins, so a restart inside it must too (it used to end the instance and kill its jobs)
    dark = epoch_ms(utc(2026, 3, 2, 8, 0))
    w = await started(engine, clock, plan(blackout_ranges=[(dark, dark + 2 * HOUR)]))
    await w.timers.advance_to(utc(2026, 3, 2, 9, 0))
    (live,) = w.live()
    assert w.orch.ended == []  # the running dashboard did not end it
    w2, report = await w.restart()
    assert report.resumed == (live.id,) and report.ended == ()
    assert w2.orch.live_instance_ids() == [live.id] and w2.lc.has_end_timer(live.id)


async def test_restart_after_the_window_ends_the_instance(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (live,) = w.live()
    clock.set(utc(2026, 3, 2, 15, 0))  # down through the 14:00 end
    w2, report = await w.restart()
    assert report.ended == (live.id,)
    assert [(e.instance_id, e.actor) for e in w2.orch.ended] == [(live.id, "recovery")]
    assert w2.live() == [] and w2.missed() == []
    assert report.created_late == ()


async def test_restart_past_the_end_keeps_run_until_manually_ended(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (live,) = w.live()
    await w.orch.apply(live.id, RunUntilManuallyEnded(True, actor="ops"))
    clock.set(utc(2026, 3, 2, 15, 0))
    w2, report = await w.restart()
    assert report.resumed == (live.id,)
    assert not w2.lc.has_end_timer(live.id)


async def test_restart_keeps_an_instance_without_ttl(engine: Engine, clock: ManualClock) -> None:
    """TTL 0 means no end while the dashboard runs, so a restart must not end it either."""
    w = await started(
        engine, clock, plan(context_ttl_milliseconds=0, able_to_run_concurrently=True)
    )
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (scheduled,) = w.live()
    manual = await w.lc.create_manual("daily", actor="ops")
    assert scheduled.projected_end_time == 0
    clock.set(utc(2026, 3, 2, 9, 0))
    w2, report = await w.restart()
    assert sorted(report.resumed) == sorted([scheduled.id, manual])
    assert report.ended == () and w2.orch.ended == []
    assert sorted(r.id for r in w2.live()) == sorted([scheduled.id, manual])
    assert not w2.lc.has_end_timer(scheduled.id)
    # days later, another restart: still no end
    clock.set(utc(2026, 3, 9, 5, 0))
    w3, report = await w2.restart()
    assert scheduled.id in report.resumed and w3.orch.ended == []


async def test_window_start_missed_within_grace_is_created_late(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    (prepared,) = w.rows("PREPARED")
    clock.set(utc(2026, 3, 2, 6, 3))  # down at 06:00, back within the 300 s grace
    w2, report = await w.restart()
    (late,) = report.created_late
    assert late.action == "activated" and late.instance_id == prepared.id
    assert late.scheduled_ms == epoch_ms(utc(2026, 3, 2, 6, 0))
    (live,) = w2.live()
    assert live.id == prepared.id and w2.missed() == []
    assert live.projected_end_time == epoch_ms(utc(2026, 3, 2, 14, 0))
    assert [from_epoch_ms(p.start_time) for p in w2.rows("PREPARED")] == [utc(2026, 3, 3, 6, 0)]


async def test_window_start_missed_beyond_grace_is_recorded(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan(misfire_grace_seconds=60))
    (prepared,) = w.rows("PREPARED")
    clock.set(utc(2026, 3, 2, 6, 5))
    w2, report = await w.restart()
    assert report.created_late == ()
    (missed,) = w2.missed()
    assert missed.plan_name == "daily"
    assert missed.scheduled_time == epoch_ms(utc(2026, 3, 2, 6, 0))
    assert missed.detected_time == epoch_ms(utc(2026, 3, 2, 6, 5))
    assert "misfire grace" in missed.reason
    assert [n for n in w2.notes() if n.startswith("missed window start")] == [
        f"missed window start at 2026-03-02T06:00:00+00:00: {missed.reason}"
    ]
    assert w2.live() == [] and prepared.id in w2.orch.dropped
    # the next window start is prepared and still fires
    assert [from_epoch_ms(p.start_time) for p in w2.rows("PREPARED")] == [utc(2026, 3, 3, 6, 0)]
    # restarting again records nothing new
    clock.set(utc(2026, 3, 2, 6, 6))
    w3, _ = await w2.restart()
    assert len(w3.missed()) == 1
    assert len([n for n in w3.notes() if n.startswith("missed window start")]) == 1


async def test_several_late_starts_create_only_the_newest(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(
        engine,
        clock,
        plan(
            time_window_start="0 * * ? * * *",
            context_ttl_milliseconds=0,
            able_to_run_concurrently=True,
        ),
    )
    clock.set(utc(2026, 3, 2, 0, 3, 30))
    w2, report = await w.restart()
    (late,) = report.created_late
    assert late.scheduled_ms == epoch_ms(utc(2026, 3, 2, 0, 3))
    assert [from_epoch_ms(m.scheduled_time) for m in w2.missed()] == [
        utc(2026, 3, 2, 0, 1),
        utc(2026, 3, 2, 0, 2),
    ]
    assert all("superseded" in m.reason for m in w2.missed())


async def test_a_start_fired_later_than_the_grace_becomes_a_missed_run(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan(misfire_grace_seconds=30))
    clock.set(utc(2026, 3, 2, 6, 2))  # the loop was blocked past the start
    (fire,) = [f for f in await w.timers.fire_due() if f.job_id == start_job_id("daily")]
    assert fire.lateness == timedelta(minutes=2)
    assert [m.scheduled_time for m in w.missed()] == [epoch_ms(utc(2026, 3, 2, 6, 0))]
    assert w.live() == []


# --------------------------------------------------------------------------- plan changes


async def test_reschedule_on_plan_change(engine: Engine, clock: ManualClock) -> None:
    w = await started(engine, clock, plan())
    (old,) = w.rows("PREPARED")
    save_plan(engine, plan(time_window_start="0 0 8 ? * * *"), now_ms=epoch_ms(clock.now()))
    await w.lc.plan_changed("daily")
    assert old.id in w.orch.dropped
    (new,) = w.rows("PREPARED")
    assert from_epoch_ms(new.start_time) == utc(2026, 3, 2, 8, 0)
    assert w.timers.next_fire(start_job_id("daily")) == utc(2026, 3, 2, 8, 0)
    await w.timers.advance_to(utc(2026, 3, 2, 9, 0))
    assert [r.id for r in w.live()] == [new.id]


async def test_disabled_plan_creates_nothing(engine: Engine, clock: ManualClock) -> None:
    w = await started(engine, clock, plan(disabled=True))
    assert w.rows("PREPARED") == [] and not w.lc.has_start_trigger("daily")
    await w.timers.advance_to(utc(2026, 3, 3, 0, 0))
    assert w.live() == []
    with pytest.raises(FailedPrecondition, match="disabled"):
        await w.lc.create_manual("daily", actor="ops")
    outcome = await w.lc.on_window_start("daily", utc(2026, 3, 2, 6, 0))
    assert outcome.action == "disabled"


async def test_plan_removed_stops_starts(engine: Engine, clock: ManualClock) -> None:
    w = await started(engine, clock, plan())
    (prepared,) = w.rows("PREPARED")
    await w.lc.plan_removed("daily")
    assert not w.lc.has_start_trigger("daily") and prepared.id in w.orch.dropped


# --------------------------------------------------------------------------- manual creation


def window(**fields: object) -> PlanWindow:
    return PlanWindow.of(plan(**fields))


def test_manual_end_is_the_window_end_while_inside_it() -> None:
    assert manual_end_time_ms(window(), utc(2026, 3, 2, 7, 0)) == epoch_ms(utc(2026, 3, 2, 14, 0))


def test_manual_end_of_a_concurrent_plan_past_the_window_is_now_plus_ttl() -> None:
    now = utc(2026, 3, 2, 15, 0)
    assert (
        manual_end_time_ms(window(able_to_run_concurrently=True), now) == epoch_ms(now) + 8 * HOUR
    )


def test_manual_end_of_a_non_concurrent_plan_stops_before_the_next_start() -> None:
    assert manual_end_time_ms(window(), utc(2026, 3, 2, 15, 0)) == epoch_ms(utc(2026, 3, 2, 23, 0))
    assert manual_end_time_ms(window(), utc(2026, 3, 3, 2, 0)) == epoch_ms(utc(2026, 3, 3, 5, 59))


def test_manual_create_is_refused_in_the_last_minute_before_the_next_start() -> None:
    with pytest.raises(FailedPrecondition, match="too late"):
        manual_end_time_ms(window(), utc(2026, 3, 3, 5, 59, 30))


def test_manual_end_without_ttl_or_window() -> None:
    assert manual_end_time_ms(window(context_ttl_milliseconds=0), utc(2026, 3, 2, 15)) == 0
    now = utc(2026, 3, 2, 15)
    assert manual_end_time_ms(window(time_window_start=""), now) == epoch_ms(now) + 8 * HOUR


async def test_manual_create_checks(engine: Engine, clock: ManualClock) -> None:
    w = await started(engine, clock, plan())
    clock.set(utc(2026, 3, 2, 3, 0))
    iid = await w.lc.create_manual("daily", actor="ops", parameters=(("x", "1"),))
    row = next(r for r in w.live() if r.id == iid)
    assert row.created_by == "ops" and row.start_time == epoch_ms(clock.now())
    # previous window start (03-01 06:00) + 8 h is past: min(now + 8 h, next start - 1 min)
    assert row.projected_end_time == epoch_ms(utc(2026, 3, 2, 5, 59))
    assert w.lc.has_end_timer(iid)
    with pytest.raises(FailedPrecondition, match="not able to run concurrently"):
        await w.lc.create_manual("daily", actor="ops")


async def test_manual_create_in_a_blackout(engine: Engine, clock: ManualClock) -> None:
    now = epoch_ms(clock.now())
    w = await started(
        engine,
        clock,
        plan(blackout_ranges=[(now - HOUR, now + HOUR)], able_to_run_concurrently=True),
    )
    with pytest.raises(FailedPrecondition, match="blackout"):
        await w.lc.create_manual("daily", actor="ops")
    assert await w.lc.create_manual("daily", actor="ops", ignore_blackout=True)


async def test_reset_ends_the_old_instance_and_creates_a_new_one(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (old,) = w.live()
    new_id = await w.lc.reset_instance(old.id, actor="ops", hold_command_jobs=True)
    (new,) = w.live()
    assert new.id == new_id and new.reset_from == old.id
    assert [(e.instance_id, e.kill_running_jobs) for e in w.orch.ended] == [(old.id, True)]
    assert all(js.held for js in w.orch.live[new_id].state.jobs.values())


def test_one_shot_trigger_fires_once() -> None:
    at = epoch_ms(utc(2026, 3, 2, 14, 0, 0)) + 250
    trig = one_shot_trigger(at)
    assert trig.next_fire_times(utc(2026, 1, 1), 3) == [utc(2026, 3, 2, 14, 0, 1)]
    assert end_job_id("x") == "end:x"


async def test_clearing_run_until_manually_ended_rearms_the_end(
    engine: Engine, clock: ManualClock
) -> None:
    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (live,) = w.live()
    await w.orch.apply(live.id, RunUntilManuallyEnded(True, actor="ops"))
    await w.timers.advance_to(utc(2026, 3, 2, 15, 0))  # the end timer fired and was skipped
    assert not w.lc.has_end_timer(live.id) and w.orch.ended == []
    await w.orch.apply(live.id, RunUntilManuallyEnded(False, actor="ops"))
    await w.lc.run_until_manually_ended_changed(live.id, False)
    assert w.lc.has_end_timer(live.id)
    await w.timers.advance_to(utc(2026, 3, 2, 15, 0, 2))
    assert [(e.instance_id, e.actor) for e in w.orch.ended] == [(live.id, "ttl")]


async def test_a_late_end_timer_still_ends(engine: Engine, clock: ManualClock) -> None:
    from ikasched_common.dispatch import Fire

    w = await started(engine, clock, plan())
    await w.timers.advance_to(utc(2026, 3, 2, 7, 0))
    (live,) = w.live()
    clock.set(utc(2026, 3, 2, 20, 0))
    await w.lc.on_misfire(Fire(end_job_id(live.id), utc(2026, 3, 2, 14, 0), clock.now()))
    assert [(e.instance_id, e.actor) for e in w.orch.ended] == [(live.id, "ttl")]
