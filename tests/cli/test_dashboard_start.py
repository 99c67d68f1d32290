"""Starting `ikasched dashboard` for real: one dashboard per port, per data dir and per SQLite
file (docs/architecture.md §1.7), and the first admin token of a plain dashboard
(docs/architecture.md §7.6) -- written on the first start, or offline by
`ikasched token bootstrap`."""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import Result, clean_env, cli_command, run

START_TIMEOUT = 60.0
# a refused second dashboard exits at start; one still running after this has not been refused
REFUSAL_TIMEOUT = 40.0


@dataclass
class Dashboards:
    """`ikasched dashboard` subprocesses of one test, stopped at its end."""

    base: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
        """A dashboard on 127.0.0.1:0 with data dir `base/name`; the process and its port."""
        port_file = self.base / f"{name}.port"
        port_file.unlink(missing_ok=True)
        log = (self.base / f"{name}.log").open("ab")
        with log:
            proc = subprocess.Popen(
                cli_command(
                    "dashboard",
                    "--data-dir",
                    str(self.base / name),
                    "--listen",
                    "127.0.0.1:0",
                    "--port-file",
                    str(port_file),
                    *extra,
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                cwd=self.base,
            )
        self.procs.append(proc)
        deadline = START_TIMEOUT
        while not port_file.exists():
            assert proc.poll() is None, f"dashboard {name} exited {proc.returncode}"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.1)
            deadline -= 0.1
            assert deadline > 0, f"dashboard {name} did not start"
        return proc, int(port_file.read_text())

    def log(self, name: str) -> str:
        return (self.base / f"{name}.log").read_text()

    def refused(self, *args: str) -> Result:
        """Run a second `ikasched dashboard` that must exit at start."""
        proc = subprocess.Popen(
            cli_command("dashboard", *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_env(),
            cwd=self.base,
        )
        self.procs.append(proc)
        try:
            out, err = proc.communicate(timeout=REFUSAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError("the second dashboard started instead of being refused") from None
        return Result(proc.returncode, out.decode(), err.decode())

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def dashboards(tmp_path: Path) -> Iterator[Dashboards]:
    made = Dashboards(tmp_path)
    try:
        yield made
    finally:
        made.stop()


def one_error_line(result: Result) -> str:
    assert result.rc == 1, result
    assert "Traceback" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("ikasched: ")]
    assert len(lines) == 1, result.err
    return lines[0]


def cli(base: Path, *args: str, token_file: Path, port: int) -> Result:
    env = clean_env(IKASCHED_DASHBOARD=f"127.0.0.1:{port}", IKASCHED_TOKEN_FILE=str(token_file))
    return run(list(args), cwd=base, env=env)


# --------------------------------------------------------------------------- one per port


def test_a_second_dashboard_on_the_same_port_fails_at_start(dashboards: Dashboards) -> None:
    first, port = dashboards.start("a")
    result = dashboards.refused(
        "--data-dir", str(dashboards.base / "b"), "--listen", f"127.0.0.1:{port}"
    )
    line = one_error_line(result)
    assert f"port {port} is in use" in line, line
    assert first.poll() is None


def test_the_dashboard_binds_its_port_exclusively(dashboards: Dashboards) -> None:
    """Without SO_REUSEPORT on the dashboard's socket, nobody can bind the port beside it."""
    _first, port = dashboards.start("a")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sharer:
        sharer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        with pytest.raises(OSError) as refused:
            sharer.bind(("127.0.0.1", port))
    assert refused.value.errno == errno.EADDRINUSE


# --------------------------------------------------------------------------- one per data dir


def test_a_second_dashboard_on_the_same_data_dir_fails_at_start(dashboards: Dashboards) -> None:
    first, _port = dashboards.start("a")
    data = dashboards.base / "a"
    result = dashboards.refused("--data-dir", str(data), "--listen", "127.0.0.1:0")
    line = one_error_line(result)
    assert f"data dir {data} is in use" in line and f"pid {first.pid}" in line, line
    assert first.poll() is None
    # the lock goes with its holder, even one killed outright
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    again, _ = dashboards.start("a")
    assert again.poll() is None


def test_a_second_dashboard_on_the_same_sqlite_file_fails_at_start(
    dashboards: Dashboards,
) -> None:
    url = f"sqlite:///{dashboards.base / 'shared' / 'store.sqlite'}"
    (dashboards.base / "shared").mkdir()
    first, _port = dashboards.start("a", "--database-url", url)
    result = dashboards.refused(
        "--data-dir", str(dashboards.base / "b"), "--listen", "127.0.0.1:0", "--database-url", url
    )
    line = one_error_line(result)
    assert "store.sqlite is in use" in line and f"pid {first.pid}" in line, line


# --------------------------------------------------------------------------- the first token


def test_the_first_start_writes_a_bootstrap_admin_token(dashboards: Dashboards) -> None:
    proc, port = dashboards.start("a")
    token_file = dashboards.base / "a" / "admin.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert dashboards.log("a").count(f"bootstrap admin token to {token_file}") == 1
    # it is an admin token: it makes the agent's token
    made = cli(
        dashboards.base,
        "token",
        "create",
        "--subject",
        "agent far",
        "--role",
        "agent",
        "--agent",
        "far",
        "-o",
        "json",
        token_file=token_file,
        port=port,
    )
    assert made.rc == 0, made
    assert made.json()["token"]["agent_name"] == "far"
    # a restart over a store with tokens writes nothing and says nothing
    secret = token_file.read_text()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    dashboards.start("a")
    assert token_file.read_text() == secret
    assert dashboards.log("a").count("bootstrap admin token") == 1


def test_token_bootstrap_offline(dashboards: Dashboards) -> None:
    data = dashboards.base / "d"
    bootstrap = ["token", "bootstrap", "--data-dir", str(data)]
    made = run(bootstrap, cwd=dashboards.base, env=clean_env())
    token_file = data / "admin.token"
    assert made.rc == 0, made
    assert str(token_file) in made.out
    assert token_file.stat().st_mode & 0o777 == 0o600
    first_secret = token_file.read_text()
    # tokens exist: refused, and says how to go on
    again = run(bootstrap, cwd=dashboards.base, env=clean_env())
    line = one_error_line(again)
    assert "already holds 1 token" in line and "--force" in line, line
    assert token_file.read_text() == first_secret
    forced_file = dashboards.base / "second.token"
    forced = run(
        [*bootstrap, "--force", "--file", str(forced_file)], cwd=dashboards.base, env=clean_env()
    )
    assert forced.rc == 0, forced
    # the dashboard over that store writes no token of its own; both tokens are admins
    _proc, port = dashboards.start("d")
    assert "bootstrap admin token" not in dashboards.log("d")
    for token in (token_file, forced_file):
        listed = cli(dashboards.base, "token", "list", "-o", "json", token_file=token, port=port)
        assert listed.rc == 0, listed
        assert len(listed.json()) == 2
