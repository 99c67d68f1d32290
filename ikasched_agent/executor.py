"""The agent's command-job executor: initiations in, process events out, each job started once.

`Executor.submit(initiation)` takes a `SchedulerJobInitiationEvent`; the executor answers through
the `emit` coroutine with `ContextualisedScheduledProcessEvent`s: a "starting" event (pid, log
paths, execution details) when the process starts, then the completion event. Skipped, dry-run
and day-of-week-ignored initiations are answered without a process.

Exactly once (DESIGN §3 rule 6): every command job runs through the detached wrapper of
wrapper.py, which claims `runs/<initiation id>/claim` with O_EXCL before running anything.
`submit` looks at the run directory before it starts anything, so a redelivered initiation,
and `recover(initiations)` after an agent restart, never start a second process: a live
wrapper (same pid and start time) is re-attached through a pidfd, a recorded `rc` is reported,
and a claimed run with neither is reported as ERROR "exit status unknown", never re-run.

Events are handed over in the order they happened, in batches: to `emit_many` when given (one
call per batch, so the agent can journal a batch in one transaction), else to `emit` one by
one. Ordering with the agent's outbox: the completion event is passed to `emit` (or
`emit_many`), which must have made it durable (journaled) when it returns; only then is the
`reported` marker written. A crash in between reports the run again with the same event id,
which the dashboard's processed-id record absorbs. Event ids are deterministic:
"<initiation id>:starting" and "<initiation id>:completed".

Monitoring uses one pidfd per running job registered with the event loop (no thread per job);
wrappers started by this process are reaped with waitid(P_PIDFD).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import enum
import heapq
import logging
import os
import pwd
import random
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path

from ikasched.v1 import common_pb2, events_pb2, plan_pb2
from ikasched_agent import runs
from ikasched_agent.runs import RunPaths, RunState
from ikasched_agent.wrapper import (
    CLAIM_TAKEN_STATUS,
    MAX_INLINE_SCRIPT_BYTES,
    SHELL,
    STOP_AT_ENV,
    wrapper_argv,
)
from ikasched_common.errors import InvalidArgument

log = logging.getLogger(__name__)

Initiation = events_pb2.SchedulerJobInitiationEvent
ProcessEvent = events_pb2.ContextualisedScheduledProcessEvent
Emit = Callable[[ProcessEvent], Awaitable[None]]
#: Takes several events at once (in order), e.g. to journal them in one transaction.
EmitMany = Callable[[Sequence[ProcessEvent]], Awaitable[None]]

#: Ikasan's agent-wide job timeout (job.monitoring.broker.timeout.minutes = 240).
DEFAULT_TIMEOUT_SECONDS = 240 * 60
DEFAULT_KILL_GRACE_SECONDS = 10.0
#: How often a stopped job's process group is checked for leftovers during the kill grace.
GROUP_POLL_SECONDS = 0.05
#: Most events handed to emit before their `reported` markers are written together.
REPORT_BATCH = 256
#: How many finished ids are remembered in memory to absorb redeliveries of process-less runs.
RECENT_IDS = 65536

SECRET_MASK = "***"
RESERVED_ENV = (
    "LOG_FILE_PATH",
    "ERROR_LOG_FILE_PATH",
    "IKASCHED_OUTPUT_FILE",
    "IKASCHED_INITIATION_ID",
    "IKASCHED_CONTEXT_INSTANCE_ID",
    "IKASCHED_JOB_NAME",
    STOP_AT_ENV,  # the wrapper's test hook: never set by a job parameter
)
_BASE_ENV_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "TMPDIR")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# Signals Python ignores or handles that a job must get with their default action.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


class _Phase(enum.Enum):
    QUEUED = 1
    RUNNING = 2
    SIMULATING = 3
    ENDED = 4


class _Run:
    """Mutable bookkeeping of one initiation while the executor owns it."""

    __slots__ = (
        "child",
        "end_reason",
        "fire_time",
        "grace_handle",
        "init",
        "last_signal",
        "on_disk",
        "paths",
        "phase",
        "pid",
        "pidfd",
        "sim_task",
        "start_ticks",
        "timeout_handle",
        "wrapper_exited",
    )

    def __init__(self, init: Initiation, paths: RunPaths) -> None:
        self.init = init
        self.paths = paths
        self.phase = _Phase.QUEUED
        self.on_disk = False  # the run went through a run directory: mark it reported
        self.child = False
        self.pid = 0
        self.pidfd = -1
        self.start_ticks = 0
        self.fire_time = 0
        self.end_reason = ""
        self.last_signal = 0  # the last signal the executor sent to the group
        self.wrapper_exited = False
        self.timeout_handle: asyncio.TimerHandle | None = None
        self.grace_handle: asyncio.TimerHandle | None = None
        self.sim_task: asyncio.Task[None] | None = None


class EventRecorder:
    """In-memory emit target for tests and harnesses: records events, lets callers wait."""

    def __init__(self) -> None:
        self.events: list[ProcessEvent] = []
        self._changed = asyncio.Condition()

    async def __call__(self, event: ProcessEvent) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def completions(self) -> dict[str, ProcessEvent]:
        """Completion events by initiation id."""
        return {e.initiation_id: e for e in self.events if not e.job_starting}

    async def wait_for(
        self, predicate: Callable[[list[ProcessEvent]], bool], timeout: float = 10.0
    ) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.events))

    async def wait_completed(self, *initiation_ids: str, timeout: float = 10.0) -> None:
        wanted = set(initiation_ids)
        await self.wait_for(
            lambda evs: wanted <= {e.initiation_id for e in evs if not e.job_starting}, timeout
        )


def quartz_day_of_week(day: dt.date) -> int:
    """Quartz numbering: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _default_base_env() -> dict[str, str]:
    env = {k: v for k in _BASE_ENV_NAMES if (v := os.environ.get(k)) is not None}
    env.setdefault("PATH", _DEFAULT_PATH)
    env["SHELL"] = SHELL
    return env


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
        clock_ms: Callable[[], int] = _now_ms,
        rng: random.Random | None = None,
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
        self._emit = emit
        self._emit_many = emit_many
        self._limit = max_concurrent_jobs
        self._default_timeout = default_timeout_seconds
        self._grace = kill_grace_seconds
        self._agent_name = agent_name
        self._hostname = socket.gethostname() if agent_hostname is None else agent_hostname
        self._base_env = dict(base_env) if base_env is not None else _default_base_env()
        self._today = today
        self._clock_ms = clock_ms
        self._rng = rng or random.Random()
        self._runs: dict[str, _Run] = {}
        self._recent: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._queue: list[tuple[int, int, str]] = []
        self._seq = 0
        self._active = 0
        self._is_root = os.geteuid() == 0
        try:
            self._agent_user = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            self._agent_user = str(os.geteuid())
        self._devnull = os.open(os.devnull, os.O_RDWR)
        self._outbox: asyncio.Queue[tuple[ProcessEvent, _Run | None]] = asyncio.Queue()
        self._pending_reports = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._reporter: asyncio.Task[None] | None = None
        self._closed = False

    # ----------------------------------------------------------------------------- public API

    async def submit(self, initiation: Initiation) -> Disposition:
        """Accept one initiation; idempotent per initiation id."""
        if self._closed:
            raise RuntimeError("executor is closed")
        self._ensure_reporter()
        try:
            paths = RunPaths.of(self.data_dir, initiation.id)
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="id") from exc
        if initiation.id in self._runs or initiation.id in self._recent:
            return Disposition.DUPLICATE
        run = _Run(initiation, paths)
        run.on_disk = False
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
            self._simulate(run)
            return Disposition.DRY_RUN
        found = runs.inspect(paths)
        if found.state is RunState.NOT_CLAIMED:
            self._enqueue(run)
            if run.phase is _Phase.QUEUED:
                return Disposition.QUEUED
            return Disposition.STARTED if run.phase is _Phase.RUNNING else Disposition.REJECTED
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
            self._queue_report(self._starting_event(run), None)
        if found.state is RunState.FINISHED and found.return_code is not None:
            ended = runs.claim_changed_ms(paths)
            self._report_end(
                run, found.return_code, found.pid, child_status=None, completion_time=ended
            )
            return Disposition.REPORTED_FINISHED
        self._report_end(run, None, found.pid, child_status=None)
        return Disposition.REPORTED_UNKNOWN

    async def recover(self, initiations: Iterable[Initiation]) -> dict[str, Disposition]:
        """After a restart: settle every journaled, not yet completed initiation (rule 6)."""
        return {i.id: await self.submit(i) for i in initiations}

    async def cancel(self, initiation_id: str, reason: str = "") -> bool:
        """Drop a queued initiation (reported as cancelled); False if it started or is unknown."""
        run = self._runs.get(initiation_id)
        if run is None or run.phase is not _Phase.QUEUED:
            return False
        run.end_reason = f"cancelled: {reason}" if reason else "cancelled"
        run.phase = _Phase.ENDED
        self._queue_report(
            self._event(
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
        if run is None or run.phase is _Phase.ENDED:
            return False
        label = f"killed: {reason}" if reason else "killed"
        if run.phase is _Phase.QUEUED:
            run.end_reason = label
            run.phase = _Phase.ENDED
            self._queue_report(
                self._event(run, return_code=-1, successful=False, outcome_reason=label), run
            )
            return True
        if run.phase is _Phase.SIMULATING:
            if run.sim_task is not None:
                run.sim_task.cancel()
            run.end_reason = label
            run.phase = _Phase.ENDED
            self._queue_report(
                self._event(
                    run,
                    return_code=-1,
                    successful=False,
                    outcome_reason=label,
                    completion_time=self._clock_ms(),
                ),
                run,
            )
            return True
        if not run.end_reason:
            run.end_reason = label
        self._stop_group(run, destroy)
        return True

    async def drain(self) -> None:
        """Wait until nothing is queued, running, simulated or waiting to be emitted."""
        await self._idle.wait()

    def running(self) -> list[str]:
        """Ids of initiations whose process runs (started here or re-attached)."""
        return [i for i, r in self._runs.items() if r.phase is _Phase.RUNNING]

    def queued(self) -> list[str]:
        """Ids of initiations waiting for a slot, in start order."""
        return [i for _, _, i in sorted(self._queue) if self._is_queued(i)]

    async def aclose(self) -> None:
        """Stop watching (jobs keep running, detached) after emitting what is pending.

        Runs still running stay unreported; `recover` settles them in the next agent."""
        self._closed = True
        for run in list(self._runs.values()):
            if run.phase is _Phase.RUNNING:
                self._unwatch(run)
                self._runs.pop(run.init.id, None)
            elif run.phase is _Phase.SIMULATING and run.sim_task is not None:
                run.sim_task.cancel()
        self._queue.clear()
        if self._reporter is not None:
            while self._pending_reports:
                await asyncio.sleep(0.005)
            self._reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reporter
        os.close(self._devnull)

    # ------------------------------------------------------------------------ queue and start

    def _is_queued(self, initiation_id: str) -> bool:
        run = self._runs.get(initiation_id)
        return run is not None and run.phase is _Phase.QUEUED

    def _register(self, run: _Run) -> None:
        self._runs[run.init.id] = run
        self._idle.clear()

    def _enqueue(self, run: _Run) -> None:
        self._register(run)
        self._seq += 1
        heapq.heappush(self._queue, (-run.init.priority, self._seq, run.init.id))
        self._pump()

    def _pump(self) -> None:
        while self._queue and (self._limit == 0 or self._active < self._limit):
            _, _, initiation_id = heapq.heappop(self._queue)
            run = self._runs.get(initiation_id)
            if run is None or run.phase is not _Phase.QUEUED:
                continue  # cancelled or killed while queued
            self._start(run)

    def _start(self, run: _Run) -> None:
        init = run.init
        job = init.internal_event_driven_job
        try:
            env, interpreter = self._launch_settings(run)
        except InvalidArgument as exc:
            self._reject(run, str(exc))
            return
        try:
            text: str | None = None
            if len(job.command_line) < MAX_INLINE_SCRIPT_BYTES // 4 and not job.run_as_user:
                runs.make_run_dir(run.paths)
                text = job.command_line
                if interpreter and text.endswith("\n"):
                    text = text[:-1]  # the wrapper's printf to job.sh adds the final newline
            else:
                runs.write_script(run.paths, job.command_line)
            if job.run_as_user:
                self._prepare_for_user(run.paths, job.run_as_user)
            # Empty working directory: the run directory, next to the job's logs.
            cwd = job.working_directory or str(run.paths.root)
            # Without an interpreter the wrapper evaluates the text itself: no job.sh inode.
            argv = wrapper_argv(
                run.paths.root,
                cwd,
                interpreter,
                text,
                ticks_on_fd3=True,
                inline=text is not None and not interpreter,
            )
            ticks_r, ticks_w = os.pipe2(os.O_CLOEXEC)
            try:
                pid = os.posix_spawn(
                    argv[0],
                    argv,
                    env,
                    setsid=True,
                    setsigdef=_RESET_SIGNALS,
                    setsigmask=(),
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, self._devnull, 0),
                        (os.POSIX_SPAWN_DUP2, self._devnull, 1),
                        (os.POSIX_SPAWN_DUP2, self._devnull, 2),
                        (os.POSIX_SPAWN_DUP2, ticks_r, 3),
                    ],
                )
                # Our child until reaped, so its /proc entry is its own; the wrapper records it.
                run.start_ticks = runs.process_start_ticks(pid) or 0
                with contextlib.suppress(BrokenPipeError):
                    os.write(ticks_w, b"%d\n" % run.start_ticks)
            finally:
                os.close(ticks_r)
                os.close(ticks_w)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command line
            self._reject(run, f"could not start the job: {exc}")
            return
        run.child = True
        run.on_disk = True
        run.pid = pid
        run.fire_time = self._clock_ms()
        run.phase = _Phase.RUNNING
        self._active += 1
        self._watch(run, self._timeout_of(job))
        self._queue_report(self._starting_event(run), None)

    def _launch_settings(self, run: _Run) -> tuple[dict[str, str], list[str]]:
        init = run.init
        job = init.internal_event_driven_job
        env = dict(self._base_env)
        interpreter: list[str] = []
        if job.execution_environment_properties:
            interpreter = [p for p in job.execution_environment_properties.split("|") if p]
        if job.run_as_user:
            if not self._is_root:
                raise InvalidArgument(
                    f"run_as_user {job.run_as_user!r} needs an agent running as root",
                    field="internal_event_driven_job.run_as_user",
                )
            try:
                user = pwd.getpwnam(job.run_as_user)
            except KeyError:
                raise InvalidArgument(
                    f"no such OS user {job.run_as_user!r}",
                    field="internal_event_driven_job.run_as_user",
                ) from None
            env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
            interpreter = [
                "setpriv",
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--init-groups",
                "--",
                *(interpreter or [SHELL]),
            ]
        for name, value in _parameters(init).items():
            _check_env(name, value)
            env[name] = value
        paths = run.paths
        env.update(
            LOG_FILE_PATH=str(paths.out_log),
            ERROR_LOG_FILE_PATH=str(paths.err_log),
            IKASCHED_OUTPUT_FILE=str(paths.output_env),
            IKASCHED_INITIATION_ID=init.id,
            IKASCHED_CONTEXT_INSTANCE_ID=init.context_instance_id,
            IKASCHED_JOB_NAME=init.job_name,
        )
        return env, interpreter

    @staticmethod
    def _prepare_for_user(paths: RunPaths, user_name: str) -> None:
        # The wrapper (root) opens the logs; the job itself reads job.sh and writes output.env.
        user = pwd.getpwnam(user_name)
        os.chmod(paths.root, 0o711)
        fd = os.open(paths.output_env, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        os.chown(paths.output_env, user.pw_uid, user.pw_gid)

    def _timeout_of(self, job: plan_pb2.InternalEventDrivenJob) -> float:
        seconds = job.timeout_seconds
        return float(seconds) if seconds > 0 else self._default_timeout

    def _reject(self, run: _Run, reason: str) -> None:
        log.warning("initiation %s not run: %s", run.init.id, reason)
        self._register(run)
        run.phase = _Phase.ENDED
        self._queue_report(
            self._event(
                run,
                return_code=-1,
                successful=False,
                outcome_reason=reason,
                completion_time=self._clock_ms(),
            ),
            run,
        )

    # ------------------------------------------------------------------- watching processes

    def _watch(self, run: _Run, timeout: float) -> None:
        run.pidfd = os.pidfd_open(run.pid)
        asyncio.get_running_loop().add_reader(run.pidfd, self._on_exit, run)
        if timeout > 0:
            run.timeout_handle = asyncio.get_running_loop().call_later(
                timeout, self._on_timeout, run, timeout
            )

    def _unwatch(self, run: _Run) -> None:
        if run.pidfd >= 0:
            asyncio.get_running_loop().remove_reader(run.pidfd)
            os.close(run.pidfd)
            run.pidfd = -1
        for handle in (run.timeout_handle, run.grace_handle):
            if handle is not None:
                handle.cancel()
        run.timeout_handle = run.grace_handle = None

    def _reattach(self, run: _Run, record: runs.PidRecord, *, announce: bool = True) -> bool:
        try:
            pidfd = os.pidfd_open(record.pid)
        except ProcessLookupError:
            return False
        if not runs.is_same_process(record):  # the pid was reused before we held it
            os.close(pidfd)
            return False
        run.pid = record.pid
        run.start_ticks = record.start_ticks
        run.fire_time = runs.ticks_to_epoch_ms(record.start_ticks)
        run.phase = _Phase.RUNNING
        self._register(run)
        self._active += 1
        run.pidfd = pidfd
        asyncio.get_running_loop().add_reader(pidfd, self._on_exit, run)
        timeout = self._timeout_of(run.init.internal_event_driven_job)
        if timeout > 0:
            left = max(0.0, timeout - (self._clock_ms() - run.fire_time) / 1000)
            run.timeout_handle = asyncio.get_running_loop().call_later(
                left, self._on_timeout, run, timeout
            )
        if announce:
            # The dashboard may never have seen it start; the repeated id makes this harmless.
            self._queue_report(self._starting_event(run), None)
        return True

    def _on_timeout(self, run: _Run, timeout: float) -> None:
        run.timeout_handle = None
        if run.phase is not _Phase.RUNNING:
            return
        run.end_reason = f"timed out after {timeout:g} s"
        self._stop_group(run, destroy=False)

    def _stop_group(self, run: _Run, destroy: bool) -> None:
        if destroy or self._grace == 0:
            self._signal_group(run, signal.SIGKILL)
            return
        self._signal_group(run, signal.SIGTERM)
        if run.grace_handle is None:
            run.grace_handle = asyncio.get_running_loop().call_later(
                self._grace, self._end_grace, run
            )

    def _end_grace(self, run: _Run) -> None:
        run.grace_handle = None
        self._signal_group(run, signal.SIGKILL)

    def _signal_group(self, run: _Run, sig: int) -> None:
        if run.phase is not _Phase.RUNNING:
            return
        if run.wrapper_exited:
            # Only the job's group is left. A child wrapper stays unreaped until we are done,
            # which keeps its pid (the group id) from being reused.
            if run.child or group_has_live_members(run.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(run.pid, sig)
            return
        # A non-child's pid could have been reused once it ended: check its identity first.
        if not run.child and runs.process_start_ticks(run.pid) != run.start_ticks:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.pid, sig)
            run.last_signal = sig

    def _on_exit(self, run: _Run) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(run.pidfd)
        run.wrapper_exited = True
        if run.grace_handle is not None and group_has_live_members(run.pid):
            # The wrapper died of our TERM; the job may still be cleaning up: give it the grace.
            loop.call_later(GROUP_POLL_SECONDS, self._await_group, run)
            return
        self._finish(run)

    def _await_group(self, run: _Run) -> None:
        if run.grace_handle is not None and group_has_live_members(run.pid):
            asyncio.get_running_loop().call_later(GROUP_POLL_SECONDS, self._await_group, run)
            return
        self._finish(run)

    def _finish(self, run: _Run) -> None:
        child_status: int | None = None
        if run.end_reason and run.child:
            # Stopped on purpose: take stragglers of the group with it while the unreaped
            # wrapper still holds the group id.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run.pid, signal.SIGKILL)
        if run.child:
            try:
                info = os.waitid(os.P_PIDFD, run.pidfd, os.WEXITED | os.WNOHANG)
            except ChildProcessError:
                info = None
            if info is not None:
                child_status = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        self._unwatch(run)
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

    # ------------------------------------------------------------------------------- events

    def _report_end(
        self,
        run: _Run,
        rc: int | None,
        record: runs.PidRecord | None,
        child_status: int | None,
        *,
        completion_time: int | None = None,
    ) -> None:
        run.phase = _Phase.ENDED
        job = run.init.internal_event_driven_job
        if record is not None and not run.pid:
            run.pid = record.pid
            run.fire_time = runs.ticks_to_epoch_ms(record.start_ticks)
        if record is not None and record.pid == run.pid:
            run.start_ticks = record.start_ticks
        reason = run.end_reason
        if rc is not None:
            code = rc
            successful = not reason and _is_success(code, job.successful_return_codes)
        else:
            successful = False
            if child_status is not None and child_status < 0:
                code = 128 - child_status  # the wrapper died of this signal
            elif run.last_signal and reason:
                code = 128 + run.last_signal  # a re-attached wrapper we signalled
            else:
                code = -1
            if not reason:
                reason = "exit status unknown"
        details = _execution_details(run.init, self._run_user(run))
        if reason:
            details += f"\nended: {reason}"
        event = self._event(
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
        self._queue_report(event, run)

    def _starting_event(self, run: _Run) -> ProcessEvent:
        return self._event(
            run,
            job_starting=True,
            pid=run.pid,
            fire_time=run.fire_time,
            process_start_time=runs.ticks_to_epoch_ms(run.start_ticks) if run.start_ticks else 0,
            result_output=str(run.paths.out_log),
            result_error=str(run.paths.err_log),
            execution_details=_execution_details(run.init, self._run_user(run)),
        )

    def _run_user(self, run: _Run) -> str:
        return run.init.internal_event_driven_job.run_as_user or self._agent_user

    def _event(
        self,
        run: _Run,
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
    ) -> ProcessEvent:
        init = run.init
        job = init.internal_event_driven_job
        event = ProcessEvent(
            id=f"{init.id}:{'starting' if job_starting else 'completed'}",
            outcome=outcome,  # type: ignore[arg-type]
            agent_name=init.agent_name or self._agent_name,
            agent_hostname=self._hostname,
            job_name=init.job_name,
            job_description=init.job_description,
            command_line=job.command_line,
            return_code=return_code,
            successful=successful,
            result_output=result_output,
            result_error=result_error,
            pid=pid,
            user=self._run_user(run),
            fire_time=fire_time or self._clock_ms(),
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
            event.internal_event_driven_job.CopyFrom(job)
        if init.HasField("catalyst_event"):
            event.catalyst_event.CopyFrom(init.catalyst_event)
        if init.HasField("dry_run_parameters"):
            event.dry_run_parameters.CopyFrom(init.dry_run_parameters)
        return event

    def _finish_without_process(self, run: _Run, outcome: int, *, skipped: bool = False) -> None:
        self._register(run)
        run.phase = _Phase.ENDED
        now = self._clock_ms()
        self._queue_report(
            self._event(run, outcome=outcome, skipped=skipped, fire_time=now, completion_time=now),
            run,
        )

    def _simulate(self, run: _Run) -> None:
        self._register(run)
        run.phase = _Phase.SIMULATING
        run.fire_time = self._clock_ms()
        params = run.init.dry_run_parameters
        if params.fixed_execution_time_millis > 0:
            millis = float(params.fixed_execution_time_millis)
        else:
            low = max(0, params.min_execution_time_millis)
            high = max(low, params.max_execution_time_millis)
            millis = self._rng.uniform(low, high)
        fail = params.error or self._rng.random() * 100 < params.job_error_percentage
        details = _execution_details(run.init, self._run_user(run)) + "\ndry run: no process"
        self._queue_report(
            self._event(run, job_starting=True, fire_time=run.fire_time, execution_details=details),
            None,
        )
        run.sim_task = asyncio.get_running_loop().create_task(
            self._end_simulation(run, millis / 1000, fail, details)
        )

    async def _end_simulation(self, run: _Run, seconds: float, fail: bool, details: str) -> None:
        await asyncio.sleep(seconds)
        run.phase = _Phase.ENDED
        self._queue_report(
            self._event(
                run,
                return_code=1 if fail else 0,
                successful=not fail,
                outcome_reason="dry run: simulated failure" if fail else "",
                fire_time=run.fire_time,
                completion_time=self._clock_ms(),
                execution_details=details,
            ),
            run,
        )

    # -------------------------------------------------------------------------- the reporter

    def _queue_report(self, event: ProcessEvent, finished: _Run | None) -> None:
        self._pending_reports += 1
        self._idle.clear()
        self._outbox.put_nowait((event, finished))

    def _ensure_reporter(self) -> None:
        if self._reporter is None or self._reporter.done():
            self._reporter = asyncio.get_running_loop().create_task(self._report_loop())

    async def _report_loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < REPORT_BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            if self._emit_many is not None:
                await self._emit_until_taken([event for event, _ in batch])
            else:
                for event, _ in batch:
                    await self._emit_until_taken(event)
            # Only after emit returned: a crash before the markers re-reports (same event id).
            done = [run for _, run in batch if run is not None]
            to_mark = [run.paths for run in done if run.on_disk]
            if to_mark:
                # File creation stalls under I/O load: keep it off the event loop, one hop a batch.
                await asyncio.to_thread(_mark_all_reported, to_mark)
            for run in done:
                self._runs.pop(run.init.id, None)
                self._remember(run.init.id)
            self._pending_reports -= len(batch)
            if not self._runs and not self._pending_reports:
                self._idle.set()

    async def _emit_until_taken(self, event: ProcessEvent | list[ProcessEvent]) -> None:
        delay = 0.05
        while True:
            try:
                if isinstance(event, list):
                    assert self._emit_many is not None
                    await self._emit_many(event)
                else:
                    await self._emit(event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # The outbox is the agent's; keep the event until it takes it.
                first = event[0] if isinstance(event, list) else event
                log.exception("emit of %s failed; retrying in %.2f s", first.id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _remember(self, initiation_id: str) -> None:
        self._recent[initiation_id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)


# ------------------------------------------------------------------------------ pure helpers


def _mark_all_reported(paths: list[RunPaths]) -> None:
    for p in paths:
        runs.mark_reported(p)


def _is_success(code: int, successful_return_codes: Iterable[int]) -> bool:
    codes = list(successful_return_codes)
    return code in codes if codes else code == 0


def _parameters(init: Initiation) -> dict[str, str]:
    """Environment values from parameters: upstream outputs < job defaults < resolved values."""
    values: dict[str, str] = dict(init.job_execution_output_parameters)
    for declared in init.internal_event_driven_job.context_parameters:
        if declared.default_value:
            values[declared.name] = declared.default_value
    for param in init.context_parameters:
        values[param.name] = param.value or param.default_value
    for name in RESERVED_ENV:
        values.pop(name, None)
    return values


def group_has_live_members(pgid: int) -> bool:
    """True if a process other than a zombie belongs to process group `pgid` (scans /proc;
    used only while a stopped job's grace runs)."""
    want = str(pgid).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) > 2 and rest[2] == want and rest[0] not in (b"Z", b"X"):
            return True
    return False


def _secret_names(init: Initiation) -> set[str]:
    names = {p.name for p in init.context_parameters if p.secret}
    names.update(p.name for p in init.internal_event_driven_job.context_parameters if p.secret)
    return names


def _check_env(name: str, value: str) -> None:
    if not name or "=" in name or "\0" in name:
        raise InvalidArgument(
            f"{name!r} cannot name an environment variable", field="context_parameters"
        )
    if "\0" in value:
        raise InvalidArgument(f"value of {name!r} contains a NUL byte", field="context_parameters")


def _execution_details(init: Initiation, user: str) -> str:
    """Launch description: command, directory, user and parameters (secrets masked)."""
    job = init.internal_event_driven_job
    secrets = _secret_names(init)
    lines = [
        f"command: {job.command_line}",
        f"working directory: {job.working_directory or '(run directory)'}",
        f"user: {user}",
        "parameters:",
    ]
    for name, value in sorted(_parameters(init).items()):
        lines.append(f"  {name}={SECRET_MASK if name in secrets else value}")
    return "\n".join(lines)
