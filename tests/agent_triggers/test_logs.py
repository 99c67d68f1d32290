"""Log serving (chunks, follow, cancel) and housekeeping of run directories."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import timedelta
from pathlib import Path

import pytest

from ikasched.v1 import agent_pb2
from ikasched_agent.logs import (
    DEFAULT_CHUNK_SIZE,
    HousekeepingResult,
    LogHousekeeper,
    LogServer,
    housekeep,
)
from ikasched_agent.runs import RunPaths
from ikasched_common.clock import ManualClock

from .support import utc

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"


class Chunks:
    """A send_chunk callback that records chunks and lets tests wait for them."""

    def __init__(self) -> None:
        self.chunks: list[agent_pb2.LogChunk] = []
        self._changed = asyncio.Event()

    async def send(self, chunk: agent_pb2.LogChunk) -> None:
        self.chunks.append(chunk)
        self._changed.set()

    async def wait(self, predicate: object, timeout: float = 10.0) -> None:
        assert callable(predicate)

        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    def data(self) -> bytes:
        return b"".join(c.data for c in self.chunks)

    def check_contiguous(self, start: int = 0) -> None:
        offset = start
        for c in self.chunks:
            assert c.offset == offset
            offset += len(c.data)


def make_run(runs: Path, initiation_id: str, out: bytes = b"", err: bytes = b"") -> RunPaths:
    paths = RunPaths(runs / initiation_id)
    paths.root.mkdir(parents=True)
    paths.out_log.write_bytes(out)
    paths.err_log.write_bytes(err)
    return paths


def finish(paths: RunPaths, code: int = 0, reported: bool = True) -> None:
    paths.claim.touch()
    paths.rc.write_text(f"{code}\n")
    if reported:
        paths.reported.touch()


def request(
    initiation_id: str,
    *,
    rid: str = "r1",
    stream: int = agent_pb2.STDOUT,
    offset: int = 0,
    follow: bool = False,
    max_bytes: int = 0,
) -> agent_pb2.LogRequest:
    return agent_pb2.LogRequest(
        request_id=rid,
        initiation_id=initiation_id,
        stream=stream,  # type: ignore[arg-type]
        offset=offset,
        follow=follow,
        max_bytes=max_bytes,
    )


@pytest.mark.parametrize("megabytes", [50] if LONG else [6])
async def test_chunks_reassemble_to_the_exact_file(tmp_path: Path, megabytes: int) -> None:
    body = random.Random(7).randbytes(megabytes * 1024 * 1024 + 12345)
    paths = make_run(tmp_path, "big", out=body)
    finish(paths)
    sink = Chunks()
    await LogServer(tmp_path, sink.send).serve(request("big"))
    assert sink.data() == body
    sink.check_contiguous()
    assert all(len(c.data) <= DEFAULT_CHUNK_SIZE for c in sink.chunks)
    assert [c.eof for c in sink.chunks] == [False] * (len(sink.chunks) - 1) + [True]
    assert all(c.request_id == "r1" and not c.error for c in sink.chunks)


async def test_stderr_offset_and_max_bytes(tmp_path: Path) -> None:
    paths = make_run(tmp_path, "run", out=b"o" * 100, err=bytes(range(200)))
    finish(paths)
    sink = Chunks()
    server = LogServer(tmp_path, sink.send, chunk_size=16)
    await server.serve(request("run", stream=agent_pb2.STDERR, offset=10, max_bytes=50))
    assert sink.data() == bytes(range(10, 60))
    sink.check_contiguous(10)
    assert sink.chunks[-1].eof and len(sink.chunks) == 4  # 16 + 16 + 16 + 2

    sink.chunks.clear()
    await server.serve(request("run", offset=1000))  # past the end: an empty end
    assert [(c.data, c.eof, c.offset) for c in sink.chunks] == [(b"", True, 1000)]


async def test_unknown_or_bad_run(tmp_path: Path) -> None:
    sink = Chunks()
    server = LogServer(tmp_path, sink.send)
    await server.serve(request("nope", rid="a"))
    await server.serve(request("../etc", rid="b"))
    make_run(tmp_path, "exists")
    await server.serve(request("exists", rid="c", offset=-1))
    assert [(c.request_id, c.eof, bool(c.error)) for c in sink.chunks] == [
        ("a", True, True),
        ("b", True, True),
        ("c", True, True),
    ]
    assert "no such execution" in sink.chunks[0].error


async def test_follow_a_running_job_until_it_ends(tmp_path: Path) -> None:
    paths = make_run(tmp_path, "live")
    paths.claim.touch()
    sink = Chunks()
    server = LogServer(tmp_path, sink.send, follow_poll_seconds=0.01)
    task = server.request(request("live", follow=True))
    # A real process writes its log over time and records its exit code when done.
    script = (
        "for i in 1 2 3 4 5; do echo line$i; sleep 0.02; done > out.log; "
        "head -c 100000 /dev/zero >> out.log; printf '0\\n' > rc"
    )
    proc = await asyncio.create_subprocess_exec("sh", "-c", script, cwd=paths.root)
    await asyncio.wait_for(proc.wait(), 20)
    await asyncio.wait_for(task, 20)
    expected = paths.out_log.read_bytes()
    assert expected.startswith(b"line1\nline2\n") and len(expected) == 30 + 100000
    assert sink.data() == expected
    sink.check_contiguous()
    assert sink.chunks[-1].eof and not any(c.eof for c in sink.chunks[:-1])
    assert server.active() == []


async def test_follow_waits_for_a_log_not_yet_created(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path / "early")
    paths.root.mkdir()
    sink = Chunks()
    server = LogServer(tmp_path, sink.send, follow_poll_seconds=0.01)
    task = server.request(request("early", follow=True))
    await asyncio.sleep(0.05)
    assert sink.chunks == [] and not task.done()
    paths.out_log.write_bytes(b"hello\n")
    await sink.wait(lambda: sink.data() == b"hello\n")
    finish(paths)
    await asyncio.wait_for(task, 10)
    assert sink.chunks[-1].eof and sink.data() == b"hello\n"


async def test_cancel_stops_a_followed_transfer(tmp_path: Path) -> None:
    paths = make_run(tmp_path, "endless", out=b"first\n")
    sink = Chunks()
    server = LogServer(tmp_path, sink.send, follow_poll_seconds=0.01)
    task = server.request(request("endless", rid="f", follow=True))
    await sink.wait(lambda: sink.data() == b"first\n")
    assert server.active() == ["f"]
    assert server.cancel(agent_pb2.LogCancel(request_id="f"))
    with pytest.raises(asyncio.CancelledError):
        await task
    with open(paths.out_log, "ab") as f:
        f.write(b"more\n")
    finish(paths)
    await asyncio.sleep(0.05)
    assert sink.data() == b"first\n" and not any(c.eof for c in sink.chunks)
    assert server.active() == [] and not server.cancel(agent_pb2.LogCancel(request_id="f"))


async def test_backpressure_one_chunk_in_flight(tmp_path: Path) -> None:
    paths = make_run(tmp_path, "bp", out=b"z" * 10_000)
    finish(paths)
    gate = asyncio.Event()
    calls: list[int] = []
    in_flight = 0
    most = 0

    async def slow_send(chunk: agent_pb2.LogChunk) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        calls.append(len(chunk.data))
        await gate.wait()
        in_flight -= 1

    server = LogServer(tmp_path, slow_send, chunk_size=1000)
    task = server.request(request("bp"))
    await asyncio.sleep(0.05)
    assert len(calls) == 1  # the server waits for the lane before reading on
    gate.set()
    await asyncio.wait_for(task, 10)
    assert most == 1 and sum(calls) == 10_000


async def test_aclose_cancels_transfers(tmp_path: Path) -> None:
    make_run(tmp_path, "x", out=b"a")
    sink = Chunks()
    server = LogServer(tmp_path, sink.send, follow_poll_seconds=0.01)
    task = server.request(request("x", follow=True))
    await sink.wait(lambda: len(sink.chunks) == 1)
    await server.aclose()
    assert task.cancelled()


def _age(paths: RunPaths, days: float, now_ts: float) -> None:
    ts = now_ts - days * 86400
    for p in paths.root.iterdir():
        os.utime(p, (ts, ts))


def _runs_fixture(runs: Path, now_ts: float) -> None:
    old_done = make_run(runs, "old-done", out=b"o")
    finish(old_done)
    _age(old_done, 30, now_ts)
    old_unreported = make_run(runs, "old-unreported")
    finish(old_unreported, reported=False)
    _age(old_unreported, 30, now_ts)
    old_running = make_run(runs, "old-running")
    old_running.claim.touch()
    _age(old_running, 30, now_ts)
    recent = make_run(runs, "recent")
    finish(recent)
    _age(recent, 3, now_ts)


def test_housekeeping_removes_only_old_finished_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    now = utc(2026, 9, 1)
    _runs_fixture(runs, now.timestamp())
    result = housekeep(runs, now, 25)
    assert result.removed == ("old-done",) and result.archived == () and result.kept == 3
    assert sorted(p.name for p in runs.iterdir()) == ["old-running", "old-unreported", "recent"]
    assert housekeep(runs, now, 2).removed == ("recent",)


def test_housekeeping_archives_when_asked(tmp_path: Path) -> None:
    runs, archive = tmp_path / "runs", tmp_path / "archive"
    now = utc(2026, 9, 1)
    _runs_fixture(runs, now.timestamp())
    (archive / "old-done").mkdir(parents=True)  # an earlier archive with the same name stays
    result = housekeep(runs, now, 25, archive_dir=archive)
    assert result.archived == ("old-done",) and result.removed == ()
    assert (archive / "old-done.1" / "out.log").read_bytes() == b"o"
    assert not (runs / "old-done").exists()


async def test_housekeeper_runs_on_its_clock(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    now = utc(2026, 9, 1)
    _runs_fixture(runs, now.timestamp())
    clock = ManualClock(now)
    keeper = LogHousekeeper(runs, clock, max_age_days=25)
    assert keeper.trigger.next_fire_time(now) == utc(2026, 9, 1, 3, 20, 20)
    result = await keeper.run_once()
    assert result.removed == ("old-done",)
    clock.advance(timedelta(days=1))
    assert (await keeper.run_once()).removed == ()


async def test_housekeeper_loop_fires_on_its_cron(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    now = utc(2026, 9, 1)
    _runs_fixture(runs, now.timestamp())
    clock = ManualClock(now)
    results: list[tuple[str, ...]] = []
    done = asyncio.Event()

    def on_result(result: HousekeepingResult) -> None:
        results.append(result.removed)
        done.set()

    keeper = LogHousekeeper(
        runs, clock, max_age_days=25, on_result=on_result, max_sleep_seconds=0.01
    )
    await keeper.start()
    try:
        await asyncio.sleep(0.05)
        assert results == []  # 03:20:20 has not come yet
        clock.set(utc(2026, 9, 1, 3, 20, 20))
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await keeper.aclose()
    assert results == [("old-done",)]


async def test_agent_config_log_archive_dir_reaches_housekeeping(tmp_path: Path) -> None:
    """The [agent] setting log_archive_dir (flag --log-archive-dir) is what the real agent's
    housekeeper archives into; without it, old runs are deleted."""
    from ikasched_agent.agent import default_options
    from ikasched_common.config import AgentConfig, load_config

    runs, archive = tmp_path / "runs", tmp_path / "archive"
    now = utc(2026, 9, 1)
    _runs_fixture(runs, now.timestamp())
    toml = tmp_path / "agent.toml"
    toml.write_text(f'[agent]\nname = "a1"\nlog_archive_dir = "{archive}"\n')
    config = load_config(AgentConfig, section="agent", flags={}, env={}, file=toml)
    factory = default_options(config).housekeeper_factory
    assert factory is not None
    keeper = factory(runs, ManualClock(now), config.log_retention_days)
    assert isinstance(keeper, LogHousekeeper)
    result = await keeper.run_once()
    assert result.archived == ("old-done",) and result.removed == ()
    assert (archive / "old-done" / "out.log").read_bytes() == b"o"
