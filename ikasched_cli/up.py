"""`ikasched up`: a dashboard on SQLite in ./ikasched-data, one local agent named "local", the
example plans provisioned and an instance of the hello plan, with a live status view.

The dashboard and the agent run as child processes (`python -m ikasched_cli ...`), so
each keeps its own event loop, logs (data dir) and signal handling; Ctrl-C stops the agent,
then the dashboard, and the data dir keeps the state for the next `up`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ikasched_cli import output
from ikasched_cli.client import (
    CLI_CONFIG_NAME,
    FAILED,
    USAGE,
    Client,
    CliError,
    Connection,
)

AGENT_NAME = "local"
HELLO_PLAN = "hello"
HELLO_FIRST_JOB = "local-morning"
START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True, slots=True)
class LocalTokens:
    admin: str
    agent: str
    admin_file: Path


def find_examples(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_dir():
            raise CliError(f"--examples: not a directory: {path}", USAGE)
        return path
    import ikasched_common

    for candidate in (
        Path(ikasched_common.__file__).resolve().parent.parent / "examples",
        Path("examples"),
    ):
        if candidate.is_dir():
            return candidate
    return None


def prepare_tokens(data_dir: Path) -> LocalTokens:
    """Migrate the database, then make sure the admin token and the local agent's token in the
    data dir are valid ones (kept across runs)."""
    from ikasched_common import clock
    from ikasched_common.auth import Role, read_token_file, token_id_of, write_token_file
    from ikasched_common.config import DashboardConfig
    from ikasched_dashboard.services.tokens import TokenSpec, bootstrap_admin_token, create_token
    from ikasched_dashboard.store import db
    from ikasched_dashboard.store import tokens as token_store

    url = DashboardConfig(data_dir=data_dir).effective_database_url
    db.upgrade(url)
    engine = db.create_engine_for(url)
    try:
        admin = bootstrap_admin_token(engine, data_dir / "admin.token")
        agent_file = data_dir / f"agent-{AGENT_NAME}.token"
        agent_secret = ""
        if agent_file.exists():
            with contextlib.suppress(Exception):
                secret = read_token_file(agent_file)
                with db.read_transaction(engine) as conn:
                    record = token_store.get_token(conn, token_id_of(secret))
                if (
                    record is not None
                    and record.role == Role.AGENT.value
                    and record.agent_name == AGENT_NAME
                    and record.active(clock.now_ms())
                ):
                    agent_secret = secret
        if not agent_secret:
            _record, agent_secret = create_token(
                engine, TokenSpec(f"agent {AGENT_NAME}", Role.AGENT, agent_name=AGENT_NAME)
            )
            write_token_file(agent_file, agent_secret)
        return LocalTokens(read_token_file(admin.path), agent_secret, admin.path)
    finally:
        engine.dispose()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` making a child get SIGTERM when this process dies, however it dies
    (SIGKILL included: Linux's PR_SET_PDEATHSIG); None where there is no prctl. The children
    have their own session, so without it a killed `up` would leave them running."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls it
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl
            os._exit(1)

    return preexec


def _own_session() -> dict[str, Any]:
    """Own session (the terminal's Ctrl-C reaches only `up`, which stops them in order), and
    death with `up`."""
    return {"start_new_session": True, "preexec_fn": die_with_parent()}


class Stack:
    """The child processes (dashboard, agent, web console), each dying with this one."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.dashboard: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self.web: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    def _spawn(
        self, argv: list[str], log_name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / log_name, "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "ikasched_cli", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            **_own_session(),
        )

    def start_dashboard(self, listen: str) -> int:
        port_file = self.data_dir / "dashboard.port"
        port_file.unlink(missing_ok=True)
        self.dashboard = self._spawn(
            [
                "dashboard",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                listen,
                "--port-file",
                str(port_file),
            ],
            "dashboard.log",
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if port_file.exists():
                return int(port_file.read_text().strip())
            if self.dashboard.poll() is not None:
                raise CliError(
                    f"the dashboard did not start (exit {self.dashboard.returncode});"
                    f" see {self.data_dir / 'dashboard.log'}"
                )
            time.sleep(0.05)
        raise CliError(
            f"the dashboard did not start within {START_TIMEOUT:.0f}s; see "
            f"{self.data_dir / 'dashboard.log'}"
        )

    def start_agent(self, dashboard: str, token: str) -> None:
        env = dict(os.environ, IKASCHED_TOKEN=token)
        self.agent = self._spawn(
            [
                "agent",
                "run",
                "--name",
                AGENT_NAME,
                "--dashboard",
                dashboard,
                "--data-dir",
                str(self.data_dir / "agent"),
            ],
            "agent.log",
            env,
        )

    def start_web(self, dashboard: str, listen: str, token_file: Path) -> str:
        """The web console (`ikasched web`) with the admin token's sign-in link, which it
        prints first; "" (and why, on stderr) when it does not start."""
        log = open(self.data_dir / "web.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        argv = ["web", "--dashboard", dashboard, "--listen", listen]
        self.web = subprocess.Popen(
            [sys.executable, "-m", "ikasched_cli", *argv, "--token-file", str(token_file)],
            stdout=subprocess.PIPE,
            stderr=log,
            **_own_session(),
        )
        lines: queue.Queue[bytes] = queue.Queue()
        out = self.web.stdout
        assert out is not None
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT).decode(errors="replace").strip()
        except queue.Empty:
            line = ""
        _, found, url = line.partition("console at ")
        if not found:
            print(
                f"ikasched up: the web console did not start; see {self.data_dir / 'web.log'}",
                file=sys.stderr,
                flush=True,
            )
            return ""
        return url

    def check(self) -> None:
        for name, proc in (("dashboard", self.dashboard), ("agent", self.agent)):
            if proc is not None and proc.poll() is not None:
                raise CliError(
                    f"the {name} stopped (exit {proc.returncode}); see "
                    f"{self.data_dir / (name + '.log')}"
                )

    def stop(self) -> None:
        for proc in (self.web, self.agent, self.dashboard):
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._logs:
            log.close()


def write_cli_config(data_dir: Path, dashboard: str, token_file: Path) -> Path:
    path = data_dir / CLI_CONFIG_NAME
    path.write_text(
        "# Written by `ikasched up`: commands run in the directory above need no flags.\n"
        "[cli]\n"
        f'dashboard = "{dashboard}"\n'
        f'token_file = "{token_file.name}"\n'
    )
    return path


def provision(client: Client, examples: Path) -> list[str]:
    from ikasched.v1 import plan_service_pb2, plan_service_pb2_grpc
    from ikasched_cli.commands_plan import load_files

    stub = client.stub(plan_service_pb2_grpc.PlanServiceStub)
    lines = []
    for source, plan in load_files([str(examples)]):
        r = client.call(stub.ProvisionPlan, plan_service_pb2.ProvisionPlanRequest(plan=plan))
        verb = "unchanged" if r.unchanged else "created" if r.created else "updated"
        lines.append(
            f"  plan {r.plan.name:<16} {verb} (version {r.plan.version}, {Path(source).name})"
        )
    return lines


def wait_for_agent(client: Client, stack: Stack, timeout: float = START_TIMEOUT) -> None:
    """Until the local agent's link is up (so its plans reach it before the hello chain)."""
    from ikasched.v1 import admin_service_pb2, admin_service_pb2_grpc

    stub = client.stub(admin_service_pb2_grpc.AgentServiceStub)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check()
        listed = client.call(
            stub.ListAgents, admin_service_pb2.ListAgentsRequest(connected_only=True)
        )
        if any(a.agent_name == AGENT_NAME for a in listed.agents):
            return
        time.sleep(0.05)
    raise CliError(
        f"agent {AGENT_NAME} did not connect within {timeout:.0f}s; see "
        f"{stack.data_dir / 'agent.log'}"
    )


def start_hello(client: Client) -> tuple[Any, bool]:
    """The live hello instance if there is one (a plan that does not run concurrently has at
    most one), else a new one with its chain started by running its first (time) job now.
    Returns (instance, created)."""
    from ikasched.v1 import (
        common_pb2,
        instance_service_pb2,
        instance_service_pb2_grpc,
        job_service_pb2,
        job_service_pb2_grpc,
    )

    instances = client.stub(instance_service_pb2_grpc.InstanceServiceStub)
    live = client.call(
        instances.ListInstances, instance_service_pb2.ListInstancesRequest(context_name=HELLO_PLAN)
    )
    if live.instances:
        return max(live.instances, key=lambda i: i.created_date_time), False
    created = client.call(
        instances.CreateInstance,
        instance_service_pb2.CreateInstanceRequest(context_name=HELLO_PLAN),
    )
    jobs = client.stub(job_service_pb2_grpc.JobServiceStub)
    client.call(
        jobs.RunJob,
        job_service_pb2.RunJobRequest(
            job=common_pb2.JobRef(context_instance_id=created.id, job_identifier=HELLO_FIRST_JOB),
            comment="ikasched up",
        ),
    )
    return created, True


def _ended_stream() -> tuple[str, str]:
    raise CliError("the dashboard ended the status stream")


def _connect_help(dashboard: str, data_dir: Path, web: str = "") -> str:
    return "\n".join(
        [
            f"Dashboard on {dashboard}; data in {data_dir}/ (logs: dashboard.log, agent.log).",
            *([f"Web console (signed in as the local admin): {web}"] if web else []),
            "In another terminal in this directory (no flags needed):",
            "  ikasched plan list | ikasched instance list | ikasched instance watch hello",
            "  ikasched job logs hello local-say-done",
            "Another agent: make it a token, then start it with that token:",
            "  ikasched token create --subject 'agent a2' --role agent --agent a2",
            f"  IKASCHED_TOKEN=<secret> ikasched agent --name a2 --dashboard {dashboard}",
            "Ctrl-C stops the stack; the next `ikasched up` carries on from the same state.",
        ]
    )


def watch_lines(client: Client, iid: str, colour: bool) -> Iterator[tuple[str, str]]:
    """(line, hello status or "") per item of the WatchInstances stream of every instance."""
    from ikasched.v1 import instance_service_pb2, instance_service_pb2_grpc
    from ikasched_cli.commands_instance import change_line, status_name

    stub = client.stub(instance_service_pb2_grpc.InstanceServiceStub)
    request = instance_service_pb2.WatchInstancesRequest(send_initial=True)
    for item in client.stream(stub.WatchInstances, request):
        if item.WhichOneof("item") == "snapshot":
            snap = item.snapshot
            status = status_name(snap.status)
            yield (
                f"{snap.context_name:<16} {snap.id}  {output.status_text(status, colour)}",
                status if snap.id == iid else "",
            )
            continue
        change = item.change
        hello = ""
        if (
            change.context_instance_id == iid
            and change.WhichOneof("change") == "context"
            and change.context.context_name == change.context_name
        ):
            hello = status_name(change.context.new_status)
        yield change_line(change, colour), hello


class StatusFeed:
    """The watch stream read on a thread, so the foreground can wait with a timeout: redraw,
    notice a child that stopped, and keep a deadline even when no event arrives."""

    def __init__(self, client: Client, iid: str, colour: bool) -> None:
        self.hello_id = iid
        self._queue: queue.Queue[tuple[str, str] | BaseException | None] = queue.Queue()
        self._thread = threading.Thread(
            target=self._pump, args=(client, iid, colour), name="status-feed", daemon=True
        )
        self._thread.start()

    def _pump(self, client: Client, iid: str, colour: bool) -> None:
        try:
            for item in watch_lines(client, iid, colour):
                self._queue.put(item)
            self._queue.put(None)
        except BaseException as exc:  # handed to the foreground, which reports it
            self._queue.put(exc)

    def get(self, timeout: float) -> tuple[str, str] | None:
        """The next (line, hello status); ("", "") when nothing came within `timeout`."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return "", ""
        if isinstance(item, BaseException):
            raise item
        return item


def up(args: argparse.Namespace) -> int:
    from ikasched_common.files import private_dir, private_files

    private_files()  # its logs, tokens and config, and the processes it starts: private
    data_dir = private_dir(Path(args.data_dir).resolve())
    examples = find_examples(args.examples)
    print(f"ikasched up: data in {data_dir}", flush=True)
    tokens = prepare_tokens(data_dir)
    stack = Stack(data_dir)

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_signal)
    client: Client | None = None
    try:
        port = stack.start_dashboard(args.listen)
        host = args.listen.rpartition(":")[0] or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        dashboard = f"{host}:{port}"
        write_cli_config(data_dir, dashboard, tokens.admin_file)
        stack.start_agent(dashboard, tokens.agent)
        web = "" if args.no_web else stack.start_web(dashboard, args.web_listen, tokens.admin_file)
        if web:
            print(f"web console: {web}", flush=True)
        client = Client(Connection(dashboard=dashboard, token=tokens.admin))
        wait_for_agent(client, stack)
        if examples is not None:
            print(f"provisioning the plans of {examples}:", flush=True)
            for line in provision(client, examples):
                print(line, flush=True)
        hello, created = start_hello(client)
        if created:
            print(f"hello instance {hello.id} started\n", flush=True)
        else:
            from ikasched_cli.commands_instance import status_name

            print(
                f"hello instance {hello.id} is still live "
                f"({status_name(hello.status)}); following it\n",
                flush=True,
            )
        deadline = time.monotonic() + args.timeout if args.exit_when_complete else None
        footer = _connect_help(dashboard, data_dir, web)
        screen = output.use_colour(sys.stdout)  # a terminal: redraw a status screen
        if not screen:
            print(footer + "\n", flush=True)
        feed = StatusFeed(client, hello.id, screen)
        view = contextlib.nullcontext(None)
        if screen:
            from ikasched_cli.up_view import LiveView

            view = LiveView(client, hello.id, footer)  # type: ignore[assignment]
        with view as live:
            status = _follow(args, stack, feed, live, deadline)
        print(f"hello instance {hello.id}: {status}", flush=True)
        return 0 if status == "COMPLETE" else FAILED
    except KeyboardInterrupt:
        print("\nstopping the agent and the dashboard ...", flush=True)
        return 0
    finally:
        if client is not None:
            client.close()
        stack.stop()
        signal.signal(signal.SIGTERM, previous)


def _follow(
    args: argparse.Namespace, stack: Stack, feed: StatusFeed, live: Any, deadline: float | None
) -> str:
    """Print the changes (no terminal) or redraw the live view (at most five times a second)
    until the hello instance finishes (--exit-when-complete; its status) or Ctrl-C."""
    status, dirty, drawn = "", True, 0.0
    while True:
        line, seen = feed.get(timeout=0.25) or _ended_stream()
        stack.check()
        status = seen or status
        if line and live is None:
            print(line, flush=True)
        dirty = dirty or bool(line)
        finished = args.exit_when_complete and status in ("COMPLETE", "ERROR", "ENDED")
        if live is not None and dirty and (finished or time.monotonic() - drawn >= 0.2):
            live.draw()
            dirty, drawn = False, time.monotonic()
        if finished:
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise CliError(
                f"hello instance {feed.hello_id} not COMPLETE within {args.timeout:.0f}s"
            )
