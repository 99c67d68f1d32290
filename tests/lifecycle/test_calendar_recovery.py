"""Restart recovery of a plan on a calendar (docs/semantics.md §13.2, §9.6): the window
starts the calendar skips are neither created nor recorded as missed when the dashboard was
down over them; the first business day's start is created late within the grace."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine

from ikasched_common.blackout import epoch_ms, from_epoch_ms
from ikasched_common.calendars import calendar_document, parse_calendar
from ikasched_common.clock import ManualClock
from ikasched_dashboard.store import calendars as calendar_store
from ikasched_dashboard.store.db import write_transaction

from .test_lifecycle import plan, started


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def store_calendars(engine: Engine) -> None:
    docs = [
        {"name": "weekdays", "include": [{"weekdays": ["MON", "TUE", "WED", "THU", "FRI"]}]},
        {
            "name": "business",
            "include": [{"calendar": "weekdays"}],
            "exclude": [{"annual": ["12-25", "12-26"]}],
        },
    ]
    with write_transaction(engine) as conn:
        for doc in docs:
            definition = parse_calendar(doc)
            calendar_store.put_calendar(
                conn,
                json.dumps(calendar_document(definition), sort_keys=True),
                name=definition.name,
                description="",
                now=0,
                actor="test",
            )


async def test_down_over_the_holidays_misses_nothing_the_calendar_skips(
    engine: Engine, clock: ManualClock
) -> None:
    store_calendars(engine)
    clock.set(utc(2026, 12, 24, 12))
    w = await started(
        engine, clock, plan(calendar="business", calendar_shift="skip", misfire_grace_seconds=600)
    )
    (prepared,) = w.rows("PREPARED")
    assert from_epoch_ms(prepared.start_time) == utc(2026, 12, 28, 6)
    clock.set(utc(2026, 12, 28, 6, 5))  # down from Christmas Eve to Monday, 06:05
    w2, report = await w.restart()
    (late,) = report.created_late
    assert late.scheduled_ms == epoch_ms(utc(2026, 12, 28, 6))
    assert w2.missed() == []  # 25, 26 and 27 December were never window starts
    assert late.action == "activated" and late.instance_id == prepared.id
    (live,) = w2.live()
    assert live.projected_end_time == epoch_ms(utc(2026, 12, 28, 14))
    assert [from_epoch_ms(p.start_time) for p in w2.rows("PREPARED")] == [utc(2026, 12, 29, 6)]
    # the late start still tells why the holidays did not run
    assert sum("skipped by calendar business" in n for n in w2.notes()) == 3
