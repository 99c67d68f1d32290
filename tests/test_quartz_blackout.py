"""Blackout windows: cron seconds in the plan's zone and inclusive epoch-ms ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ikasched_common.blackout import Blackout, epoch_ms, from_epoch_ms
from ikasched_common.errors import InvalidArgument
from ikasched_common.quartz import CronSyntaxError, CronTrigger


def U(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


MS_2026 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR_MS = 3_600_000


def test_epoch_ms_round_trip() -> None:
    assert epoch_ms(U(2026, 1, 1)) == MS_2026
    assert epoch_ms(U(2026, 1, 1) + timedelta(microseconds=1500)) == MS_2026 + 1
    assert from_epoch_ms(MS_2026 + HOUR_MS) == U(2026, 1, 1, 1)
    with pytest.raises(InvalidArgument):
        epoch_ms(datetime(2026, 1, 1))


def test_cron_blackout_of_business_hours_in_the_plan_zone() -> None:
    blackout = Blackout(["* * 9-17 ? * MON-FRI"], {}, "Europe/London")
    assert blackout.contains(U(2026, 1, 5, 9, 0))  # Monday 09:00 GMT
    assert blackout.contains(U(2026, 1, 5, 17, 59, 59))  # Monday 17:59:59 GMT
    assert not blackout.contains(U(2026, 1, 5, 18, 0))  # 18:00 GMT
    assert not blackout.contains(U(2026, 1, 5, 8, 59, 59))
    assert not blackout.contains(U(2026, 1, 3, 10, 0))  # Saturday
    assert blackout.contains(U(2026, 6, 1, 8, 30))  # Monday 09:30 BST
    assert blackout.contains(U(2026, 6, 1, 16, 59, 59))  # 17:59:59 BST
    assert not blackout.contains(U(2026, 6, 1, 17, 0))  # 18:00 BST


def test_cron_blackout_matches_only_the_seconds_it_names() -> None:
    blackout = Blackout(["0 0 12 * * ?"])
    assert blackout.contains(U(2026, 1, 1, 12))
    assert blackout.contains(U(2026, 1, 1, 12) + timedelta(milliseconds=999))
    assert not blackout.contains(U(2026, 1, 1, 12, 0, 1))
    assert not blackout.contains(U(2026, 1, 1, 11, 59, 59))


def test_cron_blackout_covers_both_occurrences_of_a_repeated_wall_second() -> None:
    blackout = Blackout(["* 30 1 * * ?"], (), "Europe/London")
    assert blackout.contains(U(2026, 10, 25, 0, 30))  # 01:30 BST
    assert blackout.contains(U(2026, 10, 25, 1, 30))  # 01:30 GMT


def test_ranges_are_inclusive_epoch_ms() -> None:
    blackout = Blackout((), {MS_2026: MS_2026 + HOUR_MS})
    assert blackout.contains(U(2026, 1, 1))
    assert blackout.contains(U(2026, 1, 1, 1))
    assert not blackout.contains(U(2026, 1, 1, 1) + timedelta(milliseconds=1))
    assert not blackout.contains(U(2026, 1, 1) - timedelta(milliseconds=1))
    # Ikasan's per-job ranges arrive as epoch-ms strings; pairs work too
    assert Blackout((), {str(MS_2026): str(MS_2026 + 10)}).contains(U(2026, 1, 1))
    assert Blackout((), [(MS_2026, MS_2026)]).contains(U(2026, 1, 1))
    assert not Blackout()
    assert not Blackout().contains(U(2026, 1, 1))


def test_bad_blackouts_are_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidArgument) as err:
        Blackout((), {MS_2026 + 1: MS_2026})
    assert err.value.field == "blackout_window_date_time_ranges"
    with pytest.raises(InvalidArgument) as err:
        Blackout((), {"soon": "later"})
    assert err.value.field == "blackout_window_date_time_ranges"
    with pytest.raises(CronSyntaxError):
        Blackout(["0 0 0 * * *"])
    with pytest.raises(InvalidArgument) as err:
        Blackout((), (), "Atlantis/Capital")
    assert err.value.field == "timezone"


def test_next_allowed_fire_jumps_past_a_range() -> None:
    hourly = CronTrigger("0 0 * * * ?")
    blackout = Blackout((), {MS_2026 + 5 * HOUR_MS // 2: MS_2026 + 5 * HOUR_MS})  # 02:30-05:00
    assert blackout.next_allowed_fire(hourly, U(2026, 1, 1, 1, 30)) == U(2026, 1, 1, 2)
    # 03:00 and 04:00 are inside, 05:00 too (inclusive end)
    assert blackout.next_allowed_fire(hourly, U(2026, 1, 1, 2)) == U(2026, 1, 1, 6)


def test_next_allowed_fire_skips_cron_blackout_days() -> None:
    window = CronTrigger("0 0 1 ? * *", "Europe/London")
    weekend = Blackout(["* * * ? * SAT,SUN"], (), "Europe/London")
    # after Friday 2 Jan 2026's run the next allowed start is Monday 5 Jan 01:00 GMT
    assert weekend.next_allowed_fire(window, U(2026, 1, 2, 2)) == U(2026, 1, 5, 1)


def test_next_allowed_fire_gives_up_on_total_blackout() -> None:
    every_second = CronTrigger("* * * * * ?")
    assert (
        Blackout(["* * * * * ?"]).next_allowed_fire(every_second, U(2026, 1, 1), max_skips=50)
        is None
    )
    ended = CronTrigger("0 0 0 1 1 ? 2027")
    assert Blackout().next_allowed_fire(ended, U(2027, 6, 1)) is None


def test_blackout_is_also_offered_by_the_quartz_module() -> None:
    from ikasched_common import quartz

    assert quartz.Blackout is Blackout
    with pytest.raises(AttributeError):
        _ = quartz.NoSuchThing
