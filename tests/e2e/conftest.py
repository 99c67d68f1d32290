"""The end-to-end stack: the real `ikasched dashboard` and two real `ikasched agent` processes
("local" and "remote") on 127.0.0.1 with temporary data dirs, driven only through `ikasched`
subprocesses.

Only the first admin token is made in-process (as `ikasched up` does); the agents' tokens come
from `ikasched token create`. Every wait has a deadline, and teardown kills the processes and
any job wrapper still running from the agents' run directories.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parents[2]
AGENTS = ("local", "remote")
COMMAND_TIMEOUT = 60.0
WAIT_TIMEOUT = 40.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
POLL = 0.2


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ikasched_cli", *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any IKASCHED_* setting of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IKASCHED_")}
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class Result:
    args: tuple[str, ...]
    rc: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def assert_one_line_error(result: Result, *, rc: int = 1, contains: str = "") -> None:
    """A refusal: a non-zero exit and one line on stderr naming the problem, no traceback."""
    assert result.rc == rc, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("ikasched: "), result.err
    assert "Traceback" not in result.err
    assert contains.lower() in lines[0].lower(), (contains, lines[0])


def wait_until(what: str, check: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL)


def run_count(marks: Path, name: str) -> int:
    """How many times the job writing `marks/name` has run (one line per run)."""
    path = marks / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def job_changes(changes: list[dict[str, Any]]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(job identifier, child context) -> its (from, to) transitions in order."""
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for c in changes:
        if "job" in c:
            j = c["job"]
            out.setdefault((j["job_identifier"], j.get("child_context_name", "")), []).append(
                (j.get("previous_status", "INSTANCE_STATUS_UNSPECIFIED"), j["new_status"])
            )
    return out


def assert_transitions_once(changes: list[dict[str, Any]]) -> None:
    """Each transition is recorded once: no process event (cause id) moves a job twice, and
    each job's transitions chain (one's `to` is the next one's `from`). Verb causes are
    "verb:<name>", the same for every use, so an operator's repeated verb is not a replay."""
    keys = Counter(
        (
            c["job"]["job_identifier"],
            c["job"].get("child_context_name", ""),
            c["job"].get("cause", ""),
            c["job"].get("previous_status", ""),
            c["job"]["new_status"],
        )
        for c in changes
        if "job" in c and not c["job"].get("cause", "").startswith("verb:")
    )
    assert [k for k, n in keys.items() if n > 1] == [], keys
    for job, steps in job_changes(changes).items():
        for (_, to), (after_from, _) in itertools.pairwise(steps):
            assert to == after_from, (job, steps)


class E2EStack:
    """The dashboard and agents as subprocesses, plus the `ikasched` command against them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data_dir = base / "dashboard"
        self.work = base / "work"
        self.marks = base / "marks"
        for d in (self.data_dir, self.work, self.marks):
            d.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.admin_token = ""
        self.agent_tokens: dict[str, str] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        # what `ikasched plan apply -f examples/` printed when the stack started
        self.examples_applied: Result | None = None
        # extra `ikasched dashboard` flags, kept for restarts (e.g. a short liveness timeout)
        self.dashboard_flags: tuple[str, ...] = ()
        self._logs: list[IO[bytes]] = []

    # ---- the command --------------------------------------------------------------------

    @property
    def dashboard(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return clean_env(IKASCHED_DASHBOARD=self.dashboard, IKASCHED_TOKEN=self.admin_token)

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> Result:
        done = subprocess.run(
            cli_command(*args),
            cwd=self.work,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(tuple(args), done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.rc == 0, result
        return result

    def json(self, *args: str) -> Any:
        return self.ok(*args, "-o", "json").json()

    # ---- reading an instance --------------------------------------------------------------

    def instance(self, iid: str) -> dict[str, Any]:
        found: dict[str, Any] = self.json("instance", "get", iid)
        return found

    def jobs(self, iid: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(identifier, child context) -> the job as `instance get -o json` shows it."""
        return {
            (j["identifier"], j.get("child_context_name", "")): j
            for j in self.instance(iid).get("jobs", [])
        }

    def job(self, iid: str, ident: str, child: str = "") -> dict[str, Any]:
        for (name, ctx), j in self.jobs(iid).items():
            if name == ident and (not child or ctx == child):
                return j
        raise AssertionError(f"job {ident} not in instance {iid}")

    def job_status(self, iid: str, ident: str, child: str = "") -> str:
        return str(self.job(iid, ident, child).get("status", "INSTANCE_STATUS_UNSPECIFIED"))

    def wait_job(
        self, iid: str, ident: str, *statuses: str, child: str = "", timeout: float = WAIT_TIMEOUT
    ) -> None:
        seen: list[str] = []

        def check() -> bool:
            seen.append(self.job_status(iid, ident, child))
            return seen[-1] in statuses

        try:
            wait_until(f"{ident} in {statuses}", check, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last status {seen[-1:]}") from None

    def wait_instance(self, iid: str, *statuses: str, timeout: float = WAIT_TIMEOUT) -> None:
        seen: list[str] = []

        def check() -> bool:
            seen.append(str(self.instance(iid).get("status")))
            return seen[-1] in statuses

        try:
            wait_until(f"instance {iid} in {statuses}", check, timeout)
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}; last status {seen[-1:]}; jobs "
                f"{ {k: v.get('status') for k, v in self.jobs(iid).items()} }"
            ) from None

    def audit(self, iid: str, *, seconds: float = 2.0) -> list[dict[str, Any]]:
        """Every change of the instance, replayed by `ikasched instance watch --after 1`
        (position 1 is taken by the plans applied at start; "0" would mean "from now"), in
        position order; its first change must be the instance's creation."""
        result = self.run(
            "instance", "watch", iid, "--after", "1", "--for", str(seconds), "-o", "json"
        )
        assert result.rc == 0, result
        decoder = json.JSONDecoder()
        text, at, changes = result.out, 0, []
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            item, at = decoder.raw_decode(text, at)
            if "change" in item:
                changes.append(item["change"])
        assert changes, result
        first = changes[0].get("context", {})
        assert first.get("new_status") == "WAITING" and "previous_status" not in first, (
            "the replay does not start at the instance's creation",
            changes[0],
        )
        positions = [int(c["position"]) for c in changes]
        assert positions == sorted(set(positions)), positions
        return changes

    # ---- processes ------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(
            cli_command(*argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.work,
            start_new_session=True,
        )

    def bootstrap(self) -> None:
        """Migrate the database through the CLI, then make the first admin token (the one
        step no command does on its own: `ikasched up` makes it in-process too)."""
        result = subprocess.run(
            cli_command("db", "upgrade", "--data-dir", str(self.data_dir)),
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        assert result.returncode == 0, result
        from ikasched_common.auth import read_token_file
        from ikasched_common.config import DashboardConfig
        from ikasched_dashboard.services.tokens import bootstrap_admin_token
        from ikasched_dashboard.store import db

        engine = db.create_engine_for(
            DashboardConfig(data_dir=self.data_dir).effective_database_url
        )
        try:
            made = bootstrap_admin_token(engine, self.data_dir / "admin.token")
        finally:
            engine.dispose()
        self.admin_token = read_token_file(made.path)

    def start_dashboard(self) -> None:
        port_file = self.data_dir / "dashboard.port"
        port_file.unlink(missing_ok=True)
        # the first start picks a free port; restarts keep it, so agents find it again
        self._spawn(
            "dashboard",
            [
                "dashboard",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                self.dashboard,
                "--port-file",
                str(port_file),
                *self.dashboard_flags,
            ],
            clean_env(),
        )
        proc = self.procs["dashboard"]

        def ready() -> bool:
            assert proc.poll() is None, f"dashboard exited {proc.returncode}; see log"
            return port_file.exists()

        wait_until("the dashboard's port file", ready, START_TIMEOUT)
        self.port = int(port_file.read_text().strip())

    def create_agent_token(self, name: str) -> str:
        made = self.json(
            "token", "create", "--subject", f"agent {name}", "--role", "agent", "--agent", name
        )
        secret = str(made["secret"])
        assert made["token"]["agent_name"] == name
        self.agent_tokens[name] = secret
        return secret

    def start_agent(self, name: str, *, dashboard: str = "") -> None:
        """`dashboard`: the address the agent dials (default: the dashboard's own; e.g. a
        fault-injecting proxy in front of it)."""
        token = self.agent_tokens.get(name) or self.create_agent_token(name)
        self._spawn(
            f"agent-{name}",
            [
                "agent",
                "--name",
                name,
                "--dashboard",
                dashboard or self.dashboard,
                "--data-dir",
                str(self.base / f"agent-{name}"),
            ],
            clean_env(IKASCHED_TOKEN=token),
        )

    def agent_connected(self, name: str) -> bool:
        return any(
            a["agent_name"] == name and a.get("connected") for a in self.json("agent", "list")
        )

    def wait_agents(self, *names: str, timeout: float = WAIT_TIMEOUT) -> None:
        for name in names:
            proc = self.procs[f"agent-{name}"]

            def up(name: str = name, proc: subprocess.Popen[bytes] = proc) -> bool:
                assert proc.poll() is None, f"agent {name} exited {proc.returncode}"
                return self.agent_connected(name)

            wait_until(f"agent {name} to connect", up, timeout)

    def signal(self, name: str, sig: signal.Signals) -> int:
        """Send `sig` to a process of the stack and wait for it to exit; its exit status."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        return proc.wait(STOP_TIMEOUT)

    def job_wrappers(self) -> list[int]:
        """Pids of job wrappers still alive, from the agents' run records."""
        pids = []
        for claim in self.base.glob("agent-*/runs/*/claim"):
            with contextlib.suppress(OSError, ValueError):
                records = claim.read_text().splitlines()
                if not records or any(r.startswith("rc ") for r in records):
                    continue
                pid, start = (int(x) for x in records[0].split()[:2])
                stat = Path(f"/proc/{pid}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[19]) == start:
                    pids.append(pid)
        return pids

    def close(self) -> None:
        for name in sorted(self.procs, key=lambda n: n == "dashboard"):
            proc = self.procs[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in self.job_wrappers():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for log in self._logs:
            log.close()


@dataclass
class StackFactory:
    tmp: pytest.TempPathFactory
    made: list[E2EStack] = field(default_factory=list)

    def __call__(self, name: str = "e2e", *, dashboard_flags: tuple[str, ...] = ()) -> E2EStack:
        """Dashboard, agent tokens through the CLI, both agents connected."""
        stack = E2EStack(self.tmp.mktemp(name))
        stack.dashboard_flags = dashboard_flags
        self.made.append(stack)
        stack.bootstrap()
        stack.start_dashboard()
        for agent in AGENTS:
            stack.start_agent(agent)
        stack.wait_agents(*AGENTS)
        # the examples take the first change-log positions (see E2EStack.audit)
        stack.examples_applied = stack.ok("plan", "apply", "-f", str(REPO / "examples"))
        return stack

    def close(self) -> None:
        for stack in self.made:
            stack.close()


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """One stack shared by a module's tests (for tests that restart nothing)."""
    factory = StackFactory(tmp_path_factory)
    try:
        yield factory("e2e-module")
    finally:
        factory.close()


@pytest.fixture
def stack_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """Stacks made by the test itself (e.g. with dashboard flags), closed after it."""
    factory = StackFactory(tmp_path_factory)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def fresh_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    """A stack of the test's own (for tests that kill and restart its processes)."""
    factory = StackFactory(tmp_path_factory)
    try:
        yield factory("e2e-fresh")
    finally:
        factory.close()


def write_plan(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path
