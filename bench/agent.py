"""The real agent's job launches beside a raw spawner, measured in the same run
(docs/architecture.md §8).

    python bench/agent.py [--quick] [--jobs N] [--concurrency C] [--latency N] [--burst N]

An in-process `ikasched_agent.agent.Agent` links over gRPC on 127.0.0.1 to a stand-in
dashboard (the link library's LinkGateway with journals on disk) that provisions one job,
activates one instance and sends initiations. Measured, each beside its floor (a raw asyncio
spawner running the same command line through the same shell, `/bin/sh -c`):

- launch overhead: one initiation at a time; from the moment the agent has journaled it in
  its inbox (the link receiver's commit) to the moment the job's process runs (its command
  line writes the initiation id to a FIFO the bench reads). The floor: from the call of
  `asyncio.create_subprocess_exec` to the same FIFO line. p50 and p99.
- sustained executions of `true`: N initiations sent at once to an agent with a concurrency
  limit C, until the stand-in dashboard has received every completion event (journaled in
  the agent's outbox, sent, acknowledged); the floor runs N `true`s with C at once. Target:
  ours >= 70% of the floor.
- a burst of B initiations (`echo ID >FIFO; sleep 1`) sent at once to an agent without a
  limit, until every process runs (target <= 3 s); the floor spawns the same B at once.

Each figure is printed for the agent's run directory on the default data dir's file system
(the temp dir, a disk here) and, if /dev/shm exists, with the run directory on tmpfs (the
agent's journals stay on disk): creating files is most of a short job's cost on some disks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc.aio

from ikasched.v1 import agent_pb2, events_pb2, plan_pb2
from ikasched_agent.agent import Agent, AgentOptions
from ikasched_common.config import AgentConfig
from ikasched_common.journal import DiskJournal
from ikasched_common.link import AgentEndpoint, JournalOutbox, LinkGateway, Receiver
from ikasched_common.link.grpc_transport import start_server

SHELL = "/bin/sh"
SUSTAINED_TARGET = 0.70
BURST_TARGET_SECONDS = 3.0
AGENT = "bench-agent"
PLAN = "bench"
INSTANCE = "bench-1"
JOB = "bench-job"
Msg = agent_pb2.DashboardMessage


# ---- the FIFO the jobs announce themselves on -----------------------------------------------
class Announcements:
    """A FIFO read on the event loop: every line a job writes, with its arrival time."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        # Read-write: the FIFO never sees "no writer", so no EOF between jobs.
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self._partial = b""
        self.seen: dict[str, float] = {}
        self._changed = asyncio.Event()
        asyncio.get_running_loop().add_reader(self._fd, self._read)

    def _read(self) -> None:
        now = time.perf_counter()
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self.seen.setdefault(line.decode(), now)
        self._changed.set()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 120.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)
        os.close(self._fd)


def announce(fifo: Path, name: str) -> str:
    return f"echo {name} >{shlex.quote(str(fifo))}"


# ---- the stand-in dashboard ----------------------------------------------------------------
class BenchDashboard:
    """One agent's link endpoint: sends initiations, counts the process events it gets."""

    def __init__(self, data: Path) -> None:
        self.inbox = DiskJournal(data / "dash-inbox")
        self.receiver = Receiver(self.inbox)
        self.outbox = JournalOutbox(DiskJournal(data / "dash-outbox"))
        self.completed: dict[str, float] = {}
        self.failed = 0
        self._changed = asyncio.Event()
        self._server: grpc.aio.Server | None = None
        self._consumer: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> None:
        async def on_hello(
            _hello: agent_pb2.AgentHello, _metadata: Mapping[str, str]
        ) -> AgentEndpoint:
            return AgentEndpoint(self.receiver, self.outbox, None)

        self.receiver.listen(lambda _seq: self._changed.set())
        gateway = LinkGateway(on_hello, dashboard_id="bench-dashboard")
        self._server, self.port = await start_server(gateway, "127.0.0.1:0")
        self._consumer = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        while True:
            self._changed.clear()
            items = await asyncio.to_thread(self.inbox.peek, 1000)
            if not items:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.2)
                continue
            now = time.perf_counter()
            for item in items:
                message = agent_pb2.AgentMessage.FromString(item.value)
                event = message.process_event
                if message.HasField("process_event") and not event.job_starting:
                    self.completed.setdefault(event.initiation_id, now)
                    self.failed += not event.successful
            await asyncio.to_thread(self.inbox.remove, [i.key for i in items])

    async def send(self, messages: list[Msg]) -> None:
        await self.outbox.add([m.SerializeToString() for m in messages])

    async def wait_completed(self, ids: set[str], timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while not ids <= self.completed.keys():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ids - self.completed.keys())} completions missing")
            await asyncio.sleep(0.002)

    async def aclose(self) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        if self._server is not None:
            await self._server.stop(grace=None)
        await asyncio.to_thread(self.receiver.close)
        await asyncio.to_thread(self.outbox.close)


def job_definition() -> plan_pb2.SchedulerJob:
    job = plan_pb2.SchedulerJob(identifier=f"{AGENT}-{JOB}", agent_name=AGENT, job_name=JOB)
    job.internal_event_driven_job.command_line = "true"
    return job


def initiation(initiation_id: str, command: str) -> Msg:
    job = job_definition()
    init = events_pb2.SchedulerJobInitiationEvent(
        id=initiation_id,
        agent_name=AGENT,
        job_name=JOB,
        job_identifier=job.identifier,
        context_name=PLAN,
        context_instance_id=INSTANCE,
    )
    init.internal_event_driven_job.CopyFrom(job.internal_event_driven_job)
    init.internal_event_driven_job.command_line = command
    return Msg(id=f"msg-{initiation_id}", initiation=init)


@dataclass(slots=True)
class Linked:
    """A started agent and its dashboard."""

    agent: Agent
    dashboard: BenchDashboard
    journaled_at: list[tuple[int, float]]  # (last journaled seq, when), one per inbox commit


@contextlib.asynccontextmanager
async def linked_agent(
    base: Path, runs_dir: Path | None, concurrency: int, label: str
) -> AsyncIterator[Linked]:
    """A dashboard and an agent whose data dir is under `base` (its run directory under
    `runs_dir` when given), provisioned and active."""
    root = Path(tempfile.mkdtemp(prefix=f"ikasched-agentbench-{label}-", dir=base))
    data_dir = root / "agent"
    data_dir.mkdir()
    if runs_dir is not None:
        target = Path(tempfile.mkdtemp(prefix=f"ikasched-runs-{label}-", dir=runs_dir))
        (data_dir / "runs").symlink_to(target)
    dashboard = BenchDashboard(root)
    await dashboard.start()
    config = AgentConfig(
        name=AGENT,
        dashboard=f"127.0.0.1:{dashboard.port}",
        data_dir=data_dir,
        max_concurrent_jobs=concurrency,
    )
    agent = Agent(config, options=AgentOptions(status_interval=5.0))
    journaled: list[tuple[int, float]] = []
    try:
        await agent.start()
        agent.receiver.listen(lambda seq: journaled.append((seq, time.perf_counter())))
        await dashboard.send(
            [
                Msg(
                    id="provision",
                    provision_jobs=agent_pb2.ProvisionJobs(
                        context_name=PLAN, jobs=[job_definition()]
                    ),
                ),
                Msg(
                    id="activate",
                    activate_instance=agent_pb2.ActivateInstance(
                        context_instance_id=INSTANCE, context_name=PLAN
                    ),
                ),
                initiation("warm-up", "true"),
            ]
        )
        await dashboard.wait_completed({"warm-up"})
        yield Linked(agent, dashboard, journaled)
    finally:
        await agent.stop()
        await dashboard.aclose()
        shutil.rmtree(root, ignore_errors=True)
        if runs_dir is not None:
            shutil.rmtree(target, ignore_errors=True)


# ---- measures --------------------------------------------------------------------------------
class CpuMeter:
    """CPU time of this process (agent, stand-in dashboard, bench) and of its reaped children
    (wrappers and the jobs they waited for): a figure less shaken by other load than rates."""

    def __init__(self) -> None:
        self.own = 0.0
        self.children = 0.0
        self.jobs = 0

    @contextlib.contextmanager
    def measure(self, jobs: int) -> Iterator[None]:
        own, children = _cpu()
        yield
        own2, children2 = _cpu()
        self.own += own2 - own
        self.children += children2 - children
        self.jobs += jobs

    def __str__(self) -> str:
        per = 1000 / max(1, self.jobs)
        return (
            f"CPU/job: this process {self.own * per:.2f} ms, children {self.children * per:.2f} ms"
        )


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def agent_launch_ms(linked: Linked, fifo: Announcements, count: int) -> list[float]:
    """Inbox-journaled -> process-running, one initiation at a time."""
    out: list[float] = []
    for n in range(count):
        name = f"lat-{n}-{time.monotonic_ns()}"
        already = len(linked.journaled_at)
        await linked.dashboard.send([initiation(name, announce(fifo.path, name))])
        await fifo.wait(lambda name=name: name in fifo.seen)  # type: ignore[misc]
        journaled = linked.journaled_at[already][1]
        out.append((fifo.seen[name] - journaled) * 1000)
        await linked.dashboard.wait_completed({name})
    return out


async def raw_launch_ms(fifo: Announcements, count: int) -> list[float]:
    out: list[float] = []
    for n in range(count):
        name = f"raw-{n}-{time.monotonic_ns()}"
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(SHELL, "-c", announce(fifo.path, name))
        await fifo.wait(lambda name=name: name in fifo.seen)  # type: ignore[misc]
        out.append((fifo.seen[name] - start) * 1000)
        await proc.wait()
    return out


async def agent_sustained(linked: Linked, jobs: int) -> float:
    """Executions of `true` per second, sent at once, until every completion is back."""
    tag = time.monotonic_ns()
    ids = [f"true-{tag}-{n}" for n in range(jobs)]
    start = time.perf_counter()
    await linked.dashboard.send([initiation(i, "true") for i in ids])
    await linked.dashboard.wait_completed(set(ids))
    elapsed = time.perf_counter() - start
    if linked.dashboard.failed:
        raise SystemExit(f"{linked.dashboard.failed} bench jobs failed")
    return jobs / elapsed


async def raw_sustained(jobs: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            proc = await asyncio.create_subprocess_exec(SHELL, "-c", "true")
            await proc.wait()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(jobs)))
    return jobs / (time.perf_counter() - start)


async def agent_burst(linked: Linked, fifo: Announcements, jobs: int) -> tuple[float, float]:
    """Seconds from sending `jobs` initiations at once until every process runs, and from the
    last inbox commit of them until then."""
    tag = time.monotonic_ns()
    ids = [f"burst-{tag}-{n}" for n in range(jobs)]
    already = len(linked.journaled_at)
    start = time.perf_counter()
    await linked.dashboard.send([initiation(i, announce(fifo.path, i) + "; sleep 1") for i in ids])
    await fifo.wait(lambda: all(i in fifo.seen for i in ids))
    last_running = max(fifo.seen[i] for i in ids)
    journaled = linked.journaled_at[-1][1] if len(linked.journaled_at) > already else start
    await linked.dashboard.wait_completed(set(ids))
    return last_running - start, last_running - journaled


async def raw_burst(fifo: Announcements, jobs: int) -> float:
    tag = time.monotonic_ns()
    ids = [f"rawburst-{tag}-{n}" for n in range(jobs)]
    start = time.perf_counter()
    procs = [
        await asyncio.create_subprocess_exec(SHELL, "-c", announce(fifo.path, i) + "; sleep 1")
        for i in ids
    ]
    await fifo.wait(lambda: all(i in fifo.seen for i in ids))
    elapsed = max(fifo.seen[i] for i in ids) - start
    await asyncio.gather(*(p.wait() for p in procs))
    return elapsed


def quantiles(millis: list[float]) -> str:
    return f"p50 {percentile(millis, 0.5):6.2f} ms  p99 {percentile(millis, 0.99):6.2f} ms"


def rates(per_second: list[float]) -> str:
    rounds = ", ".join(f"{r:.0f}" for r in per_second)
    return f"{statistics.median(per_second):8.0f} /s  (rounds: {rounds})"


def fs_type(path: Path) -> str:
    """The file system type holding `path` (longest mount point prefix in /proc/mounts)."""
    best, kind = "", "?"
    resolved = str(path.resolve())
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            mount = parts[1]
            if (resolved == mount or resolved.startswith(mount.rstrip("/") + "/")) and len(
                mount
            ) >= len(best):
                best, kind = mount, parts[2]
    return kind


async def variant(args: argparse.Namespace, base: Path, runs_dir: Path | None, label: str) -> None:
    where = runs_dir if runs_dir is not None else base
    print(
        f"\n== run directory on {where} ({fs_type(where)}); agent journals on {base} "
        f"({fs_type(base)})"
    )
    fifo_dir = Path(tempfile.mkdtemp(prefix="ikasched-fifo-"))
    fifo = Announcements(fifo_dir / "announce")
    try:
        async with linked_agent(base, runs_dir, args.concurrency, label) as linked:
            ours = await agent_launch_ms(linked, fifo, args.latency)
            raw = await raw_launch_ms(fifo, args.latency)
            print(f"launch overhead, {args.latency} initiations one at a time:")
            print(f"  floor  raw spawner (call -> running):       {quantiles(raw)}")
            print(f"  ours   agent (inbox journaled -> running):  {quantiles(ours)}")
            raw_rates: list[float] = []
            our_rates: list[float] = []
            raw_cpu, our_cpu = CpuMeter(), CpuMeter()
            for _ in range(args.rounds):
                with raw_cpu.measure(args.jobs):
                    raw_rates.append(await raw_sustained(args.jobs, args.concurrency))
                with our_cpu.measure(args.jobs):
                    our_rates.append(await agent_sustained(linked, args.jobs))
        ratio = statistics.median(our_rates) / statistics.median(raw_rates)
        verdict = "ok" if ratio >= SUSTAINED_TARGET else "BELOW TARGET"
        print(
            f"sustained executions of `true`: {args.jobs} jobs x {args.rounds} rounds, "
            f"concurrency {args.concurrency}"
        )
        print(f"  floor  raw spawner (asyncio, {SHELL} -c true):  {rates(raw_rates)}")
        print(f"  ours   agent (link, journals, wrapper, events): {rates(our_rates)}")
        print(f"  floor  {raw_cpu}")
        print(f"  ours   {our_cpu} (the process includes the stand-in dashboard)")
        print(f"  ratio  {ratio:.2f} (target >= {SUSTAINED_TARGET:.2f}) {verdict}")
        async with linked_agent(base, runs_dir, 0, label + "-burst") as linked:
            raw_b = await raw_burst(fifo, args.burst)
            sent, journaled = await agent_burst(linked, fifo, args.burst)
        verdict = "ok" if sent <= BURST_TARGET_SECONDS else "ABOVE TARGET"
        print(f"burst of {args.burst} jobs (`echo ID >FIFO; sleep 1`, no limit), until all run:")
        print(f"  floor  raw spawner:                  {raw_b:6.2f} s")
        print(
            f"  ours   agent, sent -> all running:   {sent:6.2f} s (target <= "
            f"{BURST_TARGET_SECONDS:.1f} s) {verdict}; last inbox commit -> all running "
            f"{journaled:.2f} s"
        )
    finally:
        fifo.close()
        shutil.rmtree(fifo_dir, ignore_errors=True)


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    gc.freeze()
    base = Path(args.data_dir or tempfile.gettempdir())
    await variant(args, base, None, "disk")
    if Path("/dev/shm").is_dir() and not args.no_tmpfs:
        await variant(args, base, Path("/dev/shm"), "tmpfs")
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs and rounds")
    parser.add_argument("--jobs", type=int, default=0, help="jobs per sustained round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--latency", type=int, default=0, help="initiations for launch overhead")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--no-tmpfs", action="store_true", help="skip the tmpfs run directory")
    parser.add_argument(
        "--data-dir", default=None, help="parent of the agent data dirs (default: the temp dir)"
    )
    args = parser.parse_args(argv)
    args.jobs = args.jobs or (300 if args.quick else 2000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.latency = args.latency or (50 if args.quick else 300)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
