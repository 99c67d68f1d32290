"""Under the agent's private umask the run directory's records and logs are 0600, while the
job itself runs with the umask the agent started with (docs/architecture.md §7.5)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ikasched_agent.runs import RunPaths
from ikasched_common import files

from .conftest import MakeInitiation
from .support import open_executor


@pytest.fixture
def private_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(files, "_started_with", 0o022)  # as if the agent started with 022
    before = os.umask(files.PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(before)


async def test_job_gets_its_umask_back_and_run_files_stay_private(
    data_dir: Path, make_initiation: MakeInitiation, private_umask: None
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("masks", 'echo "mask=$(umask)" >> "$IKASCHED_OUTPUT_FILE"'))
        await rec.wait_completed("masks")
    (done,) = rec.events[-1:]
    assert done.successful
    assert dict(done.job_execution_output_parameters) == {"mask": "0022"}
    paths = RunPaths.of(data_dir, "masks")
    for record in (paths.claim, paths.out_log, paths.err_log):
        assert stat.S_IMODE(record.stat().st_mode) == 0o600, record
