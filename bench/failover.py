"""Failover time of two real dashboards on PostgreSQL (docs/architecture.md §12).

    python bench/failover.py --database-url URL [--failovers 10] [--lease-ms 10000]

Starts two `ikasched dashboard` processes on 127.0.0.1 sharing one PostgreSQL database (in a
schema of its own, dropped at the end), then repeats: SIGKILL the active one, measure until the
standby's gRPC health says SERVING, start the killed one again as the new standby. Prints each
takeover, p50 and max beside the lease length; the expected worst case is the lease plus a
third of it (the standby's try interval) plus the dashboard's start.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text

from ikasched_dashboard.store import db

POLL = 0.05


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _wait(what: str, check: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"failover bench: timed out waiting for {what}")
        time.sleep(POLL)
    return time.monotonic() - started


class Node:
    def __init__(self, base: Path, name: str, url: str, lease_ms: int) -> None:
        self.dir, self.url, self.lease_ms = base / name, url, lease_ms
        self.port = _port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IKASCHED_")}
        log = open(self.dir.with_suffix(".log"), "ab")  # noqa: SIM115 - the child keeps it
        argv = [sys.executable, "-m", "ikasched_cli", "dashboard", "--data-dir", str(self.dir)]
        argv += ["--listen", f"127.0.0.1:{self.port}", "--database-url", self.url]
        argv += ["--lease-ms", str(self.lease_ms)]
        self.proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("IKASCHED_TEST_POSTGRES_URL"))
    parser.add_argument("--failovers", type=int, default=10)
    parser.add_argument("--lease-ms", type=int, default=10_000)
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("failover bench: pass --database-url (a PostgreSQL URL)")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = db.create_engine_for(args.database_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in args.database_url else "?"
    url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
    limit = args.lease_ms / 1000 * 4 + 30
    with tempfile.TemporaryDirectory() as tmp:
        nodes = [Node(Path(tmp), n, url, args.lease_ms) for n in ("a", "b")]
        try:
            nodes[0].start()
            _wait("the first dashboard", lambda: _serving(nodes[0].port), limit)
            nodes[1].start()
            time.sleep(2)  # the standby's own start (its server is up before it tries)
            active, standby = nodes
            takeovers: list[float] = []
            for i in range(args.failovers):
                active.kill()
                took = _wait("the takeover", partial(_serving, standby.port), limit)
                takeovers.append(took)
                print(f"failover {i + 1}: standby SERVING {took:.2f}s after SIGKILL")
                active.start()  # back as the standby
                time.sleep(2)
                active, standby = standby, active
            print(
                f"lease {args.lease_ms} ms: takeover p50 {statistics.median(takeovers):.2f}s"
                f" max {max(takeovers):.2f}s over {len(takeovers)} failovers"
            )
        finally:
            for node in nodes:
                node.kill(signal.SIGTERM)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    main()
