"""Building the process events that answer an initiation.

`process_event` is the one builder: the executor's starting and completion events and the
agent's refusals all come from it. Event ids are deterministic, "<initiation id>:starting" and
"<initiation id>:completed", so a repeated report is absorbed by the dashboard's processed-id
record. `RunEvents` fills in what the executor knows about a run (pid, logs, launch details).
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Callable, Iterable

from ikasched.v1 import common_pb2
from ikasched_agent import runs
from ikasched_agent.process import Phase, Run
from ikasched_agent.protocol import Initiation, ProcessEventMessage
from ikasched_agent.spawn import job_parameters
from ikasched_common.secrets import mask_secret_parameters

__all__ = [
    "SECRET_MASK",
    "RunEvents",
    "execution_details",
    "process_event",
    "refusal_event",
    "refused",
    "signal_name",
    "spawn_failure",
]

SECRET_MASK = "***"


def process_event(
    init: Initiation,
    *,
    agent_name: str,
    hostname: str,
    user: str = "",
    outcome: int = common_pb2.EXECUTION_INVOKED,
    job_starting: bool = False,
    return_code: int = 0,
    successful: bool = True,
    skipped: bool = False,
    outcome_reason: str = "",
    fire_time: int = 0,
    completion_time: int = 0,
    pid: int = 0,
    process_start_time: int = 0,
    result_output: str = "",
    result_error: str = "",
    execution_details: str = "",
) -> ProcessEventMessage:
    """The process event answering `init`: its context, job and catalyst copied from it."""
    job = init.internal_event_driven_job
    event = ProcessEventMessage(
        id=f"{init.id}:{'starting' if job_starting else 'completed'}",
        outcome=outcome,  # type: ignore[arg-type]
        agent_name=agent_name,
        agent_hostname=hostname,
        job_name=init.job_name,
        job_description=init.job_description,
        command_line=job.command_line,
        return_code=return_code,
        successful=successful,
        result_output=result_output,
        result_error=result_error,
        pid=pid,
        user=user,
        fire_time=fire_time,
        completion_time=completion_time,
        job_starting=job_starting,
        dry_run=init.dry_run,
        execution_details=execution_details,
        context_name=init.context_name,
        child_context_names=list(init.child_context_names),
        context_instance_id=init.context_instance_id,
        skipped=skipped,
        initiation_id=init.id,
        job_identifier=init.job_identifier,
        attempt=init.attempt or 1,
        outcome_reason=outcome_reason,
        process_start_time=process_start_time,
        manual=bool(init.manually_submitted_by),
    )
    if init.HasField("internal_event_driven_job"):
        # a secret default must not travel back (nor land in the dashboard's inbox journal)
        event.internal_event_driven_job.CopyFrom(mask_secret_parameters(job))
    if init.HasField("catalyst_event"):
        event.catalyst_event.CopyFrom(init.catalyst_event)
    if init.HasField("dry_run_parameters"):
        event.dry_run_parameters.CopyFrom(init.dry_run_parameters)
    return event


def refusal_event(
    init: Initiation, reason: str, *, agent_name: str, hostname: str, now_ms: int
) -> ProcessEventMessage:
    """The failed completion reported for an initiation this agent will not run."""
    event = process_event(
        init,
        agent_name=agent_name,
        hostname=hostname,
        return_code=-1,
        successful=False,
        fire_time=now_ms,
        completion_time=now_ms,
        outcome_reason=refused(reason),
        execution_details=f"not run: {reason}",
    )
    event.ClearField("dry_run_parameters")  # nothing was simulated either
    return event


def refused(reason: str) -> str:
    """The outcome reason of an initiation the agent would not run."""
    return (
        reason if reason.startswith("refused by the agent") else f"refused by the agent: {reason}"
    )


def spawn_failure(exc: OSError | ValueError) -> str:
    """The outcome reason of a wrapper that could not be spawned, with the errno's text."""
    if isinstance(exc, OSError) and exc.errno is not None:
        code = errno.errorcode.get(exc.errno, str(exc.errno))
        where = f" ({exc.filename})" if exc.filename else ""
        return f"spawn failed: {exc.strerror} [{code}]{where}"
    return f"spawn failed: {exc}"


def signal_name(number: int) -> str:
    """SIGKILL for 9; "signal 64" for a number without a name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def execution_details(init: Initiation, user: str) -> str:
    """Launch description: command, directory, user and parameters (secrets masked)."""
    job = init.internal_event_driven_job
    secrets = {p.name for p in init.context_parameters if p.secret}
    secrets.update(p.name for p in job.context_parameters if p.secret)
    lines = [
        f"command: {job.command_line}",
        f"working directory: {job.working_directory or '(run directory)'}",
        f"user: {user}",
        "parameters:",
    ]
    for name, value in sorted(job_parameters(init).items()):
        lines.append(f"  {name}={SECRET_MASK if name in secrets else value}")
    return "\n".join(lines)


def is_success(code: int, successful_return_codes: Iterable[int]) -> bool:
    """A return code counts as success when listed (or is 0 when the job lists none)."""
    codes = list(successful_return_codes)
    return code in codes if codes else code == 0


class RunEvents:
    """The executor's process events for its runs."""

    def __init__(
        self, *, agent_name: str, hostname: str, agent_user: str, clock_ms: Callable[[], int]
    ) -> None:
        self._agent_name = agent_name
        self._hostname = hostname
        self._agent_user = agent_user
        self._clock_ms = clock_ms

    def user(self, run: Run) -> str:
        """The OS user the run's job runs as."""
        return run.init.internal_event_driven_job.run_as_user or self._agent_user

    def details(self, run: Run) -> str:
        return execution_details(run.init, self.user(run))

    def event(
        self,
        run: Run,
        *,
        outcome: int = common_pb2.EXECUTION_INVOKED,
        job_starting: bool = False,
        return_code: int = 0,
        successful: bool = True,
        skipped: bool = False,
        outcome_reason: str = "",
        completion_time: int = 0,
        fire_time: int = 0,
        pid: int = 0,
        process_start_time: int = 0,
        result_output: str = "",
        result_error: str = "",
        execution_details: str = "",
    ) -> ProcessEventMessage:
        """An event of the run; its fire time is now unless given."""
        return process_event(
            run.init,
            agent_name=run.init.agent_name or self._agent_name,
            hostname=self._hostname,
            user=self.user(run),
            outcome=outcome,
            job_starting=job_starting,
            return_code=return_code,
            successful=successful,
            skipped=skipped,
            outcome_reason=outcome_reason,
            fire_time=fire_time or self._clock_ms(),
            completion_time=completion_time,
            pid=pid,
            process_start_time=process_start_time,
            result_output=result_output,
            result_error=result_error,
            execution_details=execution_details,
        )

    def starting(self, run: Run) -> ProcessEventMessage:
        """The run's process started (pid, log paths, launch details)."""
        return self.event(
            run,
            job_starting=True,
            pid=run.pid,
            fire_time=run.fire_time,
            process_start_time=runs.ticks_to_epoch_ms(run.start_ticks) if run.start_ticks else 0,
            result_output=str(run.paths.out_log),
            result_error=str(run.paths.err_log),
            execution_details=self.details(run),
        )

    def ended(
        self,
        run: Run,
        rc: int | None,
        record: runs.PidRecord | None,
        child_status: int | None,
        *,
        completion_time: int | None = None,
    ) -> ProcessEventMessage:
        """The run's completion: its return code, or how it ended when none was recorded
        (the signal that killed the wrapper, the one we sent, else -1 "exit status unknown").
        Ends the run and fills in its pid from the wrapper's record when it had none."""
        run.phase = Phase.ENDED
        job = run.init.internal_event_driven_job
        if record is not None and not run.pid:
            run.pid = record.pid
            run.fire_time = runs.ticks_to_epoch_ms(record.start_ticks)
        if record is not None and record.pid == run.pid:
            run.start_ticks = record.start_ticks
        reason = run.end_reason
        if rc is not None:
            code = rc
            successful = not reason and is_success(code, job.successful_return_codes)
            if not successful and not reason and code > 128:
                # the shell reports a child killed by signal n as 128 + n; the wrapper is a
                # shell, so an `exit 143` reads the same and the reason says both
                name = signal_name(code - 128)
                reason = f"return code {code} = 128 + {name} (died of {name}, or exited {code})"
        else:
            successful = False
            if child_status is not None and child_status < 0:
                code = 128 - child_status  # the wrapper died of this signal
                if not reason:
                    reason = f"killed by signal {signal_name(-child_status)}"
            elif run.last_signal and reason:
                code = 128 + run.last_signal  # a re-attached wrapper we signalled
            else:
                code = -1
            if reason:
                pass
            elif child_status is not None:
                reason = (
                    f"exit status unknown: the wrapper exited with {child_status} "
                    "before recording the job's return code"
                )
            else:
                reason = "exit status unknown: the job ended while no agent watched it"
        details = self.details(run)
        if reason:
            details += f"\nended: {reason}"
        event = self.event(
            run,
            return_code=code,
            successful=successful,
            outcome_reason=reason,
            completion_time=completion_time or self._clock_ms(),
            execution_details=details,
            pid=run.pid,
            fire_time=run.fire_time,
            process_start_time=runs.ticks_to_epoch_ms(run.start_ticks) if run.start_ticks else 0,
            result_output=str(run.paths.out_log),
            result_error=str(run.paths.err_log),
        )
        for name, value in runs.read_output_env(run.paths).items():
            event.job_execution_output_parameters[name] = value
        return event
