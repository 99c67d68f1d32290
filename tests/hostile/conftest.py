"""Hostile callers against the fully wired dashboard (security, lifecycle, every service, the
core) on 127.0.0.1: tokens of every kind, simulated agents with their own agent tokens, two
plans so a plan-limited token has another plan's objects to reach for, and a dump of the
stored state to show a refused call changed nothing."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import Engine, select

from ikasched.v1 import (
    admin_service_pb2_grpc,
    instance_service_pb2_grpc,
    job_service_pb2_grpc,
    plan_pb2,
    plan_service_pb2,
    plan_service_pb2_grpc,
)
from ikasched_common.auth import Role, bearer_metadata
from ikasched_common.config import DashboardConfig
from ikasched_dashboard.app import Dashboard
from ikasched_dashboard.plans.loader import plan_from_dict
from ikasched_dashboard.services.tokens import TokenSpec, create_token
from ikasched_dashboard.store import db
from ikasched_dashboard.store import tokens as token_store
from ikasched_dashboard.store.schema import metadata
from ikasched_dashboard.testing import FAST, SimAgent

# Columns that move on their own (presence, token use, housekeeping), not by a caller's act.
_MOVING = frozenset({"last_used", "last_seen", "connected", "connected_since", "updated_time"})
# Per table: the coordinator's state is rewritten (its write counter moves) by every batch
# that ran a coordinator input, even one that changed nothing (a global event reaching none).
_MOVING_IN = {"lock_state": frozenset({"version"})}


def token(app: Dashboard, role: Role, subject: str = "", **kwargs: Any) -> str:
    """A new token's secret, stored in the dashboard's store."""
    _record, secret = create_token(
        app.engine, TokenSpec(subject or role.value.lower(), role, **kwargs)
    )
    return secret


def revoke_in_store(engine: Engine, secret: str) -> None:
    """Revoke behind the dashboard's back, as another dashboard process would."""
    token_id = secret.split("_")[1]
    with db.write_transaction(engine) as conn:
        token_store.revoke_token(conn, token_id, int(time.time() * 1000))


@dataclass(frozen=True, slots=True)
class Tokens:
    admin: str
    viewer: str
    operator_a: str  # operator limited to plan "pa"
    viewer_a: str  # viewer limited to plan "pa"
    admin_a: str  # admin limited to plan "pa"
    agent_a1: str
    agent_b1: str
    expired: str
    revoked: str
    malformed: str


def make_tokens(app: Dashboard) -> Tokens:
    now = int(time.time() * 1000)
    _rec, expired = create_token(
        app.engine, TokenSpec("old", Role.ADMIN, ttl_seconds=1), now_ms=now - 60_000
    )
    revoked = token(app, Role.ADMIN, "gone")
    revoke_in_store(app.engine, revoked)
    return Tokens(
        admin=token(app, Role.ADMIN, "alice"),
        viewer=token(app, Role.VIEWER, "vera"),
        operator_a=token(app, Role.OPERATOR, "olga", plan_names=("pa",)),
        viewer_a=token(app, Role.VIEWER, "val", plan_names=("pa",)),
        admin_a=token(app, Role.ADMIN, "pat", plan_names=("pa",)),
        agent_a1=token(app, Role.AGENT, "agent a1", agent_name="a1"),
        agent_b1=token(app, Role.AGENT, "agent b1", agent_name="b1"),
        expired=expired,
        revoked=revoked,
        malformed="iks_not-a-token",
    )


@contextlib.asynccontextmanager
async def wired(tmp: Path) -> AsyncIterator[Dashboard]:
    """The whole dashboard, tokens required, fast link settings for simulated agents."""
    app = Dashboard(
        DashboardConfig(data_dir=tmp / "dash", listen="127.0.0.1:0"), link_settings=FAST
    )
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def _command(agent: str, job: str) -> dict[str, Any]:
    return {"agentName": agent, "jobName": job, "internalEventDrivenJob": {"commandLine": "true"}}


def two_agent_plan(name: str, first: str, second: str) -> plan_pb2.Context:
    """first-start (time job on `first`) -> first-j1 -> second-j2, and a global job "go"
    that second-after waits for."""
    return plan_from_dict(
        {
            "name": name,
            "scheduledJobs": [
                {
                    "agentName": first,
                    "jobName": "start",
                    "quartzScheduleDrivenJob": {"cronExpression": "0 0 0 * * ?"},
                },
                {
                    "agentName": first,
                    "jobName": "j1",
                    "internalEventDrivenJob": {"commandLine": "true"},
                },
                {
                    "agentName": second,
                    "jobName": "j2",
                    "internalEventDrivenJob": {"commandLine": "true"},
                },
                {"agentName": "GLOBAL_EVENT", "jobName": "go", "globalEventJob": {}},
                {
                    "agentName": second,
                    "jobName": "after",
                    "internalEventDrivenJob": {"commandLine": "true"},
                },
            ],
            "jobDependencies": [
                {"jobIdentifier": f"{first}-start"},
                {"jobIdentifier": f"{first}-j1", "logicalGrouping": {"and": [f"{first}-start"]}},
                {"jobIdentifier": f"{second}-j2", "logicalGrouping": {"and": [f"{first}-j1"]}},
                {
                    "jobIdentifier": f"{second}-after",
                    "logicalGrouping": {"and": ["GLOBAL_EVENT-go"]},
                },
            ],
        }
    )


class Api:
    """Stubs of every operator service over one channel, with a token."""

    def __init__(self, channel: grpc.aio.Channel, secret: str) -> None:
        self.md = bearer_metadata(secret)
        self.plans: Any = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
        self.instances: Any = instance_service_pb2_grpc.InstanceServiceStub(channel)  # type: ignore[no-untyped-call]
        self.jobs: Any = job_service_pb2_grpc.JobServiceStub(channel)  # type: ignore[no-untyped-call]
        self.agents: Any = admin_service_pb2_grpc.AgentServiceStub(channel)  # type: ignore[no-untyped-call]
        self.events: Any = admin_service_pb2_grpc.GlobalEventServiceStub(channel)  # type: ignore[no-untyped-call]
        self.tokens: Any = admin_service_pb2_grpc.TokenServiceStub(channel)  # type: ignore[no-untyped-call]

    async def provision(self, plan: plan_pb2.Context) -> None:
        await self.plans.ProvisionPlan(
            plan_service_pb2.ProvisionPlanRequest(plan=plan), metadata=self.md
        )


@contextlib.asynccontextmanager
async def sim_agents(app: Dashboard, *agents: SimAgent) -> AsyncIterator[None]:
    for agent in agents:
        await agent.start()
    try:
        yield
    finally:
        for agent in agents:
            await agent.stop()


def sim(app: Dashboard, name: str, secret: str, **kwargs: Any) -> SimAgent:
    return SimAgent(name, f"127.0.0.1:{app.port}", token=secret, **kwargs)


def dump_state(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of every table, without the columns that move on their own."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.read_transaction(engine) as conn:
        for table in metadata.sorted_tables:
            skip = _MOVING | _MOVING_IN.get(table.name, frozenset())
            columns = [c for c in table.columns if c.name not in skip]
            rows = conn.execute(select(*columns)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


@contextlib.contextmanager
def unchanged(engine: Engine) -> Iterator[None]:
    """Assert the block changed no stored row."""
    before = dump_state(engine)
    yield
    after = dump_state(engine)
    changed = {t for t in before if before[t] != after.get(t)}
    assert not changed, {t: (before[t], after.get(t)) for t in sorted(changed)}
