"""Arming end timers scales with the live instances: recovery arms one per live instance, and
each arm looks its timer up by id instead of listing every timer (a listing per arm made a
restart with 5,000 live instances quadratic in them; docs/benchmarks.md §4.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ikasched_common.blackout import epoch_ms
from ikasched_common.clock import ManualClock, SystemClock
from ikasched_common.dispatch import Dispatcher, Fire
from ikasched_dashboard.lifecycle_timers import LifecycleTimers
from ikasched_dashboard.lifecycle_windows import end_job_id

from .fakes import ManualTimers

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class CountingTimers(ManualTimers):
    """ManualTimers that count how often the whole timer list is asked for."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.listings = 0

    def job_ids(self) -> list[str]:
        self.listings += 1
        return super().job_ids()


async def _never(_f: Fire) -> None:
    raise AssertionError("no timer fires in these tests")


async def _on_end(_iid: str) -> None:
    return None


def test_arming_many_end_timers_never_lists_every_timer() -> None:
    clock = ManualClock(NOW)
    host = CountingTimers(clock)
    timers = LifecycleTimers(host, clock=clock, on_misfire=_never)
    end_ms = epoch_ms(NOW + timedelta(hours=1))
    for n in range(2000):
        timers.arm_end(f"i{n}", end_ms, _on_end)
    assert host.listings == 0
    assert len(host.jobs) == 2000
    assert host.next_fire(end_job_id("i1999")) == NOW + timedelta(hours=1)


def test_re_arming_replaces_the_timer_and_removing_an_absent_one_is_a_no_op() -> None:
    clock = ManualClock(NOW)
    host = CountingTimers(clock)
    timers = LifecycleTimers(host, clock=clock, on_misfire=_never)
    timers.arm_end("i1", epoch_ms(NOW + timedelta(hours=1)), _on_end)
    timers.arm_end("i1", epoch_ms(NOW + timedelta(hours=2)), _on_end)
    assert list(host.jobs) == [end_job_id("i1")]
    assert host.next_fire(end_job_id("i1")) == NOW + timedelta(hours=2)
    timers.remove(end_job_id("i1"))
    timers.remove(end_job_id("i1"))  # already gone: nothing to do, no error
    timers.remove(end_job_id("never-armed"))
    assert host.jobs == {}


async def test_re_arming_on_the_real_dispatcher_replaces_the_timer() -> None:
    dispatcher = Dispatcher(_never, clock=SystemClock())
    timers = LifecycleTimers(dispatcher, clock=SystemClock(), on_misfire=_never)
    soon = datetime.now(UTC) + timedelta(hours=1)
    timers.arm_end("i1", epoch_ms(soon), _on_end)
    timers.arm_end("i1", epoch_ms(soon + timedelta(hours=1)), _on_end)
    assert dispatcher.job_ids() == [end_job_id("i1")]
    timers.remove(end_job_id("i1"))
    timers.remove(end_job_id("i1"))
    assert dispatcher.job_ids() == []
