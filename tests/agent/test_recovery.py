"""Exactly-once start across agent restarts (docs/architecture.md §4.6), with a real SIGKILLed
host."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ikasched.v1 import events_pb2
from ikasched_agent import runs
from ikasched_agent.executor import Disposition, Executor
from ikasched_agent.protocol import ProcessEventMessage
from ikasched_agent.runs import RunPaths, RunState
from ikasched_agent.wrapper import CLAIM_TAKEN_STATUS, wrapper_argv

from .conftest import MakeInitiation
from .support import (
    EventRecorder,
    kill_group_quietly,
    lines,
    open_executor,
    process_gone,
    wait_until,
)

HOST = Path(__file__).with_name("exec_host.py")


def read_events(path: Path) -> list[ProcessEventMessage]:
    return [
        events_pb2.ContextualisedScheduledProcessEvent.FromString(base64.b64decode(line))
        for line in lines(path)
    ]


def gated(name: str, tmp: Path, tail: str) -> str:
    """A job that counts its runs, then waits for the test to open its gate."""
    return (
        f"echo run >> {tmp / (name + '.count')}\n"
        f"while [ ! -e {tmp / (name + '.gate')} ]; do sleep 0.02; done\n{tail}\n"
    )


@pytest.fixture
def open_gates_at_end(tmp_path: Path) -> Iterator[None]:
    """Whatever happens in the test, gated jobs end with it."""
    yield
    for name in ("running", "finished", "vanished"):
        (tmp_path / f"{name}.gate").touch()


@pytest.mark.usefixtures("open_gates_at_end")
async def test_restart_after_sigkill_reattaches_reports_and_never_reruns(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    running = make_initiation("running", gated("running", tmp_path, "exit 5"))
    finished = make_initiation("finished", gated("finished", tmp_path, "exit 3"))
    vanished = make_initiation("vanished", gated("vanished", tmp_path, "exit 0"))
    journaled_only = make_initiation("fresh", f"echo run >> {tmp_path / 'fresh.count'}")
    first = (running, finished, vanished)
    inits_file, events_file = tmp_path / "inits", tmp_path / "events"
    inits_file.write_text(
        "".join(base64.b64encode(i.SerializeToString()).decode() + "\n" for i in first)
    )
    host = subprocess.Popen([sys.executable, str(HOST), str(data_dir), inits_file, events_file])
    try:
        await wait_until(lambda: len(read_events(events_file)) == 3, timeout=20)
    finally:
        host.send_signal(signal.SIGKILL)
        host.wait()
    pids = {e.initiation_id: e.pid for e in read_events(events_file)}
    assert all(e.job_starting for e in read_events(events_file))

    # While the agent is down: one job ends, one vanishes without a trace of its status.
    (tmp_path / "finished.gate").touch()
    await wait_until(lambda: runs.read_rc(RunPaths.of(data_dir, "finished")) is not None)
    kill_group_quietly(pids["vanished"])
    await wait_until(lambda: process_gone(pids["vanished"]))
    assert not process_gone(pids["running"])

    async with open_executor(data_dir) as (ex, rec):
        outcome = await ex.recover([running, finished, vanished, journaled_only])
        assert outcome == {
            "running": Disposition.REATTACHED,
            "finished": Disposition.REPORTED_FINISHED,
            "vanished": Disposition.REPORTED_UNKNOWN,
            "fresh": Disposition.STARTED,
        }
        await rec.wait_completed("finished", "vanished", "fresh")
        assert "running" not in rec.completions()
        assert ex.running() == ["running"]
        (tmp_path / "running.gate").touch()
        await rec.wait_completed("running")
        await ex.drain()
    done = rec.completions()
    assert (done["running"].return_code, done["running"].successful) == (5, False)
    assert done["running"].pid == pids["running"]
    assert (done["finished"].return_code, done["finished"].successful) == (3, False)
    assert done["finished"].outcome_reason == ""
    assert not done["vanished"].successful
    assert done["vanished"].outcome_reason == (
        "exit status unknown: the job ended while no agent watched it"
    )
    assert done["fresh"].successful
    assert sorted(e.id for e in rec.events) == sorted(
        [
            "running:starting",
            "running:completed",
            # ended (or vanished) while no agent watched: the start is reported again first,
            # in case the last agent died before journaling it (the same id: dropped if seen)
            "finished:starting",
            "finished:completed",
            "vanished:starting",
            "vanished:completed",
            "fresh:starting",
            "fresh:completed",
        ]
    )
    for name in ("running", "finished", "vanished", "fresh"):
        assert lines(tmp_path / f"{name}.count") == ["run"], name

    # A later restart finds everything reported: nothing runs, nothing is reported twice.
    async with open_executor(data_dir) as (ex2, rec2):
        again = await ex2.recover([running, finished, vanished, journaled_only])
        assert set(again.values()) == {Disposition.DUPLICATE}
        await ex2.drain()
    assert rec2.events == []
    for name in ("running", "finished", "vanished", "fresh"):
        assert lines(tmp_path / f"{name}.count") == ["run"], name


async def test_second_wrapper_never_runs_the_job_again(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    count = tmp_path / "count"
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("once", f"echo run >> {count}"))
        await rec.wait_completed("once")
    run_dir = data_dir / "runs/once"
    assert not (run_dir / "job.sh").exists()  # the command line travelled inline
    runs.write_script(RunPaths(run_dir), f"echo run >> {count}")  # an operator's second try
    rerun = subprocess.run(
        [sys.executable, "-m", "ikasched_agent.wrapper", str(run_dir)], timeout=30, check=False
    )
    assert rerun.returncode == CLAIM_TAKEN_STATUS
    assert lines(count) == ["run"]
    assert runs.read_rc(RunPaths(run_dir)) == 0


def test_racing_wrappers_run_the_job_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "race"
    paths = RunPaths(run_dir)
    count = tmp_path / "count"
    runs.write_script(paths, f"echo run >> {count}")
    env = {**os.environ, "IKASCHED_OUTPUT_FILE": str(paths.output_env)}
    procs = [subprocess.Popen(wrapper_argv(run_dir), env=env) for _ in range(8)]
    codes = sorted(p.wait(timeout=30) for p in procs)
    assert codes == [0] + [CLAIM_TAKEN_STATUS] * 7
    assert lines(count) == ["run"]
    assert runs.inspect(paths).state is RunState.FINISHED


async def test_completion_is_marked_reported_only_after_emit_returns(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    init = make_initiation("slow-outbox", "exit 0")
    gate = asyncio.Event()
    seen: list[ProcessEventMessage] = []

    async def stuck_emit(event: ProcessEventMessage) -> None:
        seen.append(event)
        if not event.job_starting:
            await gate.wait()  # the outbox never confirms: the agent "crashes" here

    ex = Executor(data_dir, emit=stuck_emit)
    await ex.submit(init)
    await wait_until(lambda: any(not e.job_starting for e in seen))
    assert not RunPaths.of(data_dir, "slow-outbox").reported.exists()
    # `ex` is abandoned with its emit hanging, as a crashed agent would leave it.

    # The next agent reports the same completion again, under the same event id.
    async with open_executor(data_dir) as (ex2, rec):
        assert await ex2.recover([init]) == {"slow-outbox": Disposition.REPORTED_FINISHED}
        await rec.wait_completed("slow-outbox")
        await ex2.drain()
    assert [e.id for e in rec.events] == ["slow-outbox:starting", "slow-outbox:completed"]
    assert rec.events[-1].id == seen[-1].id
    assert RunPaths.of(data_dir, "slow-outbox").reported.exists()


async def test_emit_failures_are_retried_before_marking(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    recorder = EventRecorder()
    failures = [2]

    async def flaky_emit(event: ProcessEventMessage) -> None:
        if not event.job_starting and failures[0] > 0:
            failures[0] -= 1
            raise OSError("outbox unavailable")
        await recorder(event)

    ex = Executor(data_dir, emit=flaky_emit)
    try:
        await ex.submit(make_initiation("flaky", "true"))
        await recorder.wait_completed("flaky")
        await ex.drain()
    finally:
        await ex.aclose()
    assert failures == [0]
    assert [e.id for e in recorder.events] == ["flaky:starting", "flaky:completed"]
    assert RunPaths.of(data_dir, "flaky").reported.exists()


async def test_reattached_job_can_be_killed(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    init = make_initiation("orphan", "sleep 30")
    inits_file, events_file = tmp_path / "inits", tmp_path / "events"
    inits_file.write_text(base64.b64encode(init.SerializeToString()).decode() + "\n")
    host = subprocess.Popen([sys.executable, str(HOST), str(data_dir), inits_file, events_file])
    try:
        await wait_until(lambda: len(read_events(events_file)) == 1, timeout=20)
    finally:
        host.send_signal(signal.SIGKILL)
        host.wait()
    pid = read_events(events_file)[0].pid
    try:
        async with open_executor(data_dir) as (ex, rec):
            assert await ex.recover([init]) == {"orphan": Disposition.REATTACHED}
            assert await ex.kill("orphan", reason="instance ended")
            await rec.wait_completed("orphan")
    finally:
        kill_group_quietly(pid)
    done = rec.completions()["orphan"]
    assert not done.successful and done.outcome_reason == "killed: instance ended"
    assert done.return_code == 128 + 15 and done.pid == pid
    await wait_until(lambda: process_gone(pid))
