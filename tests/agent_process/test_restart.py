"""`ikasched agent run` as a real process: SIGKILL while jobs run, SIGKILL after the
inbox journaled initiations but before they were processed, SIGKILL again and again, SIGTERM
(graceful, exit 0, jobs keep running detached). Each job runs exactly once (side effects are
counted in files) and each completion reaches the dashboard once per outcome."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from ikasched.v1 import agent_pb2
from ikasched_agent.runs import RunPaths

from .support import (
    FakeDashboard,
    activate,
    activation,
    command_job,
    count_lines,
    initiation,
    provision,
    spawn_agent,
    wait_until,
)

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
Procs = list[subprocess.Popen[bytes]]


async def _kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> int:
    proc.send_signal(sig)
    return await asyncio.to_thread(proc.wait, 30)


async def _outbox_empty(dash: FakeDashboard) -> None:
    """Until the agent has journaled (and acked) everything the dashboard sent."""
    for _ in range(3000):
        if await dash.outbox_size() == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the agent never acknowledged the dashboard's messages")


def _connected(dash: FakeDashboard, times: int) -> Callable[[], bool]:
    return lambda: len(dash.hellos) >= times


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


async def test_sigkill_while_jobs_run_then_restart(tmp_path: Path, procs: Procs) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    job = command_job(
        "j",
        f"echo x >> {marks}/$IKASCHED_INITIATION_ID; echo out-$IKASCHED_INITIATION_ID;"
        " sleep 2; exit 5",
    )
    data = tmp_path / "agent"
    dash = FakeDashboard(tmp_path)
    port = await dash.start()
    try:
        procs.append(spawn_agent(data, port))
        ids = [f"k{i}" for i in range(6)]
        await dash.send(provision(job), activate("i1"), *[initiation(i, job) for i in ids])
        await wait_until(lambda: set(ids) <= set(dash.starts()))
        assert not dash.completions()
        assert await _kill(procs[-1]) == -signal.SIGKILL

        procs.append(spawn_agent(data, port))
        done = await dash.wait_completed(*ids)
        for i in ids:
            assert (done[i].return_code, done[i].successful) == (5, False), done[i]
            assert done[i].outcome_reason == ""
            assert count_lines(marks / i) == 1
            assert Path(done[i].result_output).read_text() == f"out-{i}\n"

        # the log of a run, over the lane (the agent's log server)
        request = agent_pb2.LogRequest(request_id="log1", initiation_id="k3")
        assert await dash.gateway.send_lane(
            "a1", agent_pb2.DashboardLaneMessage(log_request=request)
        )
        await wait_until(
            lambda: any(m.log_chunk.request_id == "log1" and m.log_chunk.eof for m in dash.lanes)
        )
        chunks = [m.log_chunk for m in dash.lanes if m.log_chunk.request_id == "log1"]
        assert b"".join(c.data for c in chunks) == b"out-k3\n"
        assert not chunks[-1].error
    finally:
        await dash.close()


async def test_sigkill_after_journaling_before_processing(tmp_path: Path, procs: Procs) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    job = command_job("j", f"echo x >> {marks}/$IKASCHED_INITIATION_ID")
    data = tmp_path / "agent"
    dash = FakeDashboard(tmp_path)
    port = await dash.start()
    try:
        procs.append(spawn_agent(data, port, module="tests.agent_process.held_agent"))
        ids = [f"h{i}" for i in range(10)]
        await dash.send(provision(job), activate("i1"), *[initiation(i, job) for i in ids])
        await _outbox_empty(dash)  # journaled by the agent, acknowledged, nothing run
        await asyncio.sleep(1.0)  # an agent that processed its inbox would have run them
        assert await _kill(procs[-1]) == -signal.SIGKILL
        assert not any(RunPaths.of(data, i).root.exists() for i in ids)
        assert not dash.events()

        procs.append(spawn_agent(data, port))
        done = await dash.wait_completed(*ids)
        assert all(done[i].successful for i in ids)
        assert all(count_lines(marks / i) == 1 for i in ids)
        # a redelivery of an initiation already run starts nothing
        await dash.send(initiation("h0", job))
        await dash.send(initiation("after", job))
        await dash.wait_completed("after")
        assert count_lines(marks / "h0") == 1
        assert [e.initiation_id for e in dash.events() if not e.job_starting].count("h0") == 1
    finally:
        await dash.close()


async def test_repeated_sigkills_each_job_runs_once(tmp_path: Path, procs: Procs) -> None:
    rng = random.Random(7)
    marks = tmp_path / "marks"
    marks.mkdir()
    job = command_job("j", f"echo x >> {marks}/$IKASCHED_INITIATION_ID; sleep 0.3")
    data = tmp_path / "agent"
    dash = FakeDashboard(tmp_path)
    port = await dash.start()
    rounds = 10 if LONG else 3
    ids = [f"r{i}" for i in range(60 if LONG else 24)]
    try:
        await dash.send(provision(job), activate("i1"))
        per_round = len(ids) // rounds
        for r in range(rounds):
            procs.append(spawn_agent(data, port, "--max-concurrent-jobs", "4"))
            await wait_until(_connected(dash, r + 1))
            await dash.send(*[initiation(i, job) for i in ids[r * per_round : (r + 1) * per_round]])
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            assert await _kill(procs[-1]) == -signal.SIGKILL
        procs.append(spawn_agent(data, port, "--max-concurrent-jobs", "4"))
        done = await dash.wait_completed(*ids, timeout=60)
        # every job ran once, and each completion is the real one (never "unknown")
        assert {i: count_lines(marks / i) for i in ids} == dict.fromkeys(ids, 1)
        assert all(done[i].successful and done[i].return_code == 0 for i in ids)
        # repeats of a completion can only come from replays, and carry the same event id
        completed_ids = [e.id for e in dash.events() if not e.job_starting]
        assert set(completed_ids) == {f"{i}:completed" for i in ids}
    finally:
        await dash.close()


async def test_sigterm_stops_gracefully_and_jobs_keep_running(tmp_path: Path, procs: Procs) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    gate = tmp_path / "gate"
    slow = command_job(
        "slow",
        f"echo x >> {marks}/$IKASCHED_INITIATION_ID; while [ ! -e {gate} ]; do sleep 0.05; done",
    )
    timer = command_job("timer", "true")
    timer.ClearField("internal_event_driven_job")
    timer.quartz_schedule_driven_job.cron_expression = "0 0 0 1 1 ? 2099"
    data = tmp_path / "agent"
    dash = FakeDashboard(tmp_path)
    port = await dash.start()
    try:
        procs.append(spawn_agent(data, port))
        act = activation("i1")
        act.job_identifiers.extend([slow.identifier, timer.identifier])
        await dash.send(
            provision(slow, timer),
            agent_pb2.DashboardMessage(id="act", activate_instance=act),
            initiation("s1", slow),
            agent_pb2.DashboardMessage(
                id="mf",
                manual_fire=agent_pb2.ManualFire(
                    context_instance_id="i1", job_identifier=timer.identifier, user="ops"
                ),
            ),
        )
        await wait_until(lambda: "s1" in dash.starts())
        # the trigger host answered the manual fire
        await wait_until(lambda: any(e.manual for e in dash.events()))
        fired = [e for e in dash.events() if e.manual]
        assert fired[0].job_identifier == timer.identifier and fired[0].user == "ops"
        await wait_until(lambda: any(s.running_jobs == 1 for s in dash.statuses()))

        assert await _kill(procs[-1], signal.SIGTERM) == 0
        pid = dash.starts()["s1"].pid
        assert _alive(pid), "the job must outlive a graceful agent stop"
        assert await dash.outbox_size() == 0
        gate.touch()
        await wait_until(lambda: not _alive(pid))
        assert "s1" not in dash.completions()

        procs.append(spawn_agent(data, port))
        done = await dash.wait_completed("s1")
        assert (done["s1"].return_code, done["s1"].successful) == (0, True)
        assert count_lines(marks / "s1") == 1
        assert await _kill(procs[-1], signal.SIGTERM) == 0
    finally:
        await dash.close()
