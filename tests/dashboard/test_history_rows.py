"""The history record and notification events a batch derives from a job's old and new rows:
a start and an end that arrive in one batch are both told (START then COMPLETE), a skip to
complete without a run is no run, and a reset is no start."""

from __future__ import annotations

from dataclasses import replace

from ikasched_dashboard.orchestrator.history_rows import ended_run, instance_event, job_events
from ikasched_dashboard.store.batches import RunFacts
from ikasched_dashboard.store.instances import InstanceRow, JobInstanceRow

INSTANCE = InstanceRow(id="i1", plan_name="p", plan_version=3, status="RUNNING", owner="ops")
WAITING = JobInstanceRow("i1", "", "a-one", "COMMAND", "WAITING", agent_name="a")


def test_a_start_and_an_end_in_one_batch_are_both_told() -> None:
    done = replace(WAITING, status="COMPLETE", start_time=1_000, end_time=1_700, attempts=1)
    run = ended_run(INSTANCE, WAITING, done, RunFacts(1_000, 1_700, 0, "", "h", b""))
    assert run is not None and run.duration_ms == 700 and run.plan_version == 3
    assert [e.kind for e in job_events(INSTANCE, WAITING, done, run)] == ["START", "COMPLETE"]
    running = replace(WAITING, status="RUNNING", start_time=1_000, attempts=1)
    assert [e.kind for e in job_events(INSTANCE, WAITING, running, None)] == ["START"]
    assert [e.kind for e in job_events(INSTANCE, running, done, run)] == ["COMPLETE"]


def test_a_skip_to_complete_and_a_reset_are_no_run_and_no_start() -> None:
    skipped = replace(WAITING, status="SKIPPED_COMPLETE", end_time=2_000)
    assert ended_run(INSTANCE, WAITING, skipped, RunFacts(end=2_000)) is None
    failed = replace(WAITING, status="ERROR", start_time=1_000, end_time=1_500, attempts=1)
    assert job_events(INSTANCE, failed, WAITING, None) == []


def test_an_instance_ends_once() -> None:
    complete = replace(INSTANCE, status="COMPLETE", end_time=5_000)
    event = instance_event(INSTANCE, complete)
    assert event is not None and event.kind == "INSTANCE_ENDED"
    assert instance_event(complete, replace(complete, status="ENDED")) is None
