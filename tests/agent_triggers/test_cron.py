"""Cron-scheduled jobs on the TriggerHost, driven by a ManualClock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ikasched.v1 import agent_pb2, events_pb2
from ikasched_agent.triggers import MANUAL_FIRE_GROUP, TriggerHost
from ikasched_common.clock import ManualClock
from ikasched_common.errors import NotFound

from .support import (
    AGENT,
    BLACKOUT,
    INVOKED,
    PLAN,
    Recorder,
    activation,
    cron_job,
    make_host,
    ms,
    step_to,
    utc,
)


async def test_fires_in_job_zone_across_spring_forward(tmp_path: Path) -> None:
    # Daily 01:30 London: GMT before 2026-03-29, the skipped hour fires at the jump, then BST.
    clock = ManualClock(utc(2026, 3, 27))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(
        PLAN, [cron_job("daily", "0 30 1 * * ?", time_zone="Europe/London")], "UTC"
    )
    await host.activate(activation("i1", utc(2026, 3, 27), ["daily"]))
    await step_to(clock, host, utc(2026, 3, 31))
    assert rec.fire_times() == [
        ms(utc(2026, 3, 27, 1, 30)),
        ms(utc(2026, 3, 28, 1, 30)),
        ms(utc(2026, 3, 29, 1, 0)),  # 01:30 does not exist: fired once, at 02:00 BST
        ms(utc(2026, 3, 30, 0, 30)),
    ]
    assert all(e.outcome == INVOKED and e.successful and not e.job_starting for e in rec.events)
    assert rec.events[0].next_fire_time == ms(utc(2026, 3, 28, 1, 30))
    assert len({e.id for e in rec.events}) == 4


async def test_plan_zone_used_when_job_has_none_and_fall_back_fires_once(tmp_path: Path) -> None:
    # Daily 01:30 in the plan's New York zone on 2026-11-01 (01:30 happens twice): fires once.
    clock = ManualClock(utc(2026, 10, 31))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("ny", "0 30 1 * * ?")], "America/New_York")
    await host.activate(activation("i1", utc(2026, 10, 31), ["ny"]))
    await step_to(clock, host, utc(2026, 11, 3))
    assert rec.fire_times() == [
        ms(utc(2026, 10, 31, 5, 30)),  # EDT
        ms(utc(2026, 11, 1, 5, 30)),  # first 01:30 (EDT); the repeat at 06:30 UTC does not fire
        ms(utc(2026, 11, 2, 6, 30)),  # EST
    ]


async def test_event_fields(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 1, 5, 9))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    job = cron_job("tick", "0 0 10 * * ?", passthrough={"K": "V"})
    await host.provision(PLAN, [job], "UTC")
    await host.activate(activation("inst-7", utc(2026, 1, 5, 9), ["tick"], children=["child-a"]))
    await step_to(clock, host, utc(2026, 1, 5, 10, 0, 1))
    [event] = rec.events
    assert event.context_instance_id == "inst-7"
    assert event.context_name == PLAN
    assert event.agent_name == AGENT and event.agent_hostname == "host1"
    assert event.job_name == "tick" and event.job_identifier == f"{AGENT}-tick"
    assert event.job_group == "grp"
    assert list(event.child_context_names) == ["child-a"]
    assert event.fire_time == ms(utc(2026, 1, 5, 10))
    assert event.next_fire_time == ms(utc(2026, 1, 6, 10))
    assert dict(event.job_execution_output_parameters) == {"K": "V"}
    assert not event.manual and not event.initiation_id


async def test_blackout_dropped_versus_reported(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 2, 1, 0, 30))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    window = (ms(utc(2026, 2, 1, 2)), ms(utc(2026, 2, 1, 3)))  # inclusive: 02:00 and 03:00
    jobs = [
        cron_job("dropper", "0 0 * * * ?", blackout_ranges=[window], drop_on_blackout=True),
        cron_job("reporter", "0 0 * * * ?", blackout_ranges=[window]),
        cron_job("crondark", "0 0 * * * ?", blackout_crons=["* * 1 ? * *"]),
    ]
    await host.provision(PLAN, jobs, "UTC")
    await host.activate(
        activation("i1", utc(2026, 2, 1, 0, 30), ["dropper", "reporter", "crondark"])
    )
    await step_to(clock, host, utc(2026, 2, 1, 4, 30))

    def fired(job: str) -> list[tuple[int, int]]:
        return [(e.fire_time, e.outcome) for e in rec.events if e.job_name == job]

    hours = [ms(utc(2026, 2, 1, h)) for h in range(1, 5)]
    assert fired("dropper") == [(hours[0], INVOKED), (hours[3], INVOKED)]
    assert fired("reporter") == [
        (hours[0], INVOKED),
        (hours[1], BLACKOUT),
        (hours[2], BLACKOUT),
        (hours[3], INVOKED),
    ]
    assert fired("crondark") == [
        (hours[0], BLACKOUT),
        (hours[1], INVOKED),
        (hours[2], INVOKED),
        (hours[3], INVOKED),
    ]
    assert all(e.successful for e in rec.events)


async def test_activation_catch_up_fires_exactly_once_also_after_restart(tmp_path: Path) -> None:
    # The instance starts 09:59; the agent hears of it at 10:02: the 10:00 fire is caught up.
    clock = ManualClock(utc(2026, 4, 1, 10, 2))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    jobs = [cron_job("ten", "0 0 10 * * ?")]
    act = activation("i1", utc(2026, 4, 1, 9, 59), ["ten"])
    await host.provision(PLAN, jobs, "UTC")
    await host.activate(act)
    assert rec.fire_times() == [ms(utc(2026, 4, 1, 10))]

    await host.activate(act)  # the dashboard re-sends it (e.g. on reconnect)
    await host.sync(agent_pb2.SyncInstances(instances=[act]))
    clock.advance(timedelta(minutes=1))
    await host.tick()
    assert len(rec.events) == 1

    # Agent restart: a new host on the same state directory, activated again by the sync.
    rec2 = Recorder()
    host2 = make_host(rec2, clock, tmp_path, fsync=True)
    await host2.provision(PLAN, jobs, "UTC")
    await host2.sync(agent_pb2.SyncInstances(instances=[act]))
    await host2.tick()
    assert rec2.events == []
    # ... and it keeps firing on schedule afterwards.
    await step_to(clock, host2, utc(2026, 4, 2, 10, 0, 1))
    assert rec2.fire_times() == [ms(utc(2026, 4, 2, 10))]


async def test_catch_up_only_within_grace_and_only_once(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 4, 1, 10, 20))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    jobs = [
        cron_job("late", "0 0 10 * * ?"),  # 20 min late > 300 s default grace
        cron_job("graceful", "0 0 10 * * ?", grace_seconds=3600),
        cron_job("minutely", "0 * * * * ?"),  # many fires missed: one catch-up fire
    ]
    await host.provision(PLAN, jobs, "UTC")
    await host.activate(activation("i1", utc(2026, 4, 1, 9, 30), ["late", "graceful", "minutely"]))
    by_job = {e.job_name: e.fire_time for e in rec.events}
    assert sorted(e.job_name for e in rec.events) == ["graceful", "minutely"]
    assert by_job["graceful"] == ms(utc(2026, 4, 1, 10))
    assert by_job["minutely"] == ms(utc(2026, 4, 1, 10, 20))
    misfires = [a for a in rec.alerts if a.type == agent_pb2.AgentAlert.ALERT_MISFIRE]
    assert {a.job_identifier for a in misfires} == {f"{AGENT}-late", f"{AGENT}-minutely"}


async def test_fire_before_instance_start_is_not_caught_up(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 4, 1, 10, 2))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("ten", "0 0 10 * * ?")], "UTC")
    await host.activate(activation("i1", utc(2026, 4, 1, 10, 1), ["ten"]))
    assert rec.events == []


async def test_no_fire_for_instances_the_agent_does_not_hold(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 5, 1))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("hourly", "0 0 * * * ?")], "UTC")
    await step_to(clock, host, utc(2026, 5, 1, 2, 30))
    assert rec.events == []  # provisioned, but no instance held

    await host.activate(activation("mine", utc(2026, 5, 1, 2, 30), ["hourly"]))
    # An instance of the plan that does not list the job on this agent gets no trigger.
    await host.activate(activation("other", utc(2026, 5, 1, 2, 30), []))
    await step_to(clock, host, utc(2026, 5, 1, 4, 30))
    assert {e.context_instance_id for e in rec.events} == {"mine"}
    assert rec.fire_times("mine") == [ms(utc(2026, 5, 1, 3)), ms(utc(2026, 5, 1, 4))]
    assert host.slots() == [("mine", f"{AGENT}-hourly")]


async def test_removal_and_sync_stop_fires(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 5, 1, 0, 30))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("hourly", "0 0 * * * ?")], "UTC")
    for name in ("a", "b", "c"):
        await host.activate(activation(name, utc(2026, 5, 1, 0, 30), ["hourly"]))
    await step_to(clock, host, utc(2026, 5, 1, 1, 30))
    assert sorted(e.context_instance_id for e in rec.events) == ["a", "b", "c"]

    await host.remove_instance("a")
    keep = activation("c", utc(2026, 5, 1), ["hourly"])
    await host.sync(agent_pb2.SyncInstances(instances=[keep]))  # b goes too
    rec.events.clear()
    await step_to(clock, host, utc(2026, 5, 1, 3, 30))
    assert [e.context_instance_id for e in rec.events] == ["c", "c"]
    assert host.held_instances() == ["c"]

    await host.remove_plan(PLAN)
    rec.events.clear()
    await step_to(clock, host, utc(2026, 5, 1, 6, 30))
    assert rec.events == [] and host.slots() == []


async def test_repeated_fires_each_produce_an_event(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 6, 1, 0, 0, 5))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("every10s", "*/10 * * * * ?")], "UTC")
    await host.activate(activation("i1", utc(2026, 6, 1, 0, 0, 5), ["every10s"]))
    await step_to(clock, host, utc(2026, 6, 1, 0, 1))
    assert rec.fire_times() == [ms(utc(2026, 6, 1, 0, 0, s)) for s in range(10, 60, 10)] + [
        ms(utc(2026, 6, 1, 0, 1))
    ]
    assert len({e.id for e in rec.events}) == 6


async def test_manual_fire(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 6, 1, 12))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("nightly", "0 0 2 * * ?")], "UTC")
    await host.activate(activation("i1", utc(2026, 6, 1, 12), ["nightly"]))
    request = agent_pb2.ManualFire(
        context_instance_id="i1",
        job_identifier=f"{AGENT}-nightly",
        user="ops",
        child_context_name="c2",
    )
    await host.manual_fire(request)
    await host.manual_fire(request)
    assert len(rec.events) == 2 and rec.events[0].id != rec.events[1].id
    event = rec.events[0]
    assert event.manual and event.job_group == MANUAL_FIRE_GROUP
    assert event.outcome == INVOKED and event.successful
    assert event.fire_time == ms(utc(2026, 6, 1, 12))
    assert event.context_instance_id == "i1" and list(event.child_context_names) == ["c2"]
    assert event.user == "ops"

    with pytest.raises(NotFound):
        await host.manual_fire(
            agent_pb2.ManualFire(context_instance_id="nope", job_identifier=f"{AGENT}-nightly")
        )


async def test_quartz_disabled_instance_gets_no_fires_but_manual_works(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 6, 1))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("hourly", "0 0 * * * ?")], "UTC")
    await host.activate(activation("off", utc(2026, 6, 1), ["hourly"], disabled=True))
    await host.activate(activation("on", utc(2026, 6, 1), ["hourly"]))
    await step_to(clock, host, utc(2026, 6, 1, 3, 30))
    assert {e.context_instance_id for e in rec.events} == {"on"}
    await host.manual_fire(
        agent_pb2.ManualFire(context_instance_id="off", job_identifier=f"{AGENT}-hourly")
    )
    assert rec.events[-1].context_instance_id == "off" and rec.events[-1].manual


async def test_days_of_week_in_job_zone(tmp_path: Path) -> None:
    # 23:30 UTC on Friday 2026-01-09 is already Saturday in Tokyo; only MON (2) and SAT (7).
    clock = ManualClock(utc(2026, 1, 4))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    job = cron_job("tokyo", "0 30 8 * * ?", time_zone="Asia/Tokyo", days=[2, 7])
    await host.provision(PLAN, [job], "UTC")
    await host.activate(activation("i1", utc(2026, 1, 4), ["tokyo"]))
    await step_to(clock, host, utc(2026, 1, 11))
    # 08:30 JST = 23:30 UTC the day before: Monday 5th JST and Saturday 10th JST.
    assert rec.fire_times() == [ms(utc(2026, 1, 4, 23, 30)), ms(utc(2026, 1, 9, 23, 30))]


async def test_provision_after_activation_and_reprovision(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 7, 1, 10, 1))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.activate(activation("i1", utc(2026, 7, 1, 9), ["job"]))
    assert host.slots() == []  # jobs not provisioned yet
    await host.provision(PLAN, [cron_job("job", "0 0 10 * * ?")], "UTC")
    assert rec.fire_times() == [ms(utc(2026, 7, 1, 10))]  # caught up on provisioning
    # A new cron replaces the trigger; the handled fire is not repeated.
    await host.provision(PLAN, [cron_job("job", "0 30 10 * * ?")], "UTC")
    await step_to(clock, host, utc(2026, 7, 1, 11))
    assert rec.fire_times() == [ms(utc(2026, 7, 1, 10)), ms(utc(2026, 7, 1, 10, 30))]


async def test_bad_cron_raises_an_alert_not_an_exception(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 7, 1))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(
        PLAN, [cron_job("bad", "not a cron"), cron_job("good", "0 0 1 * * ?")], "UTC"
    )
    await host.activate(activation("i1", utc(2026, 7, 1), ["bad", "good"]))
    assert host.slots() == [("i1", f"{AGENT}-good")]
    assert [a.type for a in rec.alerts] == [agent_pb2.AgentAlert.ALERT_ERROR]


async def test_background_loop_fires_on_real_time(tmp_path: Path) -> None:
    from ikasched_common.clock import SystemClock

    rec = Recorder()
    host = make_host(rec, SystemClock(), tmp_path)
    await host.provision(PLAN, [cron_job("persec", "* * * * * ?")], "UTC")
    now = SystemClock().now()
    await host.activate(activation("i1", now, ["persec"]))
    await host.start()
    try:
        await rec.wait_events(2)
    finally:
        await host.aclose()
    times = rec.fire_times()
    assert times == sorted(times) and len(set(times)) == len(times)


async def test_failed_emit_is_retried_with_the_same_event_id(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 8, 1, 0, 30))
    rec = Recorder()
    failures = [RuntimeError("outbox full")]

    async def flaky_emit(event: events_pb2.ContextualisedScheduledProcessEvent) -> None:
        if failures:
            raise failures.pop()
        await rec.emit(event)

    host = TriggerHost(AGENT, flaky_emit, clock, tmp_path, alert=rec.alert)
    await host.provision(PLAN, [cron_job("hourly", "0 0 * * * ?")], "UTC")
    await host.activate(activation("i1", utc(2026, 8, 1, 0, 30), ["hourly"]))
    clock.set(utc(2026, 8, 1, 1))
    await host.tick()
    assert rec.events == [] and failures == []
    retry_at = host.next_due()
    assert retry_at is not None and retry_at > utc(2026, 8, 1, 1)  # not spinning
    clock.set(retry_at)
    await host.tick()
    assert rec.fire_times() == [ms(utc(2026, 8, 1, 1))]


async def test_long_outage_and_missing_start_do_not_walk_every_fire(tmp_path: Path) -> None:
    # A per-second cron whose cursor is a year old: one misfire alert, one catch-up fire.
    clock = ManualClock(utc(2027, 1, 1))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("persec", "* * * * * ?", grace_seconds=2)], "UTC")
    await host.activate(activation("old", utc(2026, 1, 1), ["persec"]))
    assert rec.fire_times() == [ms(utc(2027, 1, 1))]
    [alert] = rec.alerts
    assert (
        alert.type == agent_pb2.AgentAlert.ALERT_MISFIRE and "2026-01-01T00:00:00" in alert.message
    )
    # No start time at all: nothing is caught up, the trigger fires from now on.
    rec.events.clear()
    clock.advance(timedelta(milliseconds=500))  # the 00:00:00 fire is 0.5 s old, in grace
    unknown = activation("nostart", utc(2026, 1, 1), ["persec"])
    unknown.start_time = 0
    await host.activate(unknown)
    assert rec.events == []
    clock.advance(timedelta(milliseconds=500))
    await host.tick()
    assert sorted(e.context_instance_id for e in rec.events) == ["nostart", "old"]
    assert {e.fire_time for e in rec.events} == {ms(utc(2027, 1, 1, 0, 0, 1))}


async def test_sync_forgets_state_of_instances_no_longer_live(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 8, 1, 10, 1))
    rec = Recorder()
    host = make_host(rec, clock, tmp_path)
    await host.provision(PLAN, [cron_job("ten", "0 0 10 * * ?")], "UTC")
    await host.activate(activation("gone", utc(2026, 8, 1, 9), ["ten"]))
    assert len(list((tmp_path / "triggers").glob("*.json"))) == 1
    host2 = make_host(Recorder(), clock, tmp_path)  # restart; the dashboard no longer has it
    await host2.sync(agent_pb2.SyncInstances())
    assert list((tmp_path / "triggers").glob("*.json")) == []
