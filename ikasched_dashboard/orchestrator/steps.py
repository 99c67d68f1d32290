"""Steps and batches: how each input's changes are kept apart until it has fully succeeded.

A step holds one input's changes: copies of the instances it touched (`Live`), the
coordinator's new state, and the rows it adds (audits, outbox, run facts, acknowledgements,
retry timers). Only when the input succeeds is the step merged into the batch being built; a
refused verb or a failing agent message leaves nothing behind (its step is just dropped).

`Layers` answers what a step sees: its own changes, over the batch being built, over the
batch whose commit is in flight, over the committed states.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ikasched.v1 import plan_pb2
from ikasched_common.errors import NotFound
from ikasched_common.journal import JournalItem
from ikasched_dashboard.engine.coordinator import Coordinator, CoordinatorState
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import Plan
from ikasched_dashboard.engine.state import InstanceState, JobKey
from ikasched_dashboard.store.batches import ErrorAck, RunFacts
from ikasched_dashboard.store.changes import AuditEntry
from ikasched_dashboard.store.instances import InstanceRow
from ikasched_dashboard.store.messages import OutboxMessage


@dataclass(frozen=True, slots=True)
class CompiledPlan:
    plan: Plan
    proto: plan_pb2.Context
    version: int
    machine: ContextMachine
    agents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobRef:
    """One job occurrence of one instance."""

    instance_id: str
    job_identifier: str
    child_context: str


@dataclass(frozen=True, slots=True)
class Retry:
    """A job's pending retry: its attempt and when it is due (epoch ms)."""

    attempt: int
    due_ms: int


@dataclass(frozen=True, slots=True)
class ScheduledRetry:
    """A retry a step scheduled, armed as a timer once its batch has committed."""

    instance_id: str
    job: JobKey
    attempt: int
    due_ms: int


@dataclass(slots=True)
class Live:
    """A live (or PREPARED) instance: committed state and its row."""

    state: InstanceState
    compiled: CompiledPlan
    row: InstanceRow
    retries: dict[JobKey, Retry] = field(default_factory=dict)

    def copy(self) -> Live:
        return Live(self.state, self.compiled, self.row, dict(self.retries))


class Step:
    """One input's changes, merged into the batch only if the whole input succeeds."""

    __slots__ = (
        "acks",
        "audits",
        "coord",
        "ended",
        "facts",
        "forget",
        "jobs_changed",
        "lives",
        "outbox",
        "reasons",
        "retries",
        "supersede",
    )

    def __init__(self) -> None:
        self.lives: dict[str, Live] = {}  # touched instances: copies with the step's state
        self.coord: CoordinatorState | None = None
        self.audits: list[AuditEntry] = []
        self.outbox: list[OutboxMessage] = []
        self.retries: list[ScheduledRetry] = []
        self.ended: set[str] = set()
        self.forget: set[str] = set()  # dropped PREPARED instances
        self.jobs_changed: dict[str, list[JobKey]] = {}
        self.facts: dict[JobRef, RunFacts] = {}  # learned in this step
        self.acks: dict[JobRef, ErrorAck] = {}
        # status reasons set on job rows whose state may not change (agent unreachable)
        self.reasons: dict[JobRef, str] = {}
        self.supersede: set[str] = set()  # agents whose unsent older syncs this step replaces


@dataclass(slots=True)
class Request:
    """Work for the consumer: a verb (answered through `future`) or a timer (no answer)."""

    run: Callable[[Step], Any]
    future: asyncio.Future[Any] | None


class Batch:
    """The merged steps of one batch, and what settling it must do."""

    def __init__(self) -> None:
        self.lives: dict[str, Live] = {}
        self.new_ids: set[str] = set()
        self.coord: CoordinatorState | None = None
        self.audits: list[AuditEntry] = []
        self.outbox: list[OutboxMessage] = []
        self.retries: list[ScheduledRetry] = []
        self.ended: set[str] = set()
        self.forget: set[str] = set()
        self.processed: list[str] = []
        self.refused: list[str] = []  # the sending agent of each refused process event
        self.done_keys: list[int] = []
        self.facts: dict[JobRef, RunFacts] = {}
        self.acks: dict[JobRef, ErrorAck] = {}
        self.reasons: dict[JobRef, str] = {}
        self.supersede: set[str] = set()
        self.answers: list[tuple[asyncio.Future[Any], Any]] = []
        self.refusals: list[tuple[asyncio.Future[Any], BaseException]] = []
        self.poison: list[tuple[JournalItem, str]] = []
        self.reqs: list[Request] = []
        self.processed_set: frozenset[str] = frozenset()
        self.last_key = 0  # its newest journal key (0: no items)
        self.pipelinable = False
        self.began = 0.0
        self.commit: asyncio.Future[None] | None = None

    def merge(self, step: Step) -> None:
        self.lives.update(step.lives)
        if step.coord is not None:
            self.coord = step.coord
        self.audits.extend(step.audits)
        self.outbox.extend(step.outbox)
        self.retries.extend(step.retries)
        self.ended |= step.ended
        self.forget |= step.forget
        self.facts.update(step.facts)
        self.acks.update(step.acks)
        self.reasons.update(step.reasons)
        self.supersede |= step.supersede


class Layers:
    """The states a step sees, newest first: its own, the batch being built, the in-flight
    batch, the committed ones."""

    def __init__(self) -> None:
        self.committed: dict[str, Live] = {}
        self.coord: CoordinatorState = Coordinator.empty()
        self.building = Batch()
        self.inflight: Batch | None = None  # built, its commit running

    def live(self, step: Step, instance_id: str) -> Live:
        """The step's own copy of an instance (made on first touch)."""
        found = step.lives.get(instance_id)
        if found is not None:
            return found
        # copies: the batch's and the committed records change only when a step succeeds
        base = self.base_live(instance_id)
        if base is None:
            raise NotFound(f"instance {instance_id!r} is not live")
        found = step.lives[instance_id] = base.copy()
        return found

    def base_live(self, instance_id: str) -> Live | None:
        """An instance as the batch being built sees it: its own change, else the in-flight
        batch's (ended or dropped there: gone), else the committed one."""
        batch = self.building
        found = batch.lives.get(instance_id)
        if found is not None or instance_id in batch.forget:
            return found
        flying = self.inflight
        if flying is not None:
            if instance_id in flying.forget or instance_id in flying.ended:
                return None
            found = flying.lives.get(instance_id)
            if found is not None:
                return found
        return self.committed.get(instance_id)

    def seen_live(self, step: Step, instance_id: str) -> Live | None:
        """An instance as the step sees it, without copying it into the step."""
        return step.lives.get(instance_id) or self.base_live(instance_id)

    def coord_state(self, step: Step) -> CoordinatorState:
        if step.coord is not None:
            return step.coord
        if self.building.coord is not None:
            return self.building.coord
        flying = self.inflight
        if flying is not None and flying.coord is not None:
            return flying.coord
        return self.coord

    def facts(self, step: Step, ref: JobRef) -> RunFacts | None:
        """A job's run facts learned so far in the step or the batch being built."""
        return step.facts.get(ref) or self.building.facts.get(ref)

    def visible_lives(self, step: Step) -> list[Live]:
        """Every live, non-PREPARED instance as this step sees it (committed, in flight, and
        changed earlier in the batch being built)."""
        ids: set[str] = set(self.committed)
        if self.inflight is not None:
            ids.update(self.inflight.lives)
        ids.update(self.building.lives)
        ids.update(step.lives)
        found: list[Live] = []
        for iid in sorted(ids):
            live = self.seen_live(step, iid)
            if live is not None and not live.state.prepared and not live.state.ended:
                found.append(live)
        return found
