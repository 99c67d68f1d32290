"""File-arrival jobs on real directories (tmp_path)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from ikasched.v1 import agent_pb2
from ikasched_agent import filewatch
from ikasched_agent.filewatch import FileSeen, StabilityTracker
from ikasched_common.clock import ManualClock, SystemClock

from .support import (
    AGENT,
    BLACKOUT,
    INVOKED,
    PLAN,
    Recorder,
    activation,
    file_job,
    make_host,
    ms,
    utc,
)

START = utc(2026, 3, 2, 8)


def write(path: Path, data: bytes = b"x", mtime_offset: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_offset is not None:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + mtime_offset))
    return path


async def test_slowly_written_file_is_reported_once_stable(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    await host.provision(
        PLAN, [file_job("feed", inbox, ["*.csv"], cron="* * * * * ?", min_age=5)], "UTC"
    )
    await host.activate(activation("i1", START, ["feed"]))
    await host.tick()

    target = inbox / "data.csv"
    with open(target, "wb") as f:
        for part in range(3):  # each observation sees a new size: never stable yet
            f.write(b"row\n" * (part + 1))
            f.flush()
            os.utime(target, ns=(0, (part + 1) * 10**9))  # distinct mtimes, however fast
            clock.advance(timedelta(seconds=6))
            await host.tick()
            assert rec.events == []
            assert host.pending_files("i1", f"{AGENT}-feed") == [str(target)]
    clock.advance(timedelta(seconds=2))  # unchanged, but not yet for 5 s
    await host.tick()
    assert rec.events == []
    clock.advance(timedelta(seconds=4))
    await host.tick()
    [event] = rec.events
    assert list(event.matched_file_names) == [str(target)]
    assert event.outcome == INVOKED and event.successful and event.context_instance_id == "i1"
    clock.advance(timedelta(seconds=30))
    await host.tick()
    assert len(rec.events) == 1  # reported once


async def test_min_age_zero_reports_on_first_sight_and_rewrite_is_a_new_arrival(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "in"
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    await host.provision(PLAN, [file_job("feed", inbox, ["*"], log_names=True)], "UTC")
    await host.activate(activation("i1", START, ["feed"]))
    path = write(inbox / "a.txt", b"one")
    clock.advance(timedelta(hours=19))  # the daily 03:00 poll
    await host.tick()
    assert [list(e.matched_file_names) for e in rec.events] == [[str(path)]]
    assert str(path) in rec.events[0].execution_details
    write(inbox / "a.txt", b"one more", mtime_offset=10**9)
    clock.advance(timedelta(days=1))
    await host.tick()
    assert len(rec.events) == 2 and rec.events[0].id != rec.events[1].id


async def test_moved_when_configured(tmp_path: Path) -> None:
    inbox, done = tmp_path / "in", tmp_path / "done"
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    await host.provision(PLAN, [file_job("feed", inbox, ["*.dat"], move_to=done)], "UTC")
    write(inbox / "x.dat", b"payload")
    write(done / "x.dat", b"older")  # a name already taken in the target is not overwritten
    write(inbox / "keep.txt", b"not matched")
    await host.activate(activation("i1", START, ["feed"]))
    await host.tick()
    [event] = rec.events
    assert list(event.matched_file_names) == [str(inbox / "x.dat")]
    assert not (inbox / "x.dat").exists()
    assert (done / "x.dat").read_bytes() == b"older"
    assert (done / "x.dat.1").read_bytes() == b"payload"
    assert (inbox / "keep.txt").exists()


async def test_patterns_and_depth(tmp_path: Path) -> None:
    root = tmp_path / "root"
    files = {
        "top": write(root / "a.csv"),
        "top_other": write(root / "a.txt"),
        "level2": write(root / "sub" / "b.csv"),
        "level3": write(root / "sub" / "deeper" / "c.csv"),
        "upper": write(root / "D.CSV"),
    }
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    jobs = [
        file_job("flat", root, ["*.csv"], depth=0),
        file_job("two", root, ["*.csv"], depth=2),
        file_job("three", root, ["*.csv", "*.txt"], depth=3),
    ]
    await host.provision(PLAN, jobs, "UTC")
    await host.activate(activation("i1", START, ["flat", "two", "three"]))
    await host.tick()
    matched = {e.job_name: sorted(e.matched_file_names) for e in rec.events}
    assert matched["flat"] == [str(files["top"])]
    assert matched["two"] == sorted([str(files["top"]), str(files["level2"])])
    assert matched["three"] == sorted(
        str(files[k]) for k in ("top", "top_other", "level2", "level3")
    )


async def test_sort_by_modified_time(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    old = write(inbox / "b_old", mtime_offset=-100 * 10**9)
    new = write(inbox / "a_new")
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    jobs = [
        file_job("by_name", inbox, ["*"]),
        file_job("newest", inbox, ["*"], sort_by_mtime=True),
        file_job("oldest", inbox, ["*"], sort_by_mtime=True, ascending=True),
    ]
    await host.provision(PLAN, jobs, "UTC")
    await host.activate(activation("i1", START, ["by_name", "newest", "oldest"]))
    await host.tick()
    order = {e.job_name: list(e.matched_file_names) for e in rec.events}
    assert order["by_name"] == [str(new), str(old)]
    assert order["newest"] == [str(new), str(old)]
    assert order["oldest"] == [str(old), str(new)]


async def test_not_reported_twice_after_restart_but_per_instance(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    path = write(inbox / "f.csv")
    clock = ManualClock(START)
    jobs = [file_job("feed", inbox, ["*.csv"])]
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    await host.provision(PLAN, jobs, "UTC")
    act = activation("i1", START, ["feed"])
    await host.activate(act)
    await host.tick()
    assert len(rec.events) == 1

    rec2 = Recorder()
    host2 = make_host(rec2, clock, tmp_path / "state")  # agent restart
    await host2.provision(PLAN, jobs, "UTC")
    other = activation("i2", START, ["feed"])
    await host2.sync(agent_pb2.SyncInstances(instances=[act, other]))
    clock.advance(timedelta(days=1))
    await host2.tick()
    # i1 already reported this file; i2 is another instance and gets it once.
    assert [(e.context_instance_id, list(e.matched_file_names)) for e in rec2.events] == [
        ("i2", [str(path)])
    ]


async def test_replacement_pairs_from_instance_parameters(tmp_path: Path) -> None:
    inbox = tmp_path / "in" / "20260302"
    wanted = write(inbox / "trades_20260302.csv")
    write(inbox / "trades_20260301.csv")
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    job = file_job(
        "feed",
        tmp_path / "in" / "{DATE}",
        ["trades_{DATE}.csv"],
        replacements={"{DATE}": "BUSINESS_DATE"},
    )
    await host.provision(PLAN, [job], "UTC")
    await host.activate(activation("i1", START, ["feed"], parameters={"BUSINESS_DATE": "20260302"}))
    await host.tick()
    assert [list(e.matched_file_names) for e in rec.events] == [[str(wanted)]]


async def test_blackout_drops_or_reports_detection(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    write(inbox / "f.csv")
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    dark = (ms(START) - 1000, ms(START) + 1000)
    jobs = [
        file_job("dropper", inbox, ["*"], blackout_ranges=[dark], drop_on_blackout=True),
        file_job("reporter", inbox, ["*"], blackout_ranges=[dark]),
    ]
    await host.provision(PLAN, jobs, "UTC")
    await host.activate(activation("i1", START, ["dropper", "reporter"]))
    await host.tick()
    clock.advance(timedelta(days=1))
    await host.tick()
    assert [(e.job_name, e.outcome) for e in rec.events] == [("reporter", BLACKOUT)]


async def test_sla_overdue_alert(tmp_path: Path) -> None:
    clock = ManualClock(START)
    rec = Recorder()
    host = make_host(rec, clock, tmp_path / "state")
    late_dir, on_time_dir = tmp_path / "late", tmp_path / "ontime"
    jobs = [
        file_job("late", late_dir, ["*"], cron="0 0 * * * ?", sla="0 0 12 * * ?"),
        file_job("ontime", on_time_dir, ["*"], cron="0 0 * * * ?", sla="0 0 12 * * ?"),
    ]
    await host.provision(PLAN, jobs, "UTC")
    await host.activate(activation("i1", START, ["late", "ontime"]))
    await host.tick()
    clock.set(utc(2026, 3, 2, 10, 30))
    write(on_time_dir / "f")
    # A manual fire is not an arrival.
    await host.manual_fire(
        agent_pb2.ManualFire(context_instance_id="i1", job_identifier=f"{AGENT}-late")
    )
    clock.set(utc(2026, 3, 2, 11))  # the hourly poll finds the file
    await host.tick()
    assert [e.job_name for e in rec.events if not e.manual] == ["ontime"]
    assert rec.alerts == []
    clock.set(utc(2026, 3, 2, 12, 0, 1))
    await host.tick()
    overdue = [a for a in rec.alerts if a.type == agent_pb2.AgentAlert.ALERT_OVERDUE]
    assert [a.job_identifier for a in overdue] == [f"{AGENT}-late"]
    assert overdue[0].context_instance_id == "i1"
    assert overdue[0].time == ms(utc(2026, 3, 2, 12))
    clock.set(utc(2026, 3, 2, 13))
    await host.tick()
    assert len(rec.alerts) == 1  # one alert per SLA fire
    # The next day nothing arrived for either job: both are overdue.
    clock.set(utc(2026, 3, 3, 12, 0, 1))
    await host.tick()
    assert sorted(a.job_identifier for a in rec.alerts[1:]) == [
        f"{AGENT}-late",
        f"{AGENT}-ontime",
    ]


async def test_watchdog_detects_before_the_next_poll(tmp_path: Path) -> None:
    # The poll cron is once a day at 03:00; detection within the test proves the inotify path.
    inbox = tmp_path / "in"
    inbox.mkdir()
    rec = Recorder()
    host = make_host(rec, SystemClock(), tmp_path / "state")
    await host.provision(PLAN, [file_job("feed", inbox, ["*.csv"], cron="0 0 3 1 1 ? 2199")], "UTC")
    await host.activate(activation("i1", SystemClock().now(), ["feed"]))
    await host.start()
    try:
        await asyncio.sleep(0.05)
        assert rec.events == []
        path = write(inbox / "arrived.csv", b"data")
        await rec.wait_events(1)
    finally:
        await host.aclose()
    assert list(rec.events[0].matched_file_names) == [str(path)]
    next_poll = rec.events[0].next_fire_time
    assert next_poll >= ms(utc(2199, 1, 1))


async def test_watchdog_with_min_age_waits_for_stability(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    rec = Recorder()
    clock = SystemClock()
    host = make_host(rec, clock, tmp_path / "state")
    await host.provision(
        PLAN, [file_job("feed", inbox, ["*"], cron="0 0 3 1 1 ? 2199", min_age=1)], "UTC"
    )
    await host.activate(activation("i1", clock.now(), ["feed"]))
    await host.start()
    try:
        path = write(inbox / "slow.bin", b"a")
        await asyncio.sleep(0.3)
        with open(path, "ab") as f:
            f.write(b"b")
        final = path.stat()
        await rec.wait_events(1)
    finally:
        await host.aclose()
    [event] = rec.events
    assert list(event.matched_file_names) == [str(path)]
    # Reported with the final content: its key is the last (size, mtime) observed.
    assert final.st_size == 2


def test_stability_tracker_rules() -> None:
    t0 = START
    tracker = StabilityTracker(timedelta(seconds=10))
    a1 = FileSeen("/a", 1, 100)
    assert tracker.observe([a1], t0) == []
    assert tracker.recheck_at() == t0 + timedelta(seconds=10)
    assert tracker.observe([a1], t0 + timedelta(seconds=9)) == []
    a2 = FileSeen("/a", 2, 200)
    assert tracker.observe([a2], t0 + timedelta(seconds=11)) == []  # changed: clock restarts
    assert tracker.observe([a2], t0 + timedelta(seconds=21)) == [a2]
    tracker.mark_reported([a2])
    assert tracker.observe([a2], t0 + timedelta(seconds=40)) == []
    assert tracker.observe([], t0 + timedelta(seconds=41)) == [] and tracker.recheck_at() is None


def test_move_file_keeps_existing_targets(tmp_path: Path) -> None:
    src = write(tmp_path / "a" / "f.txt", b"1")
    dest = tmp_path / "b"
    write(dest / "f.txt", b"0")
    moved = filewatch.move_file(str(src), dest)
    assert moved == dest / "f.txt.1" and moved.read_bytes() == b"1" and not src.exists()
