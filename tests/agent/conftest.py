"""Fixtures for the agent executor tests: real processes, an in-memory event harness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ikasched.v1 import events_pb2

MakeInitiation = Callable[..., events_pb2.SchedulerJobInitiationEvent]


def build_initiation(
    initiation_id: str,
    command_line: str,
    *,
    priority: int = 0,
    timeout_seconds: int = 0,
    working_directory: str = "",
    successful_return_codes: tuple[int, ...] = (),
    parameters: dict[str, str] | None = None,
    secret: tuple[str, ...] = (),
    days: tuple[int, ...] = (),
    run_as_user: str = "",
    skipped: bool = False,
    dry_run: bool = False,
) -> events_pb2.SchedulerJobInitiationEvent:
    init = events_pb2.SchedulerJobInitiationEvent(
        id=initiation_id,
        agent_name="agent1",
        job_name=f"job-{initiation_id}",
        job_identifier=f"agent1-job-{initiation_id}",
        context_name="plan1",
        context_instance_id="inst-1",
        priority=priority,
        skipped=skipped,
        dry_run=dry_run,
    )
    job = init.internal_event_driven_job
    job.command_line = command_line
    job.timeout_seconds = timeout_seconds
    job.working_directory = working_directory
    job.successful_return_codes.extend(successful_return_codes)
    job.days_of_week_to_run.extend(days)  # type: ignore[arg-type]
    job.run_as_user = run_as_user
    for name, value in (parameters or {}).items():
        init.context_parameters.add(name=name, value=value, secret=name in secret)
    return init


@pytest.fixture
def make_initiation() -> MakeInitiation:
    return build_initiation


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "agent-data"
    path.mkdir()
    yield path
