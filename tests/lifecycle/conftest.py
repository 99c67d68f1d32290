"""Lifecycle fixtures: a migrated SQLite store per test (copied from one migrated template), a
ManualClock, manual timers and the fake orchestrator over the real engine."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ikasched_common.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
