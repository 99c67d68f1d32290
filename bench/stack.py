"""A real dashboard and real agents as processes (`ikasched dashboard`, `ikasched agent run`) on
127.0.0.1, driven over the operator gRPC API the way the CLI drives them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    common_pb2,
    instance_pb2,
    instance_service_pb2,
    instance_service_pb2_grpc,
    job_service_pb2,
    job_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_cli.client import Client, Connection
from ikasched_cli.up import prepare_tokens
from ikasched_dashboard.plans.loader import plan_from_dict

START_TIMEOUT = 60.0
ENDED = {common_pb2.COMPLETE, common_pb2.ERROR, common_pb2.SKIPPED_COMPLETE}


def agent_token(data_dir: Path, name: str) -> str:
    from ikasched_common.auth import Role
    from ikasched_common.config import DashboardConfig
    from ikasched_dashboard.services.tokens import TokenSpec, create_token
    from ikasched_dashboard.store import db

    engine = db.create_engine_for(DashboardConfig(data_dir=data_dir).effective_database_url)
    try:
        _record, secret = create_token(
            engine, TokenSpec(f"agent {name}", Role.AGENT, agent_name=name)
        )
    finally:
        engine.dispose()
    return secret


class RealStack:
    """One `ikasched dashboard` on SQLite in `data_dir` and one `ikasched agent run` per name."""

    def __init__(self, data_dir: Path, durability: str, agents: list[str]) -> None:
        self.data_dir = data_dir
        self.durability = durability
        self.names = agents
        self.dashboard: subprocess.Popen[bytes] | None = None
        self.agents: dict[str, subprocess.Popen[bytes]] = {}
        self.port = 0
        self._logs: list[IO[bytes]] = []
        self._client: Client | None = None
        self._tokens: dict[str, str] = {}
        self._admin = ""
        self.first_start_seconds = 0.0  # the dashboard's start on an empty store

    # ------------------------------------------------------------------ processes
    def _spawn(
        self, argv: list[str], log_name: str, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / log_name, "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "ikasched_cli", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IKASCHED_")}
        env["IKASCHED_JOURNAL_DURABILITY"] = self.durability
        env.update(extra)
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tokens = prepare_tokens(self.data_dir)  # migrates; admin token and agent "local"
        self._admin = tokens.admin
        for name in self.names:
            self._tokens[name] = (
                tokens.agent if name == "local" else agent_token(self.data_dir, name)
            )
        self.first_start_seconds = self.start_dashboard()
        for name in self.names:
            self.start_agent(name)
        self.wait_agents()

    def start_dashboard(self) -> float:
        """Start the dashboard; returns seconds until its port file (it is SERVING then)."""
        port_file = self.data_dir / "dashboard.port"
        port_file.unlink(missing_ok=True)
        listen = f"127.0.0.1:{self.port}" if self.port else "127.0.0.1:0"
        t0 = time.perf_counter()
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
            self._env(),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists() or not port_file.read_text().strip():
            if self.dashboard.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the dashboard did not start; see {self.data_dir}/dashboard.log"
                )
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        self.port = int(port_file.read_text().strip())
        return elapsed

    def start_agent(self, name: str) -> None:
        self.agents[name] = self._spawn(
            [
                "agent",
                "run",
                "--name",
                name,
                "--dashboard",
                f"127.0.0.1:{self.port}",
                "--data-dir",
                str(self.data_dir / f"agent-{name}"),
            ],
            f"agent-{name}.log",
            self._env(IKASCHED_TOKEN=self._tokens[name]),
        )

    def kill_dashboard(self) -> None:
        assert self.dashboard is not None
        self.dashboard.send_signal(signal.SIGKILL)
        self.dashboard.wait()
        if self._client is not None:
            self._client.close()
            self._client = None

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        for proc in [*self.agents.values(), self.dashboard]:
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

    # ------------------------------------------------------------------ operator API
    @property
    def admin_token(self) -> str:
        return self._admin

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(Connection(dashboard=f"127.0.0.1:{self.port}", token=self._admin))
        return self._client

    def call(self, factory: Callable[[Any], Any], method: str, request: Any) -> Any:
        return self.client.call(getattr(self.client.stub(factory), method), request)

    def wait_agents(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = self.call(
                admin_service_pb2_grpc.AgentServiceStub,
                "ListAgents",
                admin_service_pb2.ListAgentsRequest(connected_only=True),
            )
            if {a.agent_name for a in listed.agents} >= set(self.names):
                return
            time.sleep(0.05)
        raise RuntimeError(f"agents {self.names} did not connect; see {self.data_dir}")

    def provision(self, plan: dict[str, Any]) -> None:
        self.call(
            plan_service_pb2_grpc.PlanServiceStub,
            "ProvisionPlan",
            plan_service_pb2.ProvisionPlanRequest(plan=plan_from_dict(plan)),
        )

    def create_instance(self, plan: str) -> str:
        made = self.call(
            instance_service_pb2_grpc.InstanceServiceStub,
            "CreateInstance",
            instance_service_pb2.CreateInstanceRequest(context_name=plan),
        )
        return str(made.id)

    def run_job(self, iid: str, job: str) -> None:
        ref = common_pb2.JobRef(context_instance_id=iid, job_identifier=job)
        self.call(
            job_service_pb2_grpc.JobServiceStub,
            "RunJob",
            job_service_pb2.RunJobRequest(job=ref, comment="bench"),
        )

    def instance(self, iid: str) -> instance_pb2.ContextInstance:
        got: instance_pb2.ContextInstance = self.call(
            instance_service_pb2_grpc.InstanceServiceStub,
            "GetInstance",
            instance_service_pb2.GetInstanceRequest(context_instance_id=iid),
        )
        return got

    def wait_jobs(
        self,
        iid: str,
        done: Callable[[instance_pb2.SchedulerJobInstance], bool],
        timeout: float = 300.0,
        poll: float = 0.2,
    ) -> instance_pb2.ContextInstance:
        """Poll (slowly: the figures come from the agents' own timestamps) until every job of
        the instance satisfies `done`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.instance(iid)
            if got.jobs and all(done(j) for j in got.jobs):
                return got
            if time.monotonic() > deadline:
                raise RuntimeError(f"instance {iid} not done within {timeout:.0f}s")
            time.sleep(poll)


def ended(job: instance_pb2.SchedulerJobInstance) -> bool:
    return job.status in ENDED


def command_job(agent: str, name: str, command: str = "true") -> dict[str, Any]:
    return {
        "agentName": agent,
        "jobName": name,
        "internalEventDrivenJob": {"commandLine": command, "timeoutSeconds": 600},
    }


def cron_job(agent: str, name: str, cron: str) -> dict[str, Any]:
    return {
        "agentName": agent,
        "jobName": name,
        "quartzScheduleDrivenJob": {"cronExpression": cron},
    }


def plan_dict(name: str, jobs: list[dict[str, Any]], deps: list[dict[str, Any]]) -> dict[str, Any]:
    # a TTL: a restarted dashboard ends live instances that have no projected end
    return {
        "name": name,
        "timezone": "UTC",
        "ableToRunConcurrently": True,
        "contextTtlMilliseconds": 86_400_000,
        "scheduledJobs": jobs,
        "jobDependencies": deps,
    }
