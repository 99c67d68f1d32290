"""Run-directory records: parsing, classification, pid identity (no executor involved)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ikasched_agent import runs
from ikasched_agent.runs import PidRecord, RunPaths, RunState

from .support import lines, wait_until


def test_output_env_parsing() -> None:
    text = "a=1\n\n# note\nb = two words \r\nc==x\nnoequals\n=novalue\na=3\n"
    assert runs.parse_output_env(text) == {"a": "3", "b": " two words ", "c": "=x"}


def test_rc_must_be_a_complete_record(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    assert runs.read_rc(paths) is None
    paths.claim.write_text("")
    assert runs.read_rc(paths) is None
    paths.claim.write_text("1 2\nrc 12")  # no newline: the writer has not finished
    assert runs.read_rc(paths) is None
    paths.claim.write_text("1 2\nrc 12\n")
    assert runs.read_rc(paths) == 12
    paths.claim.write_text("1 2\nrc x\n")
    assert runs.read_rc(paths) is None


def test_ids_cannot_escape_the_runs_directory(tmp_path: Path) -> None:
    for bad in ("", ".", "..", "a/b", "a\0b", "x" * 300):
        with pytest.raises(ValueError):
            RunPaths.of(tmp_path, bad)
    assert RunPaths.of(tmp_path, "ok-1").root == tmp_path / "runs" / "ok-1"


def test_own_start_ticks_match_proc() -> None:
    ticks = runs.process_start_ticks(os.getpid())
    assert ticks is not None and ticks > 0
    assert runs.is_running(PidRecord(os.getpid(), ticks))
    assert not runs.is_running(PidRecord(os.getpid(), ticks + 1))  # a reused pid
    epoch_ms = runs.ticks_to_epoch_ms(ticks)
    assert 0 < epoch_ms <= time.time() * 1000 + 1000


def test_claim_records_parse_only_complete_lines(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    assert runs.read_claim(paths) is None
    paths.claim.write_text("")
    assert runs.read_claim(paths) == runs.ClaimRecord()
    paths.claim.write_text("12 345")  # the identity write has not finished
    assert runs.read_claim(paths) == runs.ClaimRecord()
    paths.claim.write_text("12 345\nrc 4")
    assert runs.read_claim(paths) == runs.ClaimRecord(PidRecord(12, 345), None)
    paths.claim.write_text("12 345\nrc 4\n")
    assert runs.read_claim(paths) == runs.ClaimRecord(PidRecord(12, 345), 4)
    assert runs.read_rc(paths) == 4 and runs.read_pid(paths) == PidRecord(12, 345)


def test_inspect_states(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "r")
    assert runs.inspect(paths).state is RunState.NOT_CLAIMED
    runs.write_script(paths, "true")
    assert runs.inspect(paths).state is RunState.NOT_CLAIMED
    paths.claim.touch()
    assert runs.inspect(paths).state is RunState.UNKNOWN  # claimed, no identity, no wrapper
    me = PidRecord(os.getpid(), runs.process_start_ticks(os.getpid()) or 0)
    paths.claim.write_text(f"{me.pid} {me.start_ticks + 7}\n")  # our pid, someone else's start
    assert runs.inspect(paths).state is RunState.UNKNOWN
    paths.claim.write_text(f"{me.pid} {me.start_ticks}\n")
    found = runs.inspect(paths)
    assert found.state is RunState.RUNNING and found.pid == me
    with open(paths.claim, "a") as f:
        f.write("rc 4\n")
    found = runs.inspect(paths)
    assert (found.state, found.return_code, found.pid) == (RunState.FINISHED, 4, me)
    runs.mark_reported(paths)
    runs.mark_reported(paths)  # idempotent
    assert runs.inspect(paths).state is RunState.REPORTED
    # `rc` and `reported` are the claim under other names: no inode was created for them.
    assert paths.rc.stat().st_ino == paths.reported.stat().st_ino == paths.claim.stat().st_ino
    assert runs.read_rc(paths) == 4


def test_hand_written_rc_file_is_read(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    paths.claim.touch()
    paths.rc.write_text("12")  # no newline: the writer has not finished
    assert runs.read_rc(paths) is None
    paths.rc.write_text("12\n")
    assert runs.read_rc(paths) == 12


def test_unclaimed_run_is_marked_with_a_plain_file(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    runs.mark_reported(paths)
    assert paths.reported.exists() and not paths.rc.exists()
    assert runs.inspect(paths).state is RunState.REPORTED


async def test_wrapper_run_by_hand_records_its_identity(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "manual")
    gate = tmp_path / "gate"
    runs.write_script(paths, f"while [ ! -e {gate} ]; do sleep 0.02; done; echo out; exit 6")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ikasched_agent.wrapper", str(paths.root), "--cwd", str(tmp_path)]
    )
    try:
        await wait_until(lambda: runs.read_pid(paths) is not None)
        record = runs.read_pid(paths)
        assert record is not None and record.pid == proc.pid  # python exec'd into the wrapper
        assert record.start_ticks == runs.process_start_ticks(proc.pid)
        assert runs.inspect(paths).state is RunState.RUNNING
    finally:
        gate.touch()
    assert proc.wait(timeout=30) == 6
    assert runs.read_rc(paths) == 6
    assert lines(paths.out_log) == ["out"]
