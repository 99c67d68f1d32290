"""The dashboard core with simulated agents, each figure beside a floor measured in this run.

    python bench/dashboard.py [--quick] [--durability crash|power] [--agents subprocess|inproc]
                              [--instances N] [--profile FILE]

The simulated agents (ikasched_dashboard/testing.py: the real link client over gRPC on 127.0.0.1)
run in a child process by default, so the figures charge the dashboard's own CPU, not the
agents'; `--agents inproc` puts them in the dashboard's event loop as before (figures then
include the agents' work). Times across the two processes use CLOCK_MONOTONIC, which is
system-wide on Linux.

1. durable process events/s: many instances of a chain across agents run to COMPLETE; every
   starting/completion event is journaled, processed, committed with its effects
   (docs/architecture.md §8 target >= 10,000/s). Floor: the inbox journal's own batched append +
   peek + remove of the same number of same-sized values. Also printed: the dashboard process's CPU
   time (all its threads) per event, steadier than the rate on a shared machine.
2. dependency hop: upstream completion handed to the agent's link -> downstream initiation
   journaled by the agent, p50/p99 (targets 5/20 ms). Floor: a raw link round trip over gRPC
   (agent message journaled by a bare LinkGateway, echoed back, journaled by the agent).
3. 20-job chain: trigger event handed to the link -> instance COMPLETE in the orchestrator
   (target <= 200 ms). Floor: 21 raw link round trips.
4. restart with N live instances: Dashboard.start() (migrations + recovery) until
   serving. Floor: reading the same snapshot rows and parsing their JSON.

`--profile FILE` runs the throughput measure under cProfile (dashboard side only) and
writes the stats to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from ikasched.v1 import agent_pb2, events_pb2
from ikasched_common.journal import DiskJournal, MemoryJournal
from ikasched_common.link import (
    AgentEndpoint,
    AgentIdentity,
    AgentLinkClient,
    LinkGateway,
    MemoryOutbox,
    Receiver,
)
from ikasched_common.link.grpc_transport import GrpcDialer, start_server
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.store import instances
from ikasched_dashboard.store.db import read_transaction
from ikasched_dashboard.testing import (
    FAST,
    SimAgent,
    chain_plan,
    core_dashboard,
    dashboard_config,
    free_port,
    provision,
    wait_until,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def start(data: Path, port: int, durability: str, database_url: str = "") -> Dashboard:
    config = dashboard_config(data, f"127.0.0.1:{port}")
    object.__setattr__(config, "journal_durability", durability)
    if database_url:
        object.__setattr__(config, "database_url", database_url)
    process = core_dashboard(config)
    await process.start()
    return process


def all_complete(process: Dashboard, ids: list[str]) -> bool:
    for iid in ids:
        state = process.orchestrator.instance_state(iid)
        if state is None or state.status is not Status.COMPLETE:
            return False
    return True


# ---- floors ---------------------------------------------------------------------------------
def journal_floor(directory: Path, count: int, size: int, durability: str) -> float:
    journal = DiskJournal(directory, durability="power" if durability == "power" else "crash")
    value = b"x" * size
    started = time.perf_counter()
    for start_at in range(0, count, 500):
        journal.append([value] * min(500, count - start_at))
    done = 0
    while done < count:
        items = journal.peek(2000)
        journal.remove([i.key for i in items])
        done += len(items)
    elapsed = time.perf_counter() - started
    journal.close()
    return count / elapsed


async def link_round_trips(rounds: int) -> list[float]:
    """Raw sequenced-link round trips over gRPC, in ms."""
    slot_outbox = MemoryOutbox()
    slot_journal = MemoryJournal()
    slot_receiver = Receiver(slot_journal)

    def echo(_seq: int) -> None:
        items = slot_journal.peek(100)
        slot_journal.remove([i.key for i in items])
        replies = [agent_pb2.DashboardMessage(id=f"r{i.key}").SerializeToString() for i in items]
        asyncio.get_running_loop().create_task(slot_outbox.add(replies))

    slot_receiver.listen(echo)

    async def on_hello(_h: agent_pb2.AgentHello, _m: Mapping[str, str]) -> AgentEndpoint:
        return AgentEndpoint(slot_receiver, slot_outbox)

    gateway = LinkGateway(on_hello, dashboard_id="floor", settings=FAST)
    server, port = await start_server(gateway)
    journal = MemoryJournal()
    receiver = Receiver(journal)
    outbox = MemoryOutbox()
    arrived = asyncio.Event()
    receiver.listen(lambda _s: arrived.set())
    dialer = GrpcDialer(f"127.0.0.1:{port}", settings=FAST)
    client = AgentLinkClient(dialer, AgentIdentity("floor", "x"), receiver, outbox, settings=FAST)
    task = asyncio.get_running_loop().create_task(client.run())
    await client.wait_connected()
    out: list[float] = []
    for n in range(rounds):
        arrived.clear()
        t0 = time.perf_counter()
        await outbox.add([agent_pb2.AgentMessage(id=f"m{n}").SerializeToString()])
        await arrived.wait()
        out.append((time.perf_counter() - t0) * 1000)
    client.stop()
    task.cancel()
    await dialer.close()
    await server.stop(None)
    return out


# ---- simulated agents, here or in a child process ------------------------------------------
def _fire_message(agent: str, iid: str, context: str) -> bytes:
    fire = events_pb2.ContextualisedScheduledProcessEvent(
        id=f"fire:{iid}", agent_name=agent, job_name="start", job_identifier=f"{agent}-start",
        context_name=context, context_instance_id=iid, successful=True,
        fire_time=int(time.time() * 1000))  # fmt: skip
    return agent_pb2.AgentMessage(id=fire.id, process_event=fire).SerializeToString()


class _Agents:
    """SimAgents in this process; also the body of the child process."""

    def __init__(self, target: str, names: list[str], triggers: list[str]) -> None:
        self.handed: dict[str, float] = {}  # initiation id -> answer handed to the link
        self.agents = {
            n: SimAgent(n, target, triggers=[t for t in triggers if t.startswith(f"{n}-")])
            for n in names
        }
        for agent in self.agents.values():
            agent.on_initiation = lambda init: self.handed.__setitem__(init.id, time.monotonic())

    async def start(self) -> None:
        for agent in self.agents.values():
            await agent.start()
        await wait_until(
            lambda: all(a.client.session is not None for a in self.agents.values()),
            timeout=30.0 + 0.3 * len(self.agents),
        )

    async def fire(self, agent: str, iid: str, context: str) -> float:
        t0 = time.monotonic()
        await self.agents[agent].outbox.add([_fire_message(agent, iid, context)])
        return t0

    async def stop(self) -> dict[str, Any]:
        for agent in self.agents.values():
            await agent.stop()
        acked: dict[str, float] = {}
        for agent in self.agents.values():
            acked.update(agent.acked_at)
        sample = b""
        for agent in self.agents.values():
            if agent.received:
                sample = agent.received[-1].SerializeToString()
        total = sum(a.initiations.total() for a in self.agents.values())
        return {"handed": self.handed, "acked": acked, "sample_size": len(sample) or 300,
                "initiations": total}  # fmt: skip


class Fleet:
    """The bench's view of its agents: same calls whether they run here or in a child."""

    def __init__(self, mode: str, target: str, names: list[str], triggers: list[str]) -> None:
        self._mode = mode
        self._args = [target, ",".join(names), ",".join(triggers)]
        self._count = len(names)
        self._local = _Agents(target, names, triggers) if mode == "inproc" else None
        self._child: asyncio.subprocess.Process | None = None

    async def _line(self, prefix: str, timeout: float = 120.0) -> str:
        assert self._child is not None and self._child.stdout is not None
        while True:
            raw = await asyncio.wait_for(self._child.stdout.readline(), timeout)
            if not raw:
                raise RuntimeError(f"agent child exited before {prefix}")
            line = raw.decode().strip()
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    async def _say(self, line: str) -> None:
        assert self._child is not None and self._child.stdin is not None
        self._child.stdin.write(line.encode() + b"\n")
        await self._child.stdin.drain()

    async def start(self) -> None:
        if self._local is not None:
            await self._local.start()
            return
        self._child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--sim-child", *self._args, limit=1 << 28,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)  # fmt: skip
        await self._line("CONNECTED", timeout=60.0 + 0.5 * self._count)

    async def fire(self, agent: str, iid: str, context: str) -> float:
        if self._local is not None:
            return await self._local.fire(agent, iid, context)
        await self._say(f"fire {agent} {iid} {context}")
        return float(await self._line("FIRED"))

    async def stop(self) -> dict[str, Any]:
        if self._local is not None:
            return await self._local.stop()
        await self._say("stop")
        report: dict[str, Any] = json.loads(await self._line("REPORT"))
        assert self._child is not None
        await self._child.wait()
        return report


async def sim_child(target: str, names: str, triggers: str) -> None:
    agents = _Agents(target, names.split(","), [t for t in triggers.split(",") if t])
    await agents.start()
    print("CONNECTED", flush=True)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        words = (await reader.readline()).decode().split()
        if not words or words[0] == "stop":
            break
        if words[0] == "fire":
            print(f"FIRED {await agents.fire(words[1], words[2], words[3])!r}", flush=True)
    print("REPORT " + json.dumps(await agents.stop()), flush=True)


# ---- measures -------------------------------------------------------------------------------
async def throughput(
    root: Path, args: argparse.Namespace, setup: Callable[[Dashboard], None] | None = None
) -> dict[str, float]:
    """Durable process events/s; returns rate, floor, events and CPU us per event (`setup`
    runs on the started dashboard before the timed part, e.g. bench/notify.py's rules)."""
    count = args.instances or (200 if args.quick else 1000)
    length, agents_n = (10, 4) if args.quick else (10, 8)
    port = free_port()
    process = await start(root / "tput", port, args.durability, getattr(args, "database_url", ""))
    names = [f"a{n}" for n in range(agents_n)]
    fleet = Fleet(args.agents, f"127.0.0.1:{port}", names, [f"{n}-start" for n in names])
    profile: Any = None
    try:
        await fleet.start()
        plans = [chain_plan(f"t{n}", [names[n], names[(n + 1) % agents_n]], length)
                 for n in range(agents_n)]  # fmt: skip
        for plan in plans:
            await provision(process, plan)
        if setup is not None:
            setup(process)
        before = process.orchestrator.events_processed
        if args.profile:
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
        started = time.perf_counter()
        cpu0 = time.process_time()
        ids = await asyncio.gather(*(
            process.orchestrator.create_instance(NewInstance(plans[n % agents_n].name, n + 1))
            for n in range(count)))  # fmt: skip
        await wait_until(lambda: all_complete(process, list(ids)), timeout=600)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        events = process.orchestrator.events_processed - before
        batches = process.orchestrator.batches
        with read_transaction(process.engine) as conn:
            sizes = [len(s.snapshot) for s in instances.load_snapshots(conn, excluding_statuses=())]
    finally:
        report = await fleet.stop()
        await process.stop()
    rate = events / elapsed
    floor = journal_floor(root / "floor-journal", events, report["sample_size"] + 60,
                          args.durability)  # fmt: skip
    print(f"durable process events/s : {rate:10,.0f}   ({events} events, {count} instances x"
          f" {length} jobs, {agents_n} agents ({args.agents}), {batches} batches;"
          " target >= 10,000)")  # fmt: skip
    print(f"  floor: inbox journal append+peek+remove of {events} values: {floor:10,.0f}/s")
    # CPU of this process per event: steadier than the rate on a shared machine
    print(f"  dashboard CPU (all threads): {cpu / events * 1e6:7.1f} us/event"
          f" = {events / cpu:10,.0f} events per CPU-second")  # fmt: skip
    # each touched instance's snapshot is rewritten every batch: its size drives the writes
    if sizes:
        print(f"  stored snapshot at the end: {sum(sizes) / len(sizes):7,.0f} bytes mean,"
              f" {max(sizes):,} max ({len(sizes)} instances)")  # fmt: skip
    return {"rate": rate, "floor": floor, "events": events, "us_per_event": cpu / events * 1e6}


async def latency(root: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    """Hops (event handed to the link -> next initiation journaled by the agent), 20-job
    chains and raw link round trips, in ms."""
    chains, length = (3, 20) if args.quick else (10, 20)
    port = free_port()
    process = await start(root / "lat", port, args.durability, getattr(args, "database_url", ""))
    fleet = Fleet(args.agents, f"127.0.0.1:{port}", ["a1", "a2"], [])
    hops: list[float] = []
    chain_ms: list[float] = []
    ids: list[str] = []
    try:
        await fleet.start()
        plan = chain_plan("lat", ["a1", "a2"], length)
        await provision(process, plan)
        for n in range(chains):
            iid = await process.orchestrator.create_instance(NewInstance("lat", n + 1))
            ids.append(iid)
            await asyncio.sleep(0.05)
            t0 = await fleet.fire("a1", iid, "lat")
            while not all_complete(process, [iid]):
                await asyncio.sleep(0.0005)
            chain_ms.append((time.monotonic() - t0) * 1000)
            await asyncio.sleep(0.05)
    finally:
        report = await fleet.stop()
        await process.stop()
    handed: dict[str, float] = report["handed"]
    acked: dict[str, float] = report["acked"]
    for iid in ids:
        order = sorted(((t, i) for i, t in handed.items() if i.startswith(iid)))
        # hop: completion of job n handed to the link -> initiation n+1 journaled at agent
        for (t_prev, _), (_, i_next) in itertools.pairwise(order):
            hops.append((acked[i_next] - t_prev) * 1000)
    trips = await link_round_trips(200 if args.quick else 1000)
    print(f"dependency hop p50/p99   : {statistics.median(hops):7.2f} / {pct(hops, 0.99):7.2f} ms"
          f"   ({len(hops)} hops; targets 5 / 20)")  # fmt: skip
    print(f"  floor: raw link round trip p50/p99: {statistics.median(trips):7.2f} /"
          f" {pct(trips, 0.99):7.2f} ms")  # fmt: skip
    print(f"20-job chain trigger->done: {statistics.median(chain_ms):7.1f} ms median,"
          f" {max(chain_ms):7.1f} max   ({len(chain_ms)} runs; target <= 200)")  # fmt: skip
    print(f"  floor: 21 raw link round trips: {21 * statistics.median(trips):7.1f} ms")
    return {"hops": hops, "chains": chain_ms, "trips": trips}


async def restart(root: Path, args: argparse.Namespace) -> None:
    count = 500 if args.quick else 5000
    data = root / "restart"
    port = free_port()
    process = await start(data, port, args.durability)
    await provision(process, chain_plan("r", ["a1", "a2"], 8))
    for first in range(0, count, 500):
        await asyncio.gather(*(
            process.orchestrator.create_instance(NewInstance("r", n + 1))
            for n in range(first, min(count, first + 500))))  # fmt: skip
    await process.stop()
    gc.collect()
    t0 = time.perf_counter()
    process = await start(data, port, args.durability)
    elapsed = time.perf_counter() - t0
    live = len(process.orchestrator.live_instance_ids())
    engine = process.engine
    t1 = time.perf_counter()
    with read_transaction(engine) as conn:
        snaps = instances.load_snapshots(conn)
    parsed: list[Any] = [json.loads(s.snapshot) for s in snaps]
    floor = time.perf_counter() - t1
    await process.stop()
    print(f"restart, {live} live instances: {elapsed:6.2f} s to serving"
          f" (recovery {process.recovery_seconds:.2f} s; target <= 5 s at 5,000)")  # fmt: skip
    print(f"  floor: read {len(parsed)} snapshots + parse JSON: {floor:6.2f} s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--durability", choices=["crash", "power"], default="crash")
    parser.add_argument("--agents", choices=["subprocess", "inproc"], default="subprocess")
    parser.add_argument("--instances", type=int, default=0, help="throughput instances")
    parser.add_argument("--profile", default="", help="cProfile the throughput run to FILE")
    parser.add_argument("--only", default="", help="comma list of: tput,latency,restart")
    parser.add_argument("--sim-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim_child:
        await sim_child(*args.sim_child)
        return
    print(f"bench/dashboard.py  durability={args.durability}  quick={args.quick}"
          f"  agents={args.agents}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ikasched-bench-") as tmp:
        root = Path(tmp)
        only = set(args.only.split(",")) if args.only else {"tput", "latency", "restart"}
        if "tput" in only:
            await throughput(root, args)
        if "latency" in only:
            await latency(root, args)
        if "restart" in only:
            await restart(root, args)


if __name__ == "__main__":
    asyncio.run(main())
