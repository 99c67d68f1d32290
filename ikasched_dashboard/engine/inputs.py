"""What goes into a ContextMachine: process events, operator verbs, timer and coordinator answers.

Every input is a small frozen record. Times come in on the input (`time_ms`, epoch ms); the
machine never reads a clock. `id` names the input as the cause of what it changes (audit rows).
"""

from __future__ import annotations

from dataclasses import dataclass

from ikasched_dashboard.engine.model import MANUAL_FIRE_GROUP

OUTCOME_IGNORED_DAY_OF_WEEK = "EXECUTION_INVOKED_IGNORED_DAY_OF_WEEK"

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class DryRunParams:
    """Whole-instance dry run settings carried by every initiation."""

    min_execution_time_millis: int = 0
    max_execution_time_millis: int = 0
    fixed_execution_time_millis: int = 0
    job_error_percentage: float = 0.0
    error: bool = False


@dataclass(frozen=True, slots=True)
class ProcessEvent:
    """A job started, ended or fired (ContextualisedScheduledProcessEvent, domain side).

    `child_context_names` empty means every child context holding the job.
    """

    id: str
    agent_name: str
    job_name: str
    job_identifier: str = ""
    child_context_names: tuple[str, ...] = ()
    successful: bool = False
    job_starting: bool = False
    skipped: bool = False
    outcome: str = ""
    job_group: str = ""
    raised_due_to_failure_resubmission: bool = False
    output_parameters: Pairs = ()
    pid: int = 0
    return_code: int = 0
    time_ms: int = 0
    initiation_id: str = ""
    attempt: int = 0
    manual: bool = False
    dry_run: bool = False

    @property
    def is_manual(self) -> bool:
        return self.manual or self.job_group == MANUAL_FIRE_GROUP


@dataclass(frozen=True, slots=True)
class Activate:
    """A PREPARED instance goes live (WAITING)."""

    time_ms: int = 0
    id: str = "activate"


@dataclass(frozen=True, slots=True)
class End:
    """The instance ends (TTL or manual end): every context becomes ENDED, locks are given back."""

    time_ms: int = 0
    actor: str = ""
    id: str = "end"


@dataclass(frozen=True, slots=True)
class Hold:
    job_identifier: str
    child_context_name: str
    actor: str = ""
    time_ms: int = 0
    id: str = "hold"


@dataclass(frozen=True, slots=True)
class Release:
    job_identifier: str
    child_context_name: str
    actor: str = ""
    time_ms: int = 0
    id: str = "release"


@dataclass(frozen=True, slots=True)
class Skip:
    """skip=True marks the job skipped; skip=False un-skips it."""

    job_identifier: str
    child_context_name: str
    skip: bool = True
    actor: str = ""
    time_ms: int = 0
    id: str = "skip"


@dataclass(frozen=True, slots=True)
class HoldAll:
    child_context_name: str
    actor: str = ""
    time_ms: int = 0
    id: str = "hold-all"


@dataclass(frozen=True, slots=True)
class ReleaseAll:
    child_context_name: str
    actor: str = ""
    time_ms: int = 0
    id: str = "release-all"


@dataclass(frozen=True, slots=True)
class SkipAll:
    child_context_name: str
    skip: bool = True
    actor: str = ""
    time_ms: int = 0
    id: str = "skip-all"


@dataclass(frozen=True, slots=True)
class ResetJob:
    job_identifier: str
    child_context_name: str
    actor: str = ""
    time_ms: int = 0
    id: str = "reset"


@dataclass(frozen=True, slots=True)
class AcknowledgeError:
    job_identifier: str
    child_context_name: str
    actor: str = ""
    message: str = ""
    ticket_id: str = ""
    time_ms: int = 0
    id: str = "acknowledge"


@dataclass(frozen=True, slots=True)
class KillRunningJobs:
    actor: str = ""
    time_ms: int = 0
    id: str = "kill"


@dataclass(frozen=True, slots=True)
class MarkKilled:
    """An operator asked the agent to kill this running job: it is marked killed, so its coming
    failure reads as a kill and no automatic retry follows (the agent's event sets ERROR)."""

    job_identifier: str
    child_context_name: str
    actor: str = ""
    time_ms: int = 0
    id: str = "kill-job"


@dataclass(frozen=True, slots=True)
class DisableQuartzJobs:
    actor: str = ""
    time_ms: int = 0
    id: str = "disable-quartz"


@dataclass(frozen=True, slots=True)
class EnableQuartzJobs:
    actor: str = ""
    time_ms: int = 0
    id: str = "enable-quartz"


@dataclass(frozen=True, slots=True)
class RunUntilManuallyEnded:
    enabled: bool = True
    actor: str = ""
    time_ms: int = 0
    id: str = "run-until-manually-ended"


@dataclass(frozen=True, slots=True)
class UpdateParameters:
    """New plan-level values (merged over the current ones)."""

    values: Pairs
    actor: str = ""
    time_ms: int = 0
    id: str = "update-parameters"


@dataclass(frozen=True, slots=True)
class SetDryRun:
    enabled: bool
    parameters: DryRunParams | None = None
    actor: str = ""
    time_ms: int = 0
    id: str = "dry-run"


@dataclass(frozen=True, slots=True)
class ManualRun:
    """Run a job now regardless of its logic (a command job) or mock its trigger (time/file)."""

    job_identifier: str
    child_context_name: str
    actor: str = ""
    parameters: Pairs = ()
    time_ms: int = 0
    id: str = "manual-run"


@dataclass(frozen=True, slots=True)
class ReleaseQueuedJobs:
    actor: str = ""
    time_ms: int = 0
    id: str = "release-queued"


@dataclass(frozen=True, slots=True)
class RetryDue:
    """The orchestrator's timer for a ScheduleRetry effect fired."""

    job_identifier: str
    child_context_name: str
    attempt: int
    time_ms: int = 0
    id: str = "retry"


@dataclass(frozen=True, slots=True)
class LockGranted:
    """The coordinator gave the job occurrence its locks."""

    instance_id: str
    job_identifier: str
    child_context_name: str
    time_ms: int = 0
    id: str = "lock-granted"


@dataclass(frozen=True, slots=True)
class LockQueued:
    """The coordinator queued the job occurrence behind a held lock."""

    instance_id: str
    job_identifier: str
    child_context_name: str
    time_ms: int = 0
    id: str = "lock-queued"


Verb = (
    Hold
    | Release
    | Skip
    | HoldAll
    | ReleaseAll
    | SkipAll
    | ResetJob
    | AcknowledgeError
    | KillRunningJobs
    | MarkKilled
    | DisableQuartzJobs
    | EnableQuartzJobs
    | RunUntilManuallyEnded
    | UpdateParameters
    | SetDryRun
    | ManualRun
    | ReleaseQueuedJobs
)
Input = ProcessEvent | Activate | End | RetryDue | LockGranted | LockQueued | Verb
