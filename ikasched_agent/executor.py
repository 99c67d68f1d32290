"""The agent's command-job executor: initiations in, process events out, each job started once.

`Executor.submit(initiation)` takes a `SchedulerJobInitiationEvent`; the executor answers through
the `emit` coroutine with `ContextualisedScheduledProcessEvent`s: a "starting" event (pid, log
paths, execution details) when the process starts, then the completion event. Skipped, dry-run
and day-of-week-ignored initiations are answered without a process.

Exactly once (docs/architecture.md §4.6): every command job runs through the detached wrapper of
wrapper.py, which claims `runs/<initiation id>/claim` with O_EXCL before running anything.
`submit` looks at the run directory before it starts anything, so a redelivered initiation,
and `recover(initiations)` after an agent restart, never start a second process: a live
wrapper (same pid and start time) is re-attached through a pidfd, a recorded `rc` is reported,
and a claimed run with neither is reported as ERROR "exit status unknown", never re-run.

This module is the policy: the queue by priority, the concurrency limit, timeouts, what each
initiation's disposition is and what gets reported. The mechanics live next to it: spawn.py
(environment and posix_spawn), process.py (pidfd watching, signals, the reap), events.py
(building the events) and reporter.py (handing them to the agent in order, in batches, and
writing the `reported` markers only once the agent has journaled them).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import enum
import heapq
import logging
import os
import pwd
import random
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from ikasched.v1 import common_pb2, plan_pb2
from ikasched_agent import runs
from ikasched_agent.dry_run import DryRuns
from ikasched_agent.events import RunEvents, refused, spawn_failure
from ikasched_agent.process import Phase, ProcessWatch, Run
from ikasched_agent.protocol import Emit, EmitMany, Initiation, ProcessEventMessage
from ikasched_agent.reporter import Reporter
from ikasched_agent.runs import RunPaths, RunState
from ikasched_agent.spawn import default_base_env, launch_settings, spawn_wrapper
from ikasched_agent.wrapper import CLAIM_TAKEN_STATUS
from ikasched_common import clock
from ikasched_common.errors import InvalidArgument, SecretError
from ikasched_common.secrets import SecretBox, open_secret_parameters

__all__ = [
    "DEFAULT_KILL_GRACE_SECONDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "Disposition",
    "Executor",
    "quartz_day_of_week",
]

log = logging.getLogger(__name__)

#: Ikasan's agent-wide job timeout (job.monitoring.broker.timeout.minutes = 240).
DEFAULT_TIMEOUT_SECONDS = 240 * 60
DEFAULT_KILL_GRACE_SECONDS = 10.0
#: How many finished ids are remembered in memory to absorb redeliveries of process-less runs.
RECENT_IDS = 65536


class Disposition(enum.Enum):
    """What `submit` did with an initiation."""

    QUEUED = "queued"  # waiting for a concurrency slot (started at once when one is free)
    STARTED = "started"  # the wrapper was spawned
    DUPLICATE = "duplicate"  # already queued, running or finished: nothing new happens
    SKIPPED = "skipped"  # reported as a skipped success
    IGNORED_DAY_OF_WEEK = "ignored_day_of_week"  # today is not a run day: reported success
    DRY_RUN = "dry_run"  # simulated, no process
    REATTACHED = "reattached"  # its wrapper was alive: watching it again
    REPORTED_FINISHED = "reported_finished"  # it ended while nobody watched: rc reported
    REPORTED_UNKNOWN = "reported_unknown"  # claimed, no rc, process gone: ERROR reported
    REJECTED = "rejected"  # could not be run (bad parameters, run_as_user refused): ERROR


def quartz_day_of_week(day: dt.date) -> int:
    """Quartz numbering: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


class Executor:
    """Runs command jobs through detached wrappers and reports their process events."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        emit: Emit,
        emit_many: EmitMany | None = None,
        max_concurrent_jobs: int = 0,
        default_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        kill_grace_seconds: float = DEFAULT_KILL_GRACE_SECONDS,
        agent_name: str = "",
        agent_hostname: str | None = None,
        base_env: Mapping[str, str] | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        clock_ms: Callable[[], int] = clock.now_ms,
        rng: random.Random | None = None,
        secret_box: SecretBox | None = None,
    ) -> None:
        if max_concurrent_jobs < 0:
            raise InvalidArgument("must be >= 0 (0 = unlimited)", field="max_concurrent_jobs")
        if default_timeout_seconds < 0:
            raise InvalidArgument("must be >= 0 (0 = none)", field="default_timeout_seconds")
        if kill_grace_seconds < 0:
            raise InvalidArgument("must be >= 0", field="kill_grace_seconds")
        # Absolute: the wrapper and the events use these paths after changing directory.
        self.data_dir = Path(data_dir).absolute()
        (self.data_dir / "runs").mkdir(parents=True, exist_ok=True)
        self._limit = max_concurrent_jobs
        self._default_timeout = default_timeout_seconds
        self._base_env = dict(base_env) if base_env is not None else default_base_env()
        self._today = today
        self._clock_ms = clock_ms
        self._box = secret_box  # opens sealed parameter values for the process only
        self._runs: dict[str, Run] = {}
        self._recent: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._queue: list[tuple[int, int, str]] = []
        self._seq = 0
        self._active = 0
        self._is_root = os.geteuid() == 0
        try:
            agent_user = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            agent_user = str(os.geteuid())
        self._events = RunEvents(
            agent_name=agent_name,
            hostname=socket.gethostname() if agent_hostname is None else agent_hostname,
            agent_user=agent_user,
            clock_ms=clock_ms,
        )
        self._watch = ProcessWatch(kill_grace_seconds, self._finish)
        self._reporter = Reporter(emit, emit_many, on_reported=self._reported)
        self._dry_runs = DryRuns(self._events, self._report, clock_ms, rng or random.Random())
        self._devnull = os.open(os.devnull, os.O_RDWR)
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    # ----------------------------------------------------------------------------- public API

    async def submit(self, initiation: Initiation) -> Disposition:
        """Accept one initiation; idempotent per initiation id."""
        if self._closed:
            raise RuntimeError("executor is closed")
        self._reporter.ensure_running()
        try:
            paths = RunPaths.of(self.data_dir, initiation.id)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="id") from exc
        if initiation.id in self._runs or initiation.id in self._recent:
            return Disposition.DUPLICATE
        run = Run(initiation, paths)
        job = initiation.internal_event_driven_job
        if initiation.skipped:
            self._finish_without_process(run, common_pb2.EXECUTION_INVOKED, skipped=True)
            return Disposition.SKIPPED
        if (
            job.days_of_week_to_run
            and quartz_day_of_week(self._today()) not in job.days_of_week_to_run
        ):
            self._finish_without_process(run, common_pb2.EXECUTION_INVOKED_IGNORED_DAY_OF_WEEK)
            return Disposition.IGNORED_DAY_OF_WEEK
        if initiation.dry_run:
            self._register(run)
            self._dry_runs.start(run)
            return Disposition.DRY_RUN
        found = runs.inspect(paths)
        if found.state is RunState.NOT_CLAIMED:
            self._enqueue(run)
            if run.phase is Phase.QUEUED:
                return Disposition.QUEUED
            return Disposition.STARTED if run.phase is Phase.RUNNING else Disposition.REJECTED
        if found.state is RunState.REPORTED:
            self._remember(initiation.id)
            return Disposition.DUPLICATE
        run.on_disk = True
        if found.state is RunState.RUNNING and found.pid is not None:
            if self._reattach(run, found.pid):
                return Disposition.REATTACHED
            found = runs.inspect(paths)
        self._register(run)
        # It started while no agent watched, or its starting event died with the last agent
        # before it was journaled: report the start first (the same event id, so a dashboard
        # that has it drops the copy), then the end at the time the wrapper recorded it.
        if found.pid is not None:
            run.pid = found.pid.pid
            run.start_ticks = found.pid.start_ticks
            run.fire_time = runs.ticks_to_epoch_ms(found.pid.start_ticks)
            self._report(self._events.starting(run), None)
        if found.state is RunState.FINISHED and found.return_code is not None:
            ended = runs.claim_changed_ms(paths)
            self._report_end(run, found.return_code, found.pid, None, completion_time=ended)
            return Disposition.REPORTED_FINISHED
        self._report_end(run, None, found.pid, None)
        return Disposition.REPORTED_UNKNOWN

    async def recover(self, initiations: Iterable[Initiation]) -> dict[str, Disposition]:
        """After a restart: settle every journaled, not yet completed initiation (rule 6)."""
        return {i.id: await self.submit(i) for i in initiations}

    async def cancel(self, initiation_id: str, reason: str = "") -> bool:
        """Drop a queued initiation (reported as cancelled); False if it started or is unknown."""
        run = self._runs.get(initiation_id)
        if run is None or run.phase is not Phase.QUEUED:
            return False
        run.end_reason = f"cancelled: {reason}" if reason else "cancelled"
        run.phase = Phase.ENDED
        self._report(
            self._events.event(
                run,
                outcome=common_pb2.EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY,
                return_code=-1,
                successful=False,
                outcome_reason=run.end_reason,
            ),
            run,
        )
        return True

    async def kill(self, initiation_id: str, destroy: bool = False, reason: str = "") -> bool:
        """Stop a running job's process group: TERM then KILL after the grace, or KILL at once
        (destroy). The completion is reported as killed (unsuccessful). A queued initiation is
        dropped the same way. False if the executor has no such live initiation."""
        run = self._runs.get(initiation_id)
        if run is None or run.phase is Phase.ENDED:
            return False
        label = (
            reason if reason.startswith("killed") else f"killed: {reason}" if reason else "killed"
        )
        if run.phase is Phase.QUEUED:
            run.end_reason = label
            run.phase = Phase.ENDED
            self._report(
                self._events.event(run, return_code=-1, successful=False, outcome_reason=label),
                run,
            )
            return True
        if run.phase is Phase.SIMULATING:
            if run.sim_task is not None:
                run.sim_task.cancel()
            run.end_reason = label
            self._end_unstarted(run, label)
            return True
        if not run.end_reason:
            run.end_reason = label
        self._watch.stop_group(run, destroy)
        return True

    async def drain(self) -> None:
        """Wait until nothing is queued, running, simulated or waiting to be emitted."""
        await self._idle.wait()

    def running(self) -> list[str]:
        """Ids of initiations whose process runs (started here or re-attached)."""
        return [i for i, r in self._runs.items() if r.phase is Phase.RUNNING]

    def queued(self) -> list[str]:
        """Ids of initiations waiting for a slot, in start order."""
        return [i for _, _, i in sorted(self._queue) if self._is_queued(i)]

    async def aclose(self) -> None:
        """Stop watching (jobs keep running, detached) after emitting what is pending.

        Runs still running stay unreported; `recover` settles them in the next agent."""
        self._closed = True
        for run in list(self._runs.values()):
            if run.phase is Phase.RUNNING:
                self._watch.unwatch(run)
                self._runs.pop(run.init.id, None)
            elif run.phase is Phase.SIMULATING and run.sim_task is not None:
                run.sim_task.cancel()
        self._queue.clear()
        await self._reporter.aclose()
        os.close(self._devnull)

    # ------------------------------------------------------------------------ queue and start

    def _is_queued(self, initiation_id: str) -> bool:
        run = self._runs.get(initiation_id)
        return run is not None and run.phase is Phase.QUEUED

    def _register(self, run: Run) -> None:
        self._runs[run.init.id] = run
        self._idle.clear()

    def _enqueue(self, run: Run) -> None:
        self._register(run)
        self._seq += 1
        heapq.heappush(self._queue, (-run.init.priority, self._seq, run.init.id))
        self._pump()

    def _pump(self) -> None:
        while self._queue and (self._limit == 0 or self._active < self._limit):
            _, _, initiation_id = heapq.heappop(self._queue)
            run = self._runs.get(initiation_id)
            if run is None or run.phase is not Phase.QUEUED:
                continue  # cancelled or killed while queued
            self._start(run)

    def _opened(self, init: Initiation) -> Initiation:
        """A copy of `init` with its sealed values opened: for the environment only, never
        kept, journaled or reported (docs/architecture.md §7.5)."""
        if self._box is None:
            return init
        copy = Initiation()
        copy.CopyFrom(init)
        open_secret_parameters(copy, self._box)
        return copy

    def _start(self, run: Run) -> None:
        job = run.init.internal_event_driven_job
        try:
            env, interpreter = launch_settings(
                self._opened(run.init), run.paths, self._base_env, is_root=self._is_root
            )
        except SecretError as exc:
            self._reject(run, f"a secret parameter does not open: {exc}")
            return
        except InvalidArgument as exc:
            self._reject(run, refused(str(exc)))
            return
        try:
            pid, run.start_ticks = spawn_wrapper(run.paths, job, env, interpreter, self._devnull)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command line
            self._reject(run, spawn_failure(exc))
            return
        run.child = True
        run.on_disk = True
        run.pid = pid
        run.fire_time = self._clock_ms()
        run.phase = Phase.RUNNING
        self._active += 1
        self._watch.watch(run)
        self._arm_timeout(run, self._timeout_of(job))
        self._report(self._events.starting(run), None)

    def _timeout_of(self, job: plan_pb2.InternalEventDrivenJob) -> float:
        seconds = job.timeout_seconds
        return float(seconds) if seconds > 0 else self._default_timeout

    def _reject(self, run: Run, reason: str) -> None:
        log.warning("initiation %s not run: %s", run.init.id, reason)
        self._register(run)
        self._end_unstarted(run, reason)

    def _end_unstarted(self, run: Run, reason: str) -> None:
        """Report a run that never got a process as failed for `reason`."""
        run.phase = Phase.ENDED
        self._report(
            self._events.event(
                run,
                return_code=-1,
                successful=False,
                outcome_reason=reason,
                completion_time=self._clock_ms(),
            ),
            run,
        )

    # ------------------------------------------------------------ watching and timeouts

    def _reattach(self, run: Run, record: runs.PidRecord, *, announce: bool = True) -> bool:
        if not self._watch.adopt(run, record):
            return False
        run.fire_time = runs.ticks_to_epoch_ms(record.start_ticks)
        run.phase = Phase.RUNNING
        self._register(run)
        self._active += 1
        timeout = self._timeout_of(run.init.internal_event_driven_job)
        if timeout > 0:
            left = max(0.0, timeout - (self._clock_ms() - run.fire_time) / 1000)
            self._arm_timeout(run, timeout, left)
        if announce:
            # The dashboard may never have seen it start; the repeated id makes this harmless.
            self._report(self._events.starting(run), None)
        return True

    def _arm_timeout(self, run: Run, timeout: float, left: float | None = None) -> None:
        if timeout > 0:
            run.timeout_handle = asyncio.get_running_loop().call_later(
                timeout if left is None else left, self._on_timeout, run, timeout
            )

    def _on_timeout(self, run: Run, timeout: float) -> None:
        run.timeout_handle = None
        if run.phase is not Phase.RUNNING:
            return
        run.end_reason = f"timed out after {timeout:g} s"
        self._watch.stop_group(run, destroy=False)

    def _finish(self, run: Run) -> None:
        """The wrapper has ended: read its claim and report, or watch the wrapper that holds it."""
        child_status = self._watch.reap(run)
        self._watch.unwatch(run)
        self._active -= 1
        claim = runs.read_claim(run.paths) or runs.ClaimRecord()
        rc, record = claim.return_code, claim.pid
        if (
            rc is None
            and child_status == CLAIM_TAKEN_STATUS
            and (record is None or record.pid != run.pid)
        ):
            # Another wrapper holds the claim: one an earlier agent spawned that was held up
            # until after our check. It runs the job; watch it instead of ours.
            other = record if record is not None else runs.find_wrapper(run.paths)
            log.warning("initiation %s: claim held by another wrapper %s", run.init.id, other)
            if other is not None and other.pid != run.pid:
                run.child = False
                run.wrapper_exited = False
                if self._reattach(run, other, announce=False):
                    return
            claim = runs.read_claim(run.paths) or claim
            rc, record = claim.return_code, claim.pid or other
        self._report_end(run, rc, record, child_status)
        self._pump()

    # ------------------------------------------------------------------------ what is reported

    def _report_end(
        self,
        run: Run,
        rc: int | None,
        record: runs.PidRecord | None,
        child_status: int | None,
        *,
        completion_time: int | None = None,
    ) -> None:
        event = self._events.ended(run, rc, record, child_status, completion_time=completion_time)
        self._report(event, run)

    def _finish_without_process(self, run: Run, outcome: int, *, skipped: bool = False) -> None:
        self._register(run)
        run.phase = Phase.ENDED
        now = self._clock_ms()
        self._report(
            self._events.event(
                run, outcome=outcome, skipped=skipped, fire_time=now, completion_time=now
            ),
            run,
        )

    def _report(self, event: ProcessEventMessage, finished: Run | None) -> None:
        self._idle.clear()
        self._reporter.report(event, finished)

    def _reported(self, done: list[Run]) -> None:
        """A batch was taken by the agent (and marked): forget its runs, maybe go idle."""
        for run in done:
            self._runs.pop(run.init.id, None)
            self._remember(run.init.id)
        if not self._runs and not self._reporter.pending:
            self._idle.set()

    def _remember(self, initiation_id: str) -> None:
        self._recent[initiation_id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
