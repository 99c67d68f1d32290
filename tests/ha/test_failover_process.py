"""Two real `ikasched dashboard` processes on one PostgreSQL database (docs/architecture.md §12):
one leads, the other stands by, says where the leader is, and takes over from a paused leader;
the paused one, resumed, finds itself fenced out and stands by."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.conftest import clean_env, cli_command, wait_until

LEASE_MS = 2000
START = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(port: int) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
        except grpc.RpcError as exc:
            return f"error {exc.code().name}"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


class Pair:
    def __init__(self, base: Path, url: str) -> None:
        self.base, self.url = base, url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str) -> None:
        port = self.ports[name] = _free_port()
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.procs[name] = subprocess.Popen(
            cli_command(
                "dashboard",
                "--data-dir",
                str(self.base / name),
                "--listen",
                f"127.0.0.1:{port}",
                "--database-url",
                self.url,
                "--lease-ms",
                str(LEASE_MS),
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            start_new_session=True,
        )
        log.close()

    def log(self, name: str) -> str:
        return (self.base / f"{name}.log").read_text(errors="replace")

    def wait_health(self, name: str, status: str, timeout: float = START) -> None:
        proc = self.procs[name]

        def check() -> bool:
            assert proc.poll() is None, f"{name} exited {proc.returncode}: {self.log(name)}"
            return _health(self.ports[name]) == status

        wait_until(f"{name} {status}", check, timeout)

    def cli(self, *args: str, token: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli_command(*args),
            env=clean_env(IKASCHED_TOKEN=token),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def status(self) -> str:
        done = self.cli("cluster", "status", "--database-url", self.url)
        assert done.returncode == 0, done
        return done.stdout

    def close(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_standby_redirects_then_takes_over_from_a_paused_leader(pair: Pair) -> None:
    pair.start("a")
    pair.wait_health("a", "SERVING")
    pair.start("b")
    pair.wait_health("b", "NOT_SERVING")  # a standby never reports SERVING
    a_addr, b_addr = (f"127.0.0.1:{pair.ports[n]}" for n in ("a", "b"))
    status = pair.status()
    assert f"at {a_addr} epoch 1 lease held" in status, status
    assert "standby: " in status and f"at {b_addr}" in status, status

    token = (pair.base / "a" / "admin.token").read_text().split()[0]
    refused = pair.cli("agent", "list", "--dashboard", b_addr, token=token)
    assert refused.returncode != 0
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ikasched: unavailable: standby"), lines
    assert f"the active dashboard is at {a_addr} (epoch 1)" in lines[0], lines
    served = pair.cli("agent", "list", "--dashboard", a_addr, token=token)
    assert served.returncode == 0, served

    pair.procs["a"].send_signal(signal.SIGSTOP)  # a paused leader: it cannot renew
    pair.wait_health("b", "SERVING", timeout=LEASE_MS / 1000 * 10)
    assert f"at {b_addr} epoch 2 lease held" in pair.status()
    assert pair.cli("agent", "list", "--dashboard", b_addr, token=token).returncode == 0

    pair.procs["a"].send_signal(signal.SIGCONT)  # wakes up, fenced out: it stands by
    pair.wait_health("a", "NOT_SERVING", timeout=LEASE_MS / 1000 * 10)
    wait_until("a's log of the lost lease", lambda: "lost the lease of epoch 1" in pair.log("a"))
    again = pair.cli("agent", "list", "--dashboard", a_addr, token=token)
    assert f"the active dashboard is at {b_addr} (epoch 2)" in again.stderr, again
    assert f"at {b_addr} epoch 2 lease held" in pair.status()


def test_a_graceful_stop_hands_the_lease_over_at_once(pair: Pair) -> None:
    pair.start("a")
    pair.wait_health("a", "SERVING")
    pair.start("b")
    pair.wait_health("b", "NOT_SERVING")
    pair.procs["a"].send_signal(signal.SIGTERM)
    assert pair.procs["a"].wait(30) == 0
    # released, not expired: the standby's next try (a third of the lease) takes it
    pair.wait_health("b", "SERVING", timeout=LEASE_MS / 1000 * 3)
    assert "epoch 2" in pair.status()
