"""Scenarios on real processes: a real `ikasched dashboard` and real `ikasched agent run`
processes running `true` (bench/stack.py). Every figure comes from the agents' own timestamps
(a job's process-start `fire_time` and its `completion_time`, epoch ms: 1 ms resolution,
kept as the job's start_time and end_time), read back over the operator API once the jobs
have ended, so polling cannot bend them.

- chain: N command jobs in a chain on one agent, started by running its time job by hand;
  per-hop gap (upstream completion -> downstream process started), trigger -> last done.
  Floor: the same `/bin/sh -c true` spawned N times in sequence, plus a raw gRPC ping-pong
  per hop (bench/link.py).
- schedule: time jobs whose cron fires at a known second, each raising a command job:
  cron instant -> process started. Floor: an asyncio timer at the same kind of instant, then
  the same spawn.
- throughput: C parallel chains over 2 agents (N executions in all): executions/s from the
  first process start to the last completion. Floor: a raw asyncio spawner running N `true`
  with C at once (bench/executor.py).
- burst: one time job releasing B command jobs over 2 agents: until all started / finished.
  Floor: B raw spawns at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from bench.executor import raw_spawner
from bench.link import raw_ping_pong
from bench.results import Figure, median, pct
from bench.stack import RealStack, command_job, cron_job, ended, plan_dict
from ikasched.v1 import instance_pb2

NEVER = "0 0 0 1 1 ? 2099"  # a time job that only runs when an operator runs it


@dataclass(frozen=True, slots=True)
class Sizes:
    chain: int
    chain_runs: int
    schedule: int
    chains: int
    chain_length: int
    burst: int


QUICK = Sizes(chain=20, chain_runs=3, schedule=3, chains=8, chain_length=10, burst=100)
FULL = Sizes(chain=20, chain_runs=15, schedule=15, chains=16, chain_length=40, burst=1000)
# Polling an instance of hundreds of jobs renders every job over GetInstance on the dashboard's
# loop: at 0.2 s that took ~30% of the loop during the 1,000-job burst (docs/benchmarks.md
# §4.5). The figures come from the agents' timestamps, so a slower poll loses nothing.
POLL_LARGE = 1.0


def _by_name(got: instance_pb2.ContextInstance) -> dict[str, instance_pb2.SchedulerJobInstance]:
    return {j.job_name: j for j in got.jobs}


def _started(job: instance_pb2.SchedulerJobInstance) -> int:
    """The agent's process-start time (its starting event's fire_time)."""
    return int(job.start_time)


def _done(job: instance_pb2.SchedulerJobInstance) -> int:
    """The agent's completion time (a time job's: when it fired)."""
    return int(job.end_time or job.start_time)


# ---- floors ---------------------------------------------------------------------------------
async def sequential_spawns(count: int) -> tuple[list[float], float]:
    """(exit -> next process started gaps in ms, total ms) for `sh -c true` run in sequence."""
    gaps: list[float] = []
    t0 = time.perf_counter()
    last_exit = t0
    for _ in range(count):
        proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "true")
        gaps.append((time.perf_counter() - last_exit) * 1000)
        await proc.wait()
        last_exit = time.perf_counter()
    return gaps, (time.perf_counter() - t0) * 1000


async def timed_spawns(count: int) -> list[float]:
    """An asyncio timer at an instant, then the spawn: instant -> process started, ms."""
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(count):
        instant = loop.time() + 0.05
        await asyncio.sleep(instant - loop.time())
        proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "true")
        out.append((loop.time() - instant) * 1000)
        await proc.wait()
    return out


async def raw_burst(count: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    procs = [await asyncio.create_subprocess_exec("/bin/sh", "-c", "true") for _ in range(count)]
    started = time.perf_counter() - t0
    await asyncio.gather(*(p.wait() for p in procs))
    return started, time.perf_counter() - t0


# ---- scenarios ------------------------------------------------------------------------------
def chain(stack: RealStack, sizes: Sizes, durability: str) -> list[Figure]:
    n = sizes.chain
    jobs = [cron_job("local", "start", NEVER)] + [
        command_job("local", f"j{k}") for k in range(1, n + 1)
    ]
    deps: list[dict[str, Any]] = [{"jobIdentifier": "local-start"}]
    deps += [
        {
            "jobIdentifier": f"local-j{k}",
            "logicalGrouping": {"and": ["local-start" if k == 1 else f"local-j{k - 1}"]},
        }
        for k in range(1, n + 1)
    ]
    stack.provision(plan_dict("bench-chain", jobs, deps))
    hops: list[float] = []
    totals: list[float] = []
    for _ in range(sizes.chain_runs):
        iid = stack.create_instance("bench-chain")
        time.sleep(0.1)
        t0 = time.time() * 1000
        stack.run_job(iid, "local-start")
        got = _by_name(stack.wait_jobs(iid, ended))
        previous = _done(got["start"])
        for k in range(1, n + 1):
            job = got[f"j{k}"]
            hops.append(_started(job) - previous)
            previous = _done(job)
        totals.append(previous - t0)
    gaps, floor_total = asyncio.run(sequential_spawns(n * 5))
    ping = asyncio.run(raw_ping_pong(500)).idle or (0.0, 0.0)
    hop_floor = (median(gaps), pct(gaps, 0.9), pct(gaps, 0.99))
    chain_floor = floor_total / 5 + (n + 1) * ping[0]
    common: dict[str, Any] = {
        "scenario": "chain",
        "unit": "ms",
        "durability": durability,
        "floor_name": "sh spawn gap + gRPC ping-pong",
    }
    return [
        Figure(
            name="hop p50",
            value=median(hops),
            floor=hop_floor[0] + ping[0],
            op="<=",
            bound=5,
            **common,
        ),
        Figure(name="hop p90", value=pct(hops, 0.9), floor=hop_floor[1] + ping[0], **common),
        Figure(
            name="hop p99",
            value=pct(hops, 0.99),
            floor=hop_floor[2] + ping[1],
            op="<=",
            bound=20,
            **common,
        ),
        Figure(
            name=f"{n}-job chain trigger->last done",
            value=median(totals),
            floor=chain_floor,
            op="<=",
            bound=200,
            note=f"median of {len(totals)} runs; max {max(totals):.0f} ms",
            **common,
        ),
    ]


def schedule(stack: RealStack, sizes: Sizes, durability: str) -> list[Figure]:
    instants: dict[str, float] = {}
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for k in range(sizes.schedule):
        # a whole second at least 2 s away (time to provision and create) and 1 s after the
        # previous fire, so every fire is alone on the agent
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        at = max(now + dt.timedelta(seconds=2), at + dt.timedelta(seconds=1))
        name = f"bench-cron-{k}-{int(at.timestamp())}"
        cron = f"{at.second} {at.minute} {at.hour} * * ?"
        stack.provision(
            plan_dict(
                name,
                [cron_job("local", "tick", cron), command_job("local", "run")],
                [
                    {"jobIdentifier": "local-tick"},
                    {"jobIdentifier": "local-run", "logicalGrouping": {"and": ["local-tick"]}},
                ],
            )
        )
        instants[stack.create_instance(name)] = at.timestamp() * 1000
    lags: list[float] = []
    for iid, instant in instants.items():
        got = _by_name(stack.wait_jobs(iid, ended, timeout=60 + sizes.schedule))
        lags.append(_started(got["run"]) - instant)
    floor = asyncio.run(timed_spawns(50))
    common: dict[str, Any] = {
        "scenario": "schedule-to-start",
        "unit": "ms",
        "durability": durability,
        "floor_name": "timer + spawn",
    }
    return [
        Figure(
            name="cron instant->process start p50",
            value=median(lags),
            floor=median(floor),
            **common,
        ),
        Figure(
            name="cron instant->process start p99",
            value=pct(lags, 0.99),
            floor=pct(floor, 0.99),
            op="<=",
            bound=50,
            note=f"{len(lags)} fires",
            **common,
        ),
    ]


def _fan_plan(name: str, chains: int, length: int) -> dict[str, Any]:
    agents = ["local", "b"]
    jobs = [cron_job("local", "start", NEVER)]
    deps: list[dict[str, Any]] = [{"jobIdentifier": "local-start"}]
    for c in range(chains):
        previous = "local-start"
        for k in range(length):
            agent = agents[c % 2]
            jobs.append(command_job(agent, f"c{c}-{k}"))
            deps.append(
                {"jobIdentifier": f"{agent}-c{c}-{k}", "logicalGrouping": {"and": [previous]}}
            )
            previous = f"{agent}-c{c}-{k}"
    return plan_dict(name, jobs, deps)


def throughput(stack: RealStack, sizes: Sizes, durability: str) -> list[Figure]:
    total = sizes.chains * sizes.chain_length
    stack.provision(_fan_plan("bench-tput", sizes.chains, sizes.chain_length))
    iid = stack.create_instance("bench-tput")
    time.sleep(0.2)
    stack.run_job(iid, "local-start")
    got = stack.wait_jobs(iid, ended, poll=POLL_LARGE)
    runs = [j for j in got.jobs if j.job_name != "start"]
    elapsed = (max(_done(j) for j in runs) - min(_started(j) for j in runs)) / 1000
    floor = asyncio.run(raw_spawner(total, sizes.chains))
    return [
        Figure(
            scenario="throughput",
            name=f"executions/s ({sizes.chains} chains, 2 agents)",
            value=total / elapsed,
            unit="/s",
            floor=floor,
            floor_name="raw asyncio spawner",
            op=">=",
            bound=0.70,
            ratio_target=True,
            durability=durability,
            note=f"{total} executions",
        )
    ]


def burst(stack: RealStack, sizes: Sizes, durability: str) -> list[Figure]:
    b = sizes.burst
    stack.provision(_fan_plan("bench-burst", b, 1))
    iid = stack.create_instance("bench-burst")
    time.sleep(0.2)
    stack.run_job(iid, "local-start")
    got = _by_name(stack.wait_jobs(iid, ended, poll=POLL_LARGE))
    fired = _done(got.pop("start"))
    started = (max(_started(j) for j in got.values()) - fired) / 1000
    finished = (max(_done(j) for j in got.values()) - fired) / 1000
    floor_started, floor_finished = asyncio.run(raw_burst(b))
    common: dict[str, Any] = {
        "scenario": "burst",
        "unit": "s",
        "durability": durability,
        "floor_name": f"{b} raw spawns",
    }
    return [
        Figure(
            name=f"{b} jobs all started",
            value=started,
            floor=floor_started,
            op="<=",
            bound=3.0 * b / 1000,
            note="target scaled from 3 s per 1,000",
            **common,
        ),
        Figure(name=f"{b} jobs all finished", value=finished, floor=floor_finished, **common),
    ]
