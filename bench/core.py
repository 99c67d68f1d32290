"""The dashboard alone, with simulated agents (ikasched_dashboard/testing.py SimAgent, the real
link client over gRPC on 127.0.0.1, in a child process):

- events: durable process events/s and event -> next initiation (bench/dashboard.py's
  throughput and latency), beside the inbox journal's batched append + peek + remove of the
  same values; on SQLite and, when IKASCHED_TEST_POSTGRES_URL is set, on PostgreSQL (a database
  of its own, created and dropped here).
- scale: P plans, I live instances, A connected simulated agents: the dashboard process's RSS,
  memory per instance and per agent, ListPlans / ListInstances latency over gRPC, idle CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import dashboard as dash
from bench.results import Figure, median, pct
from ikasched.v1 import (
    common_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_cli.client import Client, Connection
from ikasched_common.link import LinkSettings
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.testing import chain_plan, dashboard_config, free_port, provision

PAGE = os.sysconf("SC_PAGE_SIZE")


def postgres_url() -> str:
    return os.environ.get("IKASCHED_TEST_POSTGRES_URL", "")


@contextmanager
def own_postgres_schema(url: str) -> Iterator[str]:
    """A URL whose tables live in a fresh schema of the database `url` names (others' tests use
    its public schema), dropped after."""
    from sqlalchemy import make_url, text

    from ikasched_dashboard.store import db

    name = f"ikasched_bench_{uuid.uuid4().hex[:8]}"
    admin = db.create_engine_for(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        parsed = make_url(url)
        mine = parsed.update_query_dict({"options": f"-csearch_path={name}"})
        rendered = mine.render_as_string(hide_password=False)
        db.upgrade(rendered)
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


async def _events_on(
    root: Path, quick: bool, durability: str, url: str, store: str
) -> list[Figure]:
    args = argparse.Namespace(
        quick=quick,
        instances=0,
        durability=durability,
        agents="subprocess",
        profile="",
        database_url=url,
    )
    tput = await dash.throughput(root / store, args)
    lat = await dash.latency(root / store, args)
    hops, trips = lat["hops"], lat["trips"]
    common: dict[str, Any] = {"scenario": "events", "durability": durability}
    return [
        Figure(
            name=f"durable process events/s ({store})",
            value=tput["rate"],
            unit="/s",
            floor=tput["floor"],
            floor_name="journal batched append+peek+remove",
            op=">=",
            bound=10_000,
            note=f"{tput['events']:.0f} events;"
            f" {tput['us_per_event']:.0f} us dashboard CPU per event",
            **common,
        ),
        Figure(
            name=f"event->initiation p50 ({store})",
            value=median(hops),
            unit="ms",
            floor=median(trips),
            floor_name="raw link round trip",
            **common,
        ),
        Figure(
            name=f"event->initiation p99 ({store})",
            value=pct(hops, 0.99),
            unit="ms",
            floor=pct(trips, 0.99),
            floor_name="raw link round trip",
            op="<=",
            bound=20,
            **common,
        ),
    ]


async def events(root: Path, quick: bool, durability: str) -> list[Figure]:
    return await _events_on(root, quick, durability, "", "sqlite")


async def events_postgres(root: Path, quick: bool, durability: str) -> list[Figure]:
    with own_postgres_schema(postgres_url()) as url:
        return await _events_on(root, quick, durability, url, "postgresql")


# ---- scale ----------------------------------------------------------------------------------
def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def _list_ms(port: int, calls: int) -> tuple[float, float, int, int]:
    """(ListPlans ms, ListInstances ms) medians, first page each, and the rows they returned."""
    client = Client(Connection(dashboard=f"127.0.0.1:{port}"))
    try:
        plans = client.stub(plan_service_pb2_grpc.PlanServiceStub)
        insts = client.stub(instance_service_pb2_grpc.InstanceServiceStub)
        page = common_pb2.PageRequest(page_size=1000)
        p_ms, i_ms = [], []
        p_rows = i_rows = 0
        for _ in range(calls):
            t0 = time.perf_counter()
            got_p = client.call(plans.ListPlans, plan_service_pb2.ListPlansRequest(page=page))
            t1 = time.perf_counter()
            got_i = client.call(
                insts.ListInstances, instance_service_pb2.ListInstancesRequest(page=page)
            )
            t2 = time.perf_counter()
            p_ms.append((t1 - t0) * 1000)
            i_ms.append((t2 - t1) * 1000)
            p_rows, i_rows = len(got_p.plans), len(got_i.instances)
        return median(p_ms), median(i_ms), p_rows, i_rows
    finally:
        client.close()


async def scale(root: Path, quick: bool, durability: str) -> list[Figure]:
    plans_n, live_n, agents_n = (1000, 500, 100) if quick else (10_000, 5000, 1000)
    port = free_port()
    config = dashboard_config(root / "scale", f"127.0.0.1:{port}")
    object.__setattr__(config, "journal_durability", durability)
    floor = rss_mb()  # this process with everything imported, before the dashboard exists
    # the default link settings (heartbeats every 5 s, sent to the agents in the welcome), not
    # the tests' fast ones: a thousand agents beating every 0.2 s is not an idle fleet
    process = Dashboard(
        config, security=False, operator_services=True, link_settings=LinkSettings()
    )
    await process.start()
    names = [f"s{n}" for n in range(agents_n)]
    fleet = dash.Fleet("subprocess", f"127.0.0.1:{port}", names, [])
    loop = asyncio.get_running_loop()
    try:
        empty = rss_mb()
        mark = [time.perf_counter()]

        def phase(name: str) -> None:
            now = time.perf_counter()
            print(f"    scale {name}: {now - mark[0]:.1f} s", file=sys.stderr, flush=True)
            mark[0] = now

        for n in range(plans_n):
            await provision(process, chain_plan(f"p{n}", [names[n % agents_n]], 3))
        with_plans = rss_mb()
        phase("with_plans")
        for first in range(0, live_n, 250):
            await asyncio.gather(
                *(
                    process.orchestrator.create_instance(NewInstance(f"p{n}", n + 1))
                    for n in range(first, min(live_n, first + 250))
                )
            )
        with_live = rss_mb()
        phase("with_live")
        await fleet.start()
        await asyncio.sleep(1.0 if quick else 3.0)  # first heartbeats, agent sync
        with_agents = rss_mb()
        phase("with_agents")
        p_ms, i_ms, p_rows, i_rows = await loop.run_in_executor(None, _list_ms, port, 5)
        window = 2.0 if quick else 10.0
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window)
        idle_cpu = 100 * (time.process_time() - cpu0) / (time.perf_counter() - t0)
    finally:
        await fleet.stop()
        await process.stop()
    sizes = f"{plans_n:,} plans, {live_n:,} live, {agents_n:,} agents"
    common: dict[str, Any] = {"scenario": "scale", "durability": durability}
    return [
        Figure(
            name=f"dashboard RSS ({sizes})",
            value=with_agents,
            unit="MB",
            floor=floor,
            floor_name="same process before the dashboard",
            op="<=",
            bound=1000,
            note="target is at 10,000 / 5,000 / 1,000",
            **common,
        ),
        Figure(
            name="memory per plan", value=(with_plans - empty) * 1000 / plans_n, unit="KB", **common
        ),
        Figure(
            name="memory per live instance",
            value=(with_live - with_plans) * 1000 / live_n,
            unit="KB",
            **common,
        ),
        Figure(
            name="memory per connected agent",
            value=(with_agents - with_live) * 1000 / agents_n,
            unit="KB",
            **common,
        ),
        Figure(name=f"ListPlans first page ({p_rows} rows)", value=p_ms, unit="ms", **common),
        Figure(name=f"ListInstances first page ({i_rows} rows)", value=i_ms, unit="ms", **common),
        Figure(
            name=f"idle CPU with {agents_n:,} agents linked",
            value=idle_cpu,
            unit="% core",
            note="default link settings: a heartbeat every 5 s per agent",
            **common,
        ),
    ]
