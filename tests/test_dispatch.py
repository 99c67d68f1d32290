"""Dispatch: clocks, pure catch-up, the APScheduler trigger adapter, and the Dispatcher on a real
asyncio loop (cron every second, a few seconds at most) with misfire detection."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from ikasched_common.clock import ManualClock, SystemClock
from ikasched_common.dispatch import Dispatcher, Fire, QuartzTrigger, catch_up
from ikasched_common.errors import AlreadyExists, InvalidArgument, NotFound
from ikasched_common.quartz import CronTrigger

pytestmark = pytest.mark.timeout(60)


def U(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


EVERY_SECOND = CronTrigger("* * * * * ?")


# ------------------------------------------------------------------ clocks


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(U(2026, 1, 1))
    assert clock.now() == U(2026, 1, 1)
    assert clock.advance(timedelta(minutes=5)) == U(2026, 1, 1, 0, 5)
    assert clock.now() == U(2026, 1, 1, 0, 5)
    clock.set(datetime(2026, 1, 1, 3, tzinfo=ZoneInfo("Europe/Paris")))  # 02:00 UTC
    assert clock.now() == U(2026, 1, 1, 2)
    assert clock.now().tzinfo is UTC
    with pytest.raises(InvalidArgument):
        clock.set(datetime(2026, 1, 1))
    with pytest.raises(InvalidArgument):
        ManualClock(datetime(2026, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)


# ------------------------------------------------------------------ pure catch-up


def test_catch_up_splits_late_from_missed_by_grace() -> None:
    hourly = CronTrigger("0 0 * * * ?")
    result = catch_up(hourly, U(2026, 1, 1, 0), U(2026, 1, 1, 5, 30), timedelta(hours=2))
    assert result.late == (U(2026, 1, 1, 4), U(2026, 1, 1, 5))
    assert result.missed == (U(2026, 1, 1, 1), U(2026, 1, 1, 2), U(2026, 1, 1, 3))
    assert not result.truncated


def test_catch_up_limit_keeps_the_latest_fires() -> None:
    hourly = CronTrigger("0 0 * * * ?")
    result = catch_up(hourly, U(2026, 1, 1, 0), U(2026, 1, 1, 5, 30), timedelta(hours=2), limit=2)
    assert result.late == (U(2026, 1, 1, 4), U(2026, 1, 1, 5))
    assert result.missed == ()
    assert result.truncated
    nothing = catch_up(hourly, U(2026, 1, 1, 5), U(2026, 1, 1, 5, 30), timedelta(0))
    assert (nothing.late, nothing.missed) == ((), ())
    with pytest.raises(InvalidArgument):
        catch_up(hourly, U(2026, 1, 1), U(2026, 1, 2), timedelta(0), limit=0)


def test_catch_up_is_inclusive_of_now() -> None:
    daily = CronTrigger("0 0 1 ? * *", "Europe/London")
    result = catch_up(daily, U(2026, 1, 1, 1), U(2026, 1, 2, 1), timedelta(0))
    assert result.late == (U(2026, 1, 2, 1),)


# ------------------------------------------------------------------ APScheduler adapter


def test_adapter_first_fire_is_at_or_after_now_then_strictly_after_previous() -> None:
    adapter = QuartzTrigger(CronTrigger("0 0 12 * * ?"))
    assert adapter.get_next_fire_time(None, U(2026, 1, 1, 12)) == U(2026, 1, 1, 12)
    assert adapter.get_next_fire_time(None, U(2026, 1, 1, 12, 0, 1)) == U(2026, 1, 2, 12)
    assert adapter.get_next_fire_time(U(2026, 1, 1, 12), U(2026, 1, 5)) == U(2026, 1, 2, 12)
    ended = QuartzTrigger(CronTrigger("0 0 0 1 1 ? 2027"))
    assert ended.get_next_fire_time(None, U(2027, 6, 1)) is None
    assert "0 0 12 * * ?" in str(adapter)


# ------------------------------------------------------------------ Dispatcher on a real loop


def test_dispatcher_fires_every_second_with_scheduled_and_actual_times() -> None:
    fired: list[Fire] = []
    misfired: list[Fire] = []

    async def on_fire(fire: Fire) -> None:  # coroutine callbacks are awaited
        await asyncio.sleep(0)
        fired.append(fire)

    async def scenario() -> datetime | None:
        dispatcher = Dispatcher(misfired.append, misfire_grace=timedelta(seconds=5))
        dispatcher.start()
        first = dispatcher.add_job("tick", EVERY_SECOND, on_fire)
        await asyncio.sleep(2.6)
        await dispatcher.close()
        return first

    first = asyncio.run(scenario())
    assert misfired == []
    assert len(fired) >= 2
    assert fired[0].scheduled == first
    assert all(f.job_id == "tick" for f in fired)
    assert all(f.scheduled.microsecond == 0 and f.scheduled.tzinfo is UTC for f in fired)
    assert all(f.actual >= f.scheduled for f in fired)
    # consecutive seconds, none skipped and none doubled
    assert [(b.scheduled - a.scheduled) for a, b in pairwise(fired)] == (
        [timedelta(seconds=1)] * (len(fired) - 1)
    )


def test_misfire_detected_against_a_controllable_clock() -> None:
    fired: list[Fire] = []
    misfired: list[Fire] = []
    clock = ManualClock(datetime.now(UTC) + timedelta(hours=1))  # everything looks an hour late

    async def scenario() -> None:
        dispatcher = Dispatcher(misfired.append, clock=clock, misfire_grace=timedelta(seconds=30))
        dispatcher.start()
        dispatcher.add_job("late", EVERY_SECOND, fired.append)
        await asyncio.sleep(1.6)
        await dispatcher.close()

    asyncio.run(scenario())
    assert fired == []
    assert len(misfired) >= 1
    assert all(f.actual == clock.now() and f.lateness > timedelta(minutes=59) for f in misfired)


def test_misfire_detected_when_the_loop_is_blocked_and_nothing_is_dropped() -> None:
    fired: list[Fire] = []
    misfired: list[Fire] = []

    async def scenario() -> None:
        dispatcher = Dispatcher(misfired.append, misfire_grace=timedelta(milliseconds=500))
        dispatcher.start()
        dispatcher.add_job("blocked", EVERY_SECOND, fired.append)
        while not fired:  # wait for one on-time fire, then hold the loop
            await asyncio.sleep(0.05)
        time.sleep(2.3)
        await asyncio.sleep(1.2)
        await dispatcher.close()

    asyncio.run(scenario())
    assert misfired, "a fire more than 0.5 s late must reach on_misfire"
    assert all(f.lateness > timedelta(milliseconds=500) for f in misfired)
    assert all(f.lateness <= timedelta(milliseconds=500) for f in fired)
    # every scheduled second from the first to the last was handed to one side or the other
    seconds = sorted(f.scheduled for f in fired + misfired)
    assert [(b - a) for a, b in pairwise(seconds)] == [timedelta(seconds=1)] * (len(seconds) - 1)


def test_callback_errors_are_logged_and_dispatch_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[Fire] = []

    def failing(fire: Fire) -> None:
        calls.append(fire)
        raise RuntimeError("boom")

    async def scenario() -> None:
        dispatcher = Dispatcher(lambda fire: None, misfire_grace=timedelta(seconds=5))
        dispatcher.start()
        dispatcher.add_job("fails", EVERY_SECOND, failing)
        await asyncio.sleep(2.3)
        await dispatcher.close()

    with caplog.at_level("ERROR"):
        asyncio.run(scenario())
    assert len(calls) >= 2
    assert "dispatch callback failed for fails" in caplog.text


def test_job_management() -> None:
    async def scenario() -> None:
        dispatcher = Dispatcher(lambda fire: None)
        dispatcher.start()
        daily = CronTrigger("0 0 12 * * ?", "America/New_York")
        first = dispatcher.add_job("daily", daily, lambda fire: None)
        assert first == daily.next_fire_time(datetime.now(UTC) - timedelta(microseconds=1))
        assert dispatcher.next_fire_time("daily") == first
        assert dispatcher.job_ids() == ["daily"]
        with pytest.raises(AlreadyExists):
            dispatcher.add_job("daily", daily, lambda fire: None)
        with pytest.raises(InvalidArgument):
            dispatcher.add_job("x", daily, lambda fire: None, misfire_grace=timedelta(-1))
        dispatcher.remove_job("daily")
        assert dispatcher.job_ids() == []
        with pytest.raises(NotFound):
            dispatcher.remove_job("daily")
        with pytest.raises(NotFound):
            dispatcher.next_fire_time("daily")
        assert dispatcher.running
        dispatcher.shutdown()
        assert not dispatcher.running

    asyncio.run(scenario())
    with pytest.raises(InvalidArgument):
        Dispatcher(lambda fire: None, misfire_grace=timedelta(seconds=-1))


def test_removing_a_one_shot_job_after_it_fired_is_quiet() -> None:
    fired: list[Fire] = []

    async def scenario() -> list[str]:
        dispatcher = Dispatcher(fired.append)
        dispatcher.start()
        soon = datetime.now(UTC) + timedelta(seconds=1)
        once = CronTrigger(
            f"{soon.second} {soon.minute} {soon.hour} {soon.day} {soon.month} ? {soon.year}"
        )
        dispatcher.add_job("once", once, fired.append)
        await asyncio.sleep(1.6)
        dispatcher.remove_job("once")  # APScheduler dropped it when it fired
        left = dispatcher.job_ids()
        await dispatcher.close()
        return left

    assert asyncio.run(scenario()) == []
    assert [f.job_id for f in fired] == ["once"]
