"""The one clock: where "now" comes from, for the dashboard, the agent and the CLI.

A `Clock` answers `now()` (an aware UTC datetime, for cron and calendar code) and `now_ms()`
(epoch milliseconds, for records and events). `SystemClock` reads the wall clock;
`ManualClock` moves only when told to, for tests of lifecycle, retry and cron code. Code that
needs the time takes a `Clock` (default `SYSTEM`); `now_ms()` here is the system clock's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from ikasched_common.errors import InvalidArgument

__all__ = ["SYSTEM", "Clock", "ManualClock", "SystemClock", "now", "now_ms"]


class Clock(Protocol):
    """Where "now" comes from."""

    def now(self) -> datetime:
        """Now, as an aware UTC datetime."""
        ...

    def now_ms(self) -> int:
        """Now, as epoch milliseconds."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_ms(self) -> int:
        return int(datetime.now(UTC).timestamp() * 1000)


class ManualClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start, "start")

    def now(self) -> datetime:
        return self._now

    def now_ms(self) -> int:
        return int(self._now.timestamp() * 1000)

    def set(self, at: datetime) -> None:
        self._now = _aware_utc(at, "at")

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


SYSTEM = SystemClock()


def now() -> datetime:
    """The system clock's now (aware UTC)."""
    return SYSTEM.now()


def now_ms() -> int:
    """The system clock's now in epoch milliseconds."""
    return SYSTEM.now_ms()


def _aware_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument("must be a timezone-aware datetime", field=name)
    return value.astimezone(UTC)
