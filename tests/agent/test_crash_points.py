"""An agent SIGKILLed at each point of a job's start and end (the wrapper's test hook holds the
wrapper there), then recovered: never two processes for one initiation, never a silent loss.

The only acceptable outcomes are the job's real exit code, reported once, or an ERROR
"exit status unknown" when the wrapper died where nothing can be known.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ikasched.v1 import events_pb2
from ikasched_agent import runs
from ikasched_agent.executor import Disposition
from ikasched_agent.runs import RunPaths, RunState
from ikasched_agent.wrapper import STOP_AT_ENV, STOP_POINTS

from .conftest import MakeInitiation
from .support import kill_group_quietly, lines, open_executor, process_gone, wait_until

HOST = Path(__file__).with_name("exec_host.py")
ProcessEvent = events_pb2.ContextualisedScheduledProcessEvent


def read_events(path: Path) -> list[ProcessEvent]:
    return [ProcessEvent.FromString(base64.b64decode(line)) for line in lines(path)]


def is_stopped(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] == b"T"


@pytest.fixture
def wrappers() -> Iterator[list[int]]:
    """Wrapper pids a test held; whatever happens, their groups end with it."""
    held: list[int] = []
    yield held
    for pid in held:
        kill_group_quietly(pid)  # a stopped process dies of SIGKILL too


async def crash_host_at(
    point: str, init: events_pb2.SchedulerJobInitiationEvent, data_dir: Path, tmp_path: Path
) -> int:
    """Run `init` in a host whose wrapper stops at `point`, SIGKILL the host once it has;
    returns the (stopped) wrapper's pid."""
    inits_file, events_file = tmp_path / "inits", tmp_path / "events"
    inits_file.write_text(base64.b64encode(init.SerializeToString()).decode() + "\n")
    host = subprocess.Popen(
        [sys.executable, str(HOST), str(data_dir), str(inits_file), str(events_file), point]
    )
    try:
        await wait_until(lambda: len(read_events(events_file)) >= 1, timeout=20)
        pid = read_events(events_file)[0].pid
        await wait_until(lambda: is_stopped(pid), timeout=20)
    finally:
        host.send_signal(signal.SIGKILL)
        host.wait()
    return pid


# What the run directory says once the wrapper is held at each point.
EXPECTED_STATE = {
    "spawned": RunState.NOT_CLAIMED,
    "claimed": RunState.RUNNING,  # found among the processes: the claim has no identity yet
    "recorded": RunState.RUNNING,
    "ended": RunState.RUNNING,
}


@pytest.mark.parametrize("point", STOP_POINTS)
async def test_wrapper_resumed_after_the_agent_died(
    point: str,
    data_dir: Path,
    make_initiation: MakeInitiation,
    tmp_path: Path,
    wrappers: list[int],
) -> None:
    count = tmp_path / "count"
    init = make_initiation("held", f"echo run >> {count}; exit 4")
    held = await crash_host_at(point, init, data_dir, tmp_path)
    wrappers.append(held)
    paths = RunPaths.of(data_dir, "held")
    found = runs.inspect(paths)
    assert found.state is EXPECTED_STATE[point]
    if found.state is RunState.RUNNING:
        assert found.pid is not None and found.pid.pid == held

    async with open_executor(data_dir) as (ex, rec):
        outcome = await ex.recover([init])
        expected = Disposition.STARTED if point == "spawned" else Disposition.REATTACHED
        assert outcome == {"held": expected}
        os.kill(held, signal.SIGCONT)  # the held wrapper goes on (it loses a claim it lacks)
        await rec.wait_completed("held")
        await wait_until(lambda: process_gone(held))
        await ex.drain()
    done = rec.completions()["held"]
    assert (done.return_code, done.successful, done.outcome_reason) == (4, False, "")
    assert [e.id for e in rec.events if not e.job_starting] == ["held:completed"]
    assert lines(count) == ["run"]
    if point != "spawned":
        assert done.pid == held  # re-attached by pid and start time, not restarted


# Killed while held: what the job did before, and what the recovery can tell.
RUNS_BEFORE = {"spawned": 0, "claimed": 0, "recorded": 0, "ended": 1}


@pytest.mark.parametrize("point", STOP_POINTS)
async def test_wrapper_killed_with_the_agent(
    point: str,
    data_dir: Path,
    make_initiation: MakeInitiation,
    tmp_path: Path,
    wrappers: list[int],
) -> None:
    count = tmp_path / "count"
    init = make_initiation("doomed", f"echo run >> {count}; exit 4")
    held = await crash_host_at(point, init, data_dir, tmp_path)
    wrappers.append(held)
    os.killpg(held, signal.SIGKILL)
    await wait_until(lambda: process_gone(held))
    assert len(lines(count)) == RUNS_BEFORE[point]

    async with open_executor(data_dir) as (ex, rec):
        outcome = await ex.recover([init])
        await rec.wait_completed("doomed")
        await ex.drain()
    done = rec.completions()["doomed"]
    assert [e.id for e in rec.events if not e.job_starting] == ["doomed:completed"]
    if point == "spawned":
        # Nothing was claimed: the job had not started, so it starts now, once.
        assert outcome == {"doomed": Disposition.STARTED}
        assert (done.return_code, done.outcome_reason) == (4, "")
        assert lines(count) == ["run"]
    else:
        # Claimed, then gone without an exit code: reported, never re-run.
        assert outcome == {"doomed": Disposition.REPORTED_UNKNOWN}
        assert not done.successful and done.outcome_reason == (
            "exit status unknown: the job ended while no agent watched it"
        )
        assert len(lines(count)) == RUNS_BEFORE[point]


async def test_held_wrapper_wins_the_claim_over_the_recovery(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path, wrappers: list[int]
) -> None:
    """The recovery starts a wrapper for an unclaimed run while the earlier agent's wrapper is
    held before its claim; that one claims first. The recovery's wrapper exits without
    running anything, and the executor watches the one that runs the job."""
    count, gate = tmp_path / "count", tmp_path / "gate"
    init = make_initiation(
        "contested", f"echo run >> {count}; while [ ! -e {gate} ]; do sleep 0.02; done; exit 6"
    )
    first = await crash_host_at("spawned", init, data_dir, tmp_path)
    wrappers.append(first)
    paths = RunPaths.of(data_dir, "contested")
    try:
        async with open_executor(
            data_dir, base_env={"PATH": os.environ["PATH"], STOP_AT_ENV: "spawned"}
        ) as (
            ex,
            rec,
        ):
            assert await ex.recover([init]) == {"contested": Disposition.STARTED}
            await rec.wait_for(lambda evs: any(e.job_starting for e in evs))
            second = rec.events[0].pid
            wrappers.append(second)
            await wait_until(lambda: is_stopped(second))
            os.kill(first, signal.SIGCONT)
            await wait_until(lambda: lines(count) == ["run"])
            os.kill(second, signal.SIGCONT)  # finds the claim taken: exits 75
            await wait_until(lambda: process_gone(second))
            assert ex.running() == ["contested"]
            record = runs.read_pid(paths)
            assert record is not None and record.pid == first
            gate.touch()
            await rec.wait_completed("contested")
            await ex.drain()
    finally:
        gate.touch()
    done = rec.completions()["contested"]
    assert (done.return_code, done.pid, done.outcome_reason) == (6, first, "")
    assert lines(count) == ["run"]


async def test_a_job_parameter_cannot_set_the_hook(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    init = make_initiation(
        "plain", 'echo "${IKASCHED_TEST_STOP_AT-unset}"', parameters={STOP_AT_ENV: "spawned"}
    )
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(init)
        await rec.wait_completed("plain")
    done = rec.completions()["plain"]
    assert done.successful and lines(Path(done.result_output)) == ["unset"]


async def test_run_that_ended_while_no_agent_watched_reports_its_true_start_and_end(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path, wrappers: list[int]
) -> None:
    """The agent dies right after the spawn, before its starting event is journaled; the job
    ends while no agent runs. The recovery reports the start (pid, process start time) and
    then the end at the time the wrapper recorded it, not the restart's time."""
    count = tmp_path / "count"
    init = make_initiation("lost-start", f"echo run >> {count}; exit 0")
    held = await crash_host_at("recorded", init, data_dir, tmp_path)
    wrappers.append(held)
    os.kill(held, signal.SIGCONT)  # the job runs and ends with the agent gone
    await wait_until(lambda: process_gone(held))
    paths = RunPaths.of(data_dir, "lost-start")
    assert runs.inspect(paths).state is RunState.FINISHED
    ended_ms = os.stat(paths.claim).st_mtime_ns // 1_000_000
    await asyncio.sleep(0.3)  # the restart comes visibly later than the end
    restart_ms = int(time.time() * 1000)

    async with open_executor(data_dir) as (ex, rec):
        outcome = await ex.recover([init])
        await rec.wait_completed("lost-start")
        await ex.drain()
    assert outcome == {"lost-start": Disposition.REPORTED_FINISHED}
    assert [e.id for e in rec.events] == ["lost-start:starting", "lost-start:completed"]
    start, done = rec.events
    assert start.job_starting and start.pid == held
    assert 0 < start.fire_time <= ended_ms
    assert start.process_start_time == start.fire_time
    assert done.successful and done.return_code == 0 and done.pid == held
    assert done.completion_time == ended_ms < restart_ms
    assert lines(count) == ["run"]
