"""The deliberate semantic differences between Ikasan and ikasched that touch an imported plan
(docs/semantics.md §12), as migration report warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.ikasan_format import Note, NoteKind


def _has_dst(name: str) -> bool:
    try:
        zone = ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name tzdata cannot open
        return False
    year = dt.datetime.now(dt.UTC).year
    offsets = {dt.datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
    return len(offsets) > 1


def _jobs(ctx: plan_pb2.Context) -> Iterator[plan_pb2.SchedulerJob]:
    yield from ctx.scheduled_jobs
    for child in ctx.contexts:
        yield from _jobs(child)


def semantic_notes(plan: plan_pb2.Context, source: str) -> list[Note]:
    """Warnings for the differences that apply to this plan."""
    notes: list[Note] = []

    def warn(path: str, text: str) -> None:
        notes.append(Note(NoteKind.WARNING, source, path, text))

    jobs = list(_jobs(plan))
    kinds = {j.WhichOneof("job_type") for j in jobs}
    timed = [
        j
        for j in jobs
        if j.WhichOneof("job_type") in ("quartz_schedule_driven_job", "file_event_driven_job")
    ]
    zones = {plan.timezone} | {
        getattr(j, j.WhichOneof("job_type") or "").time_zone or plan.timezone for j in timed
    }
    if (plan.time_window_start or timed) and any(_has_dst(z) for z in zones):
        warn(
            "timezone",
            "DST: a fixed-hour fire inside a spring-forward gap fires once when the gap ends "
            "(Ikasan's Quartz skips it); see docs/architecture.md §6.2",
        )
    if plan.time_window_start:
        warn(
            "timeWindowStart",
            "a window start missed while the dashboard is down is created late within "
            "misfireGraceSeconds (300 s) or recorded as a missed run (Ikasan loses it)",
        )
    if "internal_event_driven_job" in kinds:
        warn(
            "",
            "delivery: each job runs exactly once (no at-least-once re-delivery, no dead-letter "
            "retries); a failed job stays in ERROR until reset or resubmitted, as in Ikasan, "
            "unless you add a retry policy",
        )
    return notes
