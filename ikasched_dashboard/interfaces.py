"""Interfaces between the dashboard's parts.

The orchestrator owns every live plan instance (one ContextMachine each) and is the only writer
of instance state. Operator services and the lifecycle (time windows, TTL ends, recovery) talk to
it through `Orchestration`; each call goes through the instance's serial queue and returns after
its effects are committed (docs/architecture.md §5). Domain errors (NotFound, FailedPrecondition,
InvalidArgument from ikasched_common.errors) propagate to the caller unchanged; the gRPC edge
maps them to status codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.inputs import Input, Pairs


@dataclass(frozen=True, slots=True)
class NewInstance:
    """What the lifecycle or an operator asks for when an instance is created."""

    plan_name: str
    # Window start of a scheduled instance (planned start for PREPARED), epoch ms.
    start_time_ms: int
    # Previous window start + TTL (docs/semantics.md §9.2); 0 = no end trigger.
    projected_end_time_ms: int = 0
    parameters: Pairs = ()
    hold_command_jobs: bool = False
    # "schedule", "recovery", or the operator's name (recorded as the actor).
    created_by: str = "schedule"
    # Build a PREPARED instance (not live: no agents, no global events) instead of a WAITING one.
    prepared: bool = False
    reset_from_instance_id: str = ""
    # The id to give the instance; "" = a new random one (a keyed CreateInstance derives it).
    instance_id: str = ""


@dataclass(frozen=True, slots=True)
class VerbResult:
    """What a verb changed, committed."""

    instance_id: str
    # (job identifier, child context name) of every occurrence whose state changed.
    changed_jobs: tuple[tuple[str, str], ...] = ()
    # Occurrences a bulk verb left alone, with the reason.
    ignored: tuple[str, ...] = ()


class Orchestration(Protocol):
    """The orchestrator as the services and the lifecycle see it."""

    async def create_instance(self, spec: NewInstance) -> str:
        """Create (and, unless prepared, activate and publish to agents) an instance; its id."""
        ...

    async def activate_instance(
        self, instance_id: str, *, time_ms: int, projected_end_time_ms: int = 0
    ) -> None:
        """A PREPARED instance goes live (WAITING) and is published to its agents."""
        ...

    async def apply(self, instance_id: str, verb: Input) -> VerbResult:
        """Run an operator verb (engine input) through the instance's serial queue."""
        ...

    async def end_instance(
        self, instance_id: str, *, actor: str, time_ms: int, kill_running_jobs: bool = True
    ) -> None:
        """End an instance: kill its running jobs, remove it from agents, ENDED."""
        ...

    async def drop_prepared(self, instance_id: str) -> None:
        """Forget a PREPARED instance (plan disabled or rescheduled)."""
        ...

    async def kill_job(
        self,
        instance_id: str,
        job_identifier: str,
        child_context_name: str,
        *,
        destroy: bool,
        actor: str,
    ) -> VerbResult:
        """Ask the job's agent to kill its running process (state follows the agent's event)."""
        ...

    async def raise_global_event(
        self,
        job_name: str,
        *,
        environment_group: str,
        ignore_environment_group: bool,
        actor: str,
        time_ms: int,
        plans: frozenset[str] | None = None,
    ) -> list[str]:
        """Deliver a global event to every live instance of the group (of `plans` only, when
        given: a plan-limited operator's event reaches its own plans); the ids reached."""
        ...

    async def plan_provisioned(self, plan_name: str) -> None:
        """A plan version was stored: provision its jobs to its agents."""
        ...

    async def plan_removed(self, plan_name: str) -> None:
        """A plan was deleted: remove its jobs from its agents."""
        ...

    def events_that_can_run(
        self, instance_id: str, job_identifier: str, child_context_name: str
    ) -> Sequence[RaiseInitiation]:
        """Read-only: what would be raised if this job completed now."""
        ...

    def live_instance_ids(self, plan_name: str | None = None) -> list[str]:
        """Ids of live (non-ENDED, non-PREPARED) instances, optionally of one plan."""
        ...
