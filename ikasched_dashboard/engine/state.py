"""Instance state: immutable records, replaced copy-on-write with structural sharing.

A step copies the top-level maps it touches (shallow: a few dozen references) and replaces the
job records it changes; untouched records are shared with the previous state. The two records
made on every step are NamedTuples rather than frozen dataclasses: as immutable, and several
times cheaper to build (a frozen dataclass sets each field through object.__setattr__).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.inputs import DryRunParams
from ikasched_dashboard.engine.model import Status

JobKey = tuple[str, str]  # (job identifier, child context name)


class _Keep:
    """Marks "leave this field as it is" where None is a meaningful value."""


_KEEP = _Keep()


class JobState(NamedTuple):
    """One job occurrence (Ikasan's SchedulerJobInstance)."""

    status: Status = Status.WAITING
    held: bool = False
    skip: bool = False
    raised: bool = False  # initiationEventRaised
    error_acknowledged: bool = False
    killed: bool = False
    pid: int = 0
    last_event_id: str = ""
    initiation: RaiseInitiation | None = None  # last one raised from this occurrence

    def but(
        self,
        *,
        status: Status | None = None,
        held: bool | None = None,
        skip: bool | None = None,
        raised: bool | None = None,
        error_acknowledged: bool | None = None,
        killed: bool | None = None,
        pid: int | None = None,
        last_event_id: str | None = None,
        initiation: RaiseInitiation | _Keep | None = _KEEP,
    ) -> JobState:
        """A copy with the given fields changed (cheaper than dataclasses.replace)."""
        return JobState(
            self.status if status is None else status,
            self.held if held is None else held,
            self.skip if skip is None else skip,
            self.raised if raised is None else raised,
            self.error_acknowledged if error_acknowledged is None else error_acknowledged,
            self.killed if killed is None else killed,
            self.pid if pid is None else pid,
            self.last_event_id if last_event_id is None else last_event_id,
            self.initiation if isinstance(initiation, _Keep) else initiation,
        )


class InstanceState(NamedTuple):
    """Everything a ContextMachine needs about one plan instance. Never mutated."""

    instance_id: str
    plan_name: str
    plan_version: str
    jobs: Mapping[JobKey, JobState]
    contexts: Mapping[str, Status]
    parameters: Mapping[str, str]  # plan-level values of this instance
    held_initiations: Mapping[JobKey, RaiseInitiation]  # Ikasan's heldJobs
    lock_pending: Mapping[JobKey, RaiseInitiation]  # asked the coordinator, no grant yet
    lock_holding: frozenset[JobKey]
    quartz_disabled: bool = False
    run_until_manually_ended: bool = False
    dry_run: bool = False
    dry_run_parameters: DryRunParams | None = None
    prepared: bool = False
    ended: bool = False
    seq: int = 0  # numbers initiations: ids are "<instance id>:<seq>", deterministic

    @property
    def status(self) -> Status:
        """The instance status is its root context's."""
        return self.contexts[self.plan_name]

    def job(self, identifier: str, child_context_name: str) -> JobState:
        return self.jobs[(identifier, child_context_name)]
