"""A live stack for the CLI tests: the real `ikasched dashboard` (127.0.0.1:0, temp data dir)
and a real `ikasched agent` named "local", both subprocesses, started once per test module;
`Cli.run` runs `ikasched ...` as a subprocess against them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ikasched_cli.up import Stack, prepare_tokens

REPO = Path(__file__).resolve().parents[2]
COMMAND_TIMEOUT = 60.0
WAIT_TIMEOUT = 30.0


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ikasched_cli", *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any IKASCHED_* setting of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IKASCHED_")}
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run(args: list[str], *, cwd: Path, env: dict[str, str], stdin: str | None = None) -> Result:
    done = subprocess.run(
        cli_command(*args),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        input=stdin,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(result: Result, *, rc: int = 1, contains: str = "") -> None:
    """A refusal is one clear line on stderr, a non-zero exit, and no traceback."""
    assert result.rc == rc, (result.rc, result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("ikasched: "), result.err
    assert "Traceback" not in result.err
    assert contains.lower() in lines[0].lower(), (contains, lines[0])


@dataclass
class Cli:
    """Runs commands against the live stack from a directory without any config file."""

    dashboard: str
    admin_token: str
    cwd: Path
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, token: str | None = None) -> dict[str, str]:
        return clean_env(
            IKASCHED_DASHBOARD=self.dashboard,
            IKASCHED_TOKEN=self.admin_token if token is None else token,
            **self.extra_env,
        )

    def run(self, *args: str, token: str | None = None, stdin: str | None = None) -> Result:
        return run(list(args), cwd=self.cwd, env=self.env(token), stdin=stdin)

    def ok(self, *args: str, token: str | None = None) -> Result:
        result = self.run(*args, token=token)
        assert result.rc == 0, (args, result.rc, result.out, result.err)
        return result

    def json(self, *args: str) -> Any:
        return self.ok(*args, "-o", "json").json()

    def job_status(self, instance: str, job: str, child: str = "") -> str:
        found = self.json("instance", "get", instance)
        for j in found.get("jobs", []):
            if j["identifier"] == job and (not child or j.get("child_context_name") == child):
                return str(j.get("status", "INSTANCE_STATUS_UNSPECIFIED"))
        raise AssertionError(f"job {job} not in instance {instance}")

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def wait_job(self, instance: str, job: str, *statuses: str, child: str = "") -> None:
        self.wait_for(
            f"{job} in {statuses}", lambda: self.job_status(instance, job, child) in statuses
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    base = tmp_path_factory.mktemp("cli-stack")
    data_dir = base / "data"
    data_dir.mkdir()
    tokens = prepare_tokens(data_dir)
    procs = Stack(data_dir)
    try:
        port = procs.start_dashboard("127.0.0.1:0")
        dashboard = f"127.0.0.1:{port}"
        procs.start_agent(dashboard, tokens.agent)
        work = base / "work"
        work.mkdir()
        cli = Cli(dashboard, tokens.admin, work, data_dir)
        cli.wait_for(
            "agent local to connect",
            lambda: any(
                a["agent_name"] == "local" and a.get("connected") for a in cli.json("agent", "list")
            ),
        )
        yield cli
    finally:
        for proc in (procs.agent, procs.dashboard):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in (procs.agent, procs.dashboard):
            if proc is not None:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        procs.stop()


def write_plan(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path
