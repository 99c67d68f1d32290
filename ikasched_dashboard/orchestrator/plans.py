"""Compiled plans: each stored plan version's machine and agents, compiled once."""

from __future__ import annotations

from sqlalchemy import Connection

from ikasched.v1 import plan_pb2
from ikasched_common.errors import NotFound
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.orchestrator import messages as out
from ikasched_dashboard.orchestrator.steps import CompiledPlan
from ikasched_dashboard.plans.convert import plan_from_proto
from ikasched_dashboard.store import plans as plan_store


class PlanCache:
    """Compiled plans by (name, version); read through a connection the caller holds."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, int], CompiledPlan] = {}

    def compile(self, conn: Connection, name: str, version: int = 0) -> CompiledPlan:
        """A plan version (0: the newest), compiled on first use."""
        if version:
            found = self._plans.get((name, version))
            if found is not None:
                return found
        record = plan_store.get_plan(conn, name, version)
        if record is None:
            raise NotFound(f"plan {name!r}" + (f" version {version}" if version else ""))
        found = self._plans.get((name, record.version))
        if found is not None:
            return found
        proto = plan_pb2.Context.FromString(record.plan)
        plan = plan_from_proto(proto, version=str(record.version))
        compiled = CompiledPlan(
            plan, proto, record.version, ContextMachine(plan), out.plan_agents(plan)
        )
        self._plans[(name, record.version)] = compiled
        return compiled

    def agents_of(self, name: str) -> list[str]:
        """The agents of every compiled version of a plan."""
        return sorted({a for (n, _), c in self._plans.items() if n == name for a in c.agents})
