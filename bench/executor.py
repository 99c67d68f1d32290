"""Executor throughput beside a raw spawner, measured in the same run (docs/architecture.md §8).

    python bench/executor.py [--quick] [--jobs N] [--concurrency C] [--rounds R]

Sustained: N jobs running `true` through the executor (submit all, wait for every completion
event, concurrency limit C) against the floor: a raw asyncio spawner running the same command
line through the same shell, `asyncio.create_subprocess_exec('/bin/sh', '-c', 'true')`, N times
with C at once. Rounds alternate raw and executor; the ratio of the medians is printed (target
>= 0.70). Burst: 1,000 jobs submitted at once with no limit; the time until the last "starting"
event is printed (target <= 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ikasched.v1 import events_pb2
from ikasched_agent.executor import Executor
from ikasched_agent.protocol import ProcessEventMessage

COMMAND = "true"
SUSTAINED_TARGET = 0.70
BURST_TARGET_SECONDS = 3.0


def initiation(n: int, command: str) -> events_pb2.SchedulerJobInitiationEvent:
    init = events_pb2.SchedulerJobInitiationEvent(
        id=f"bench-{n}",
        agent_name="bench",
        job_name=f"job-{n}",
        context_name="bench",
        context_instance_id="bench-1",
    )
    init.internal_event_driven_job.command_line = command
    return init


async def raw_spawner(jobs: int, concurrency: int) -> float:
    """Jobs per second of plain asyncio subprocesses running `/bin/sh -c true`."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", COMMAND)
            await proc.wait()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(jobs)))
    return jobs / (time.perf_counter() - start)


class Counter:
    """Emit target counting starting and completion events."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.started = 0
        self.completed = 0
        self.failed = 0
        self.all_started = asyncio.Event()
        self.all_completed = asyncio.Event()
        self.started_at = 0.0

    async def __call__(self, event: ProcessEventMessage) -> None:
        if event.job_starting:
            self.started += 1
            if self.started == self.expected:
                self.started_at = time.perf_counter()
                self.all_started.set()
            return
        self.completed += 1
        self.failed += not event.successful
        if self.completed == self.expected:
            self.all_completed.set()


async def through_executor(
    jobs: int, concurrency: int, base: str | None, command: str = COMMAND
) -> float:
    """Jobs per second through the executor (submit all, wait for every completion)."""
    data_dir = Path(tempfile.mkdtemp(prefix="ikasched-bench-", dir=base))
    counter = Counter(jobs)
    executor = Executor(data_dir, emit=counter, max_concurrent_jobs=concurrency)
    inits = [initiation(n, command) for n in range(jobs)]
    try:
        start = time.perf_counter()
        for init in inits:
            await executor.submit(init)
        await counter.all_completed.wait()
        elapsed = time.perf_counter() - start
        await executor.drain()
    finally:
        await executor.aclose()
        shutil.rmtree(data_dir, ignore_errors=True)
    if counter.failed:
        raise SystemExit(f"{counter.failed} bench jobs failed")
    return jobs / elapsed


async def burst(jobs: int, command: str, base: str | None) -> tuple[float, float]:
    """Seconds until every job of a burst has started, and until all completed."""
    data_dir = Path(tempfile.mkdtemp(prefix="ikasched-burst-", dir=base))
    counter = Counter(jobs)
    executor = Executor(data_dir, emit=counter)
    inits = [initiation(n, command) for n in range(jobs)]
    try:
        start = time.perf_counter()
        for init in inits:
            await executor.submit(init)
        await counter.all_started.wait()
        await counter.all_completed.wait()
        done = time.perf_counter() - start
        await executor.drain()
    finally:
        await executor.aclose()
        shutil.rmtree(data_dir, ignore_errors=True)
    if counter.failed:
        raise SystemExit(f"{counter.failed} burst jobs failed")
    return counter.started_at - start, done


async def main(args: argparse.Namespace) -> int:
    gc.freeze()
    create_us = file_create_cost_us(args.data_dir)
    print(
        f"data dir under {args.data_dir or tempfile.gettempdir()}: a run directory (4 inodes, "
        f"2 links) costs {create_us:.0f} us to create here (the raw spawner creates none)"
    )
    raw: list[float] = []
    ours: list[float] = []
    raw_cpu, our_cpu = [0.0, 0.0], [0.0, 0.0]
    for _ in range(args.rounds):
        before = cpu()
        raw.append(await raw_spawner(args.jobs, args.concurrency))
        middle = cpu()
        ours.append(await through_executor(args.jobs, args.concurrency, args.data_dir))
        after = cpu()
        for i in (0, 1):
            raw_cpu[i] += middle[i] - before[i]
            our_cpu[i] += after[i] - middle[i]
    raw_median, ours_median = statistics.median(raw), statistics.median(ours)
    ratio = ours_median / raw_median
    print(
        f"sustained executions of `{COMMAND}`: {args.jobs} jobs x {args.rounds} rounds, "
        f"concurrency {args.concurrency}"
    )
    print(
        f"  floor  raw spawner (asyncio, /bin/sh -c {COMMAND}): {raw_median:8.0f} /s  "
        f"(rounds: {', '.join(f'{r:.0f}' for r in raw)})"
    )
    print(
        f"  ours   executor (wrapper, run records, events): {ours_median:8.0f} /s  "
        f"(rounds: {', '.join(f'{r:.0f}' for r in ours)})"
    )
    per = 1000 / (args.jobs * args.rounds)
    for label, (own, children) in (("floor", raw_cpu), ("ours ", our_cpu)):
        print(
            f"  {label}  CPU/job: this process {own * per:.2f} ms, children {children * per:.2f} ms"
        )
    verdict = "ok" if ratio >= SUSTAINED_TARGET else "BELOW TARGET"
    print(f"  ratio  {ratio:.2f} (target >= {SUSTAINED_TARGET:.2f}) {verdict}")
    started, completed = await burst(args.burst, args.burst_command, args.data_dir)
    verdict = "ok" if started <= BURST_TARGET_SECONDS else "ABOVE TARGET"
    print(
        f"burst of {args.burst} jobs (`{args.burst_command}`, no limit): all started in "
        f"{started:.2f} s (target <= {BURST_TARGET_SECONDS:.1f} s) {verdict}; "
        f"all completed in {completed:.2f} s"
    )
    return 0


def cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its reaped children (wrappers, shells, jobs)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def file_create_cost_us(base: str | None, dirs: int = 200) -> float:
    """Microseconds for the file system work of one run here, now: the run directory, the
    wrapper's claim, out.log and err.log, and the executor's two links (rc, reported). The
    part of a job's cost a raw spawner does not pay."""
    root = Path(tempfile.mkdtemp(prefix="ikasched-fs-", dir=base))
    try:
        start = time.perf_counter()
        for n in range(dirs):
            run = root / str(n)
            run.mkdir()
            for name in ("claim", "out.log", "err.log"):
                (run / name).write_bytes(b"0\n")
            for name in ("rc", "reported"):
                (run / name).hardlink_to(run / "claim")
        return (time.perf_counter() - start) / dirs * 1e6
    finally:
        shutil.rmtree(root, ignore_errors=True)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs and rounds")
    parser.add_argument("--jobs", type=int, default=0, help="jobs per sustained round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--burst-command", default="sleep 1")
    parser.add_argument(
        "--data-dir", default=None, help="parent of the agent data dirs (default: the temp dir)"
    )
    args = parser.parse_args(argv)
    args.jobs = args.jobs or (500 if args.quick else 2000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
