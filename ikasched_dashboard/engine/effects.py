"""What a ContextMachine asks the world to do: plain immutable values.

The orchestrator commits them with the new state in one transaction (docs/architecture.md §4.5) and
then acts: initiations go to agents, lock requests/releases and global events to the coordinator,
retries to a timer, kills and cancels to agents.
"""

from __future__ import annotations

from dataclasses import dataclass

from ikasched_dashboard.engine.inputs import DryRunParams, Pairs, ProcessEvent
from ikasched_dashboard.engine.model import JobDef, LockClaim, Status


@dataclass(frozen=True, slots=True)
class RaiseInitiation:
    """Run this job (SchedulerJobInitiationEvent, domain side).

    `job` is the job definition at raise time: it carries the command, timeout, retry and
    run_as_user. `child_context_name` is where the raising dependency resides.
    """

    initiation_id: str
    instance_id: str
    plan_name: str
    job: JobDef
    child_context_name: str
    child_context_names: tuple[str, ...]
    parameters: Pairs = ()
    skipped: bool = False
    dry_run: bool = False
    dry_run_parameters: DryRunParams | None = None
    catalyst: ProcessEvent | None = None
    attempt: int = 1
    output_parameters: Pairs = ()
    manually_submitted_by: str = ""
    raised_time: int = 0

    @property
    def job_identifier(self) -> str:
        return self.job.identifier

    @property
    def agent_name(self) -> str:
        return self.job.agent_name

    @property
    def job_name(self) -> str:
        return self.job.job_name

    @property
    def priority(self) -> int:
        return self.job.priority


@dataclass(frozen=True, slots=True)
class JobStatusChanged:
    job_identifier: str
    child_context_name: str
    previous: Status
    status: Status
    cause: str
    time_ms: int = 0


@dataclass(frozen=True, slots=True)
class ContextStatusChanged:
    context_name: str
    previous: Status
    status: Status
    cause: str
    time_ms: int = 0


@dataclass(frozen=True, slots=True)
class Audit:
    """One operator or engine action worth a row (who, what, on which job)."""

    action: str
    cause: str
    actor: str = ""
    job_identifier: str = ""
    child_context_name: str = ""
    detail: str = ""
    time_ms: int = 0


@dataclass(frozen=True, slots=True)
class LockRequest:
    """Ask the coordinator for the job occurrence's locks; it answers LockGranted or LockQueued."""

    instance_id: str
    environment_group: str
    job_identifier: str
    child_context_name: str
    claims: tuple[LockClaim, ...]


@dataclass(frozen=True, slots=True)
class LockRelease:
    """Give back the occurrence's locks (and, with cancel_queued, leave the wait queues)."""

    instance_id: str
    environment_group: str
    job_identifier: str
    child_context_name: str
    cancel_queued: bool = False


@dataclass(frozen=True, slots=True)
class GlobalEvent:
    """A global job was raised: the coordinator fans a successful event out to live instances."""

    origin_instance_id: str
    environment_group: str
    job_name: str
    job_identifier: str
    skipped: bool
    ignore_environment_group: bool
    cause: str
    output_parameters: Pairs = ()
    time_ms: int = 0


@dataclass(frozen=True, slots=True)
class CancelInitiation:
    """Tell the agent not to start this initiation. If it already has, the orchestrator refuses
    the verb that caused this (FAILED_PRECONDITION) and drops the new state."""

    initiation_id: str
    agent_name: str
    job_identifier: str
    child_context_name: str


@dataclass(frozen=True, slots=True)
class KillJob:
    initiation_id: str
    agent_name: str
    job_identifier: str
    child_context_name: str
    pid: int


@dataclass(frozen=True, slots=True)
class InstanceComplete:
    """The root context turned COMPLETE; `end_instance` when the plan ends upon completion."""

    instance_id: str
    end_instance: bool


@dataclass(frozen=True, slots=True)
class ScheduleRetry:
    """Deliver RetryDue(job, child, attempt) to this instance after `delay_seconds`."""

    job_identifier: str
    child_context_name: str
    attempt: int
    delay_seconds: int
    failed_initiation_id: str


Effect = (
    RaiseInitiation
    | JobStatusChanged
    | ContextStatusChanged
    | Audit
    | LockRequest
    | LockRelease
    | GlobalEvent
    | CancelInitiation
    | KillJob
    | InstanceComplete
    | ScheduleRetry
)
