"""Scenario `notify`: what notification rules cost the orchestrator's durable event rate.

The same `events` throughput run (bench/dashboard.py: the dashboard core, simulated agents in a
child process, chains of command jobs) twice per round in one process: without rules, then
with 5 rules, each on every event kind of every plan (START, COMPLETE, ERROR, INSTANCE_ENDED,
RUNNING_TIME), so every job start and end queues 5 notifications in its batch, and the
notifier posts them meanwhile to a local HTTP receiver. Execution history is written in both
(it is always on). Rounds alternate off/on to spread the shared machine's noise; the figure is
the median rate of each side and their ratio (target: rules on >= 0.9 x off).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench import dashboard as dash
from bench.results import Figure, median
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.store import db
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store.db import read_transaction, write_transaction

KINDS = ("START", "COMPLETE", "ERROR", "INSTANCE_ENDED", "RUNNING_TIME")
RULES = 5


class _Receiver:
    """A webhook endpoint on 127.0.0.1 that answers 204 and counts posts."""

    def __init__(self) -> None:
        self.posts = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    outer.posts += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _add_rules(url: str) -> Callable[[Dashboard], None]:
    def setup(process: Dashboard) -> None:
        with write_transaction(process.engine) as conn:
            for n in range(RULES):
                store.put_rule(conn, store.Rule(f"bench-{n}", KINDS, url))

    return setup


def _queued(data: Path) -> int:
    """Notifications the run left in its (stopped) dashboard's SQLite store."""
    engine = db.create_engine_for(f"sqlite:///{data / 'dashboard.sqlite'}")
    try:
        with read_transaction(engine) as conn:
            return len(store.list_notifications(conn, limit=10**9))
    finally:
        engine.dispose()


async def notify(root: Path, quick: bool, durability: str) -> list[Figure]:
    args = argparse.Namespace(
        quick=quick, instances=0, durability=durability, agents="subprocess", profile="",
        database_url="",
    )  # fmt: skip
    receiver = _Receiver()
    off: list[float] = []
    on: list[float] = []
    cpu_off: list[float] = []
    cpu_on: list[float] = []
    queued: list[int] = []
    events = 0.0
    try:
        for n in range(2 if quick else 3):
            got = await dash.throughput(root / f"off-{n}", args)
            off.append(got["rate"])
            cpu_off.append(got["us_per_event"])
            got = await dash.throughput(root / f"on-{n}", args, _add_rules(receiver.url))
            on.append(got["rate"])
            cpu_on.append(got["us_per_event"])
            queued.append(_queued(root / f"on-{n}" / "tput"))
            events = got["events"]
    finally:
        receiver.close()
    rate_off, rate_on = median(off), median(on)
    us_off, us_on = median(cpu_off), median(cpu_on)
    print(
        f"notify: rules off {rate_off:,.0f}/s  |  {RULES} rules on {rate_on:,.0f}/s  |"
        f"  ratio {rate_on / rate_off:.3f} (target >= 0.9); rounds off {off} on {on};"
        f" {queued} notifications queued per on-run, {receiver.posts} posted in all;"
        f" dashboard CPU per event off {us_off:.0f} us, on {us_on:.0f} us"
    )
    return [
        Figure(
            scenario="notify",
            name=f"durable events/s, {RULES} notification rules on (sqlite)",
            value=rate_on,
            unit="/s",
            floor=rate_off,
            floor_name="same run, rules off (history on in both)",
            op=">=",
            bound=0.9,
            ratio_target=True,
            durability=durability,
            note=f"{events:.0f} events per run; median of {len(on)} alternating rounds;"
            f" {queued[-1] if queued else 0} notifications queued per run;"
            f" dashboard CPU/event {us_off:.0f} -> {us_on:.0f} us",
        )
    ]
