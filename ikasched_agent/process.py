"""A run's process: the executor's bookkeeping of one initiation and the mechanics of watching
its wrapper (a pidfd on the event loop, signals to the job's process group, the reap).

Decisions (when to stop a job, what to report) are the executor's; this module only carries
them out. One pidfd per running job is registered with the event loop (no thread per job);
wrappers started by this process are reaped with waitid(P_PIDFD).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
from collections.abc import Callable

from ikasched_agent import runs
from ikasched_agent.protocol import Initiation
from ikasched_agent.runs import RunPaths

__all__ = ["GROUP_POLL_SECONDS", "Phase", "ProcessWatch", "Run", "group_has_live_members"]

#: How often a stopped job's process group is checked for leftovers during the kill grace.
GROUP_POLL_SECONDS = 0.05


class Phase(enum.Enum):
    """Where a run is in the executor."""

    QUEUED = 1
    RUNNING = 2
    SIMULATING = 3
    ENDED = 4


class Run:
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
        self.phase = Phase.QUEUED
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


class ProcessWatch:
    """Watches running wrappers and stops their process groups; `on_ended(run)` is called
    once a wrapper has exited and, during a kill grace, its job's group has emptied."""

    def __init__(self, kill_grace_seconds: float, on_ended: Callable[[Run], None]) -> None:
        self._grace = kill_grace_seconds
        self._on_ended = on_ended

    def watch(self, run: Run) -> None:
        """Watch a wrapper this process spawned (its child)."""
        run.pidfd = os.pidfd_open(run.pid)
        asyncio.get_running_loop().add_reader(run.pidfd, self._on_exit, run)

    def adopt(self, run: Run, record: runs.PidRecord) -> bool:
        """Watch a wrapper an earlier agent spawned; False if it is gone (or its pid reused)."""
        try:
            pidfd = os.pidfd_open(record.pid)
        except ProcessLookupError:
            return False
        if not runs.is_same_process(record):  # the pid was reused before we held it
            os.close(pidfd)
            return False
        run.pid = record.pid
        run.start_ticks = record.start_ticks
        run.pidfd = pidfd
        asyncio.get_running_loop().add_reader(pidfd, self._on_exit, run)
        return True

    def unwatch(self, run: Run) -> None:
        """Stop watching: the pidfd goes, pending timeout and grace timers are cancelled."""
        if run.pidfd >= 0:
            asyncio.get_running_loop().remove_reader(run.pidfd)
            os.close(run.pidfd)
            run.pidfd = -1
        for handle in (run.timeout_handle, run.grace_handle):
            if handle is not None:
                handle.cancel()
        run.timeout_handle = run.grace_handle = None

    def stop_group(self, run: Run, destroy: bool) -> None:
        """TERM the job's group, then KILL after the grace; or KILL at once (destroy)."""
        if destroy or self._grace == 0:
            self._signal_group(run, signal.SIGKILL)
            return
        self._signal_group(run, signal.SIGTERM)
        if run.grace_handle is None:
            run.grace_handle = asyncio.get_running_loop().call_later(
                self._grace, self._end_grace, run
            )

    def reap(self, run: Run) -> int | None:
        """Collect an ended child wrapper: its exit status, or minus the signal that killed it
        (None when it is not our child or was reaped already)."""
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
        return child_status

    def _end_grace(self, run: Run) -> None:
        run.grace_handle = None
        self._signal_group(run, signal.SIGKILL)

    def _signal_group(self, run: Run, sig: int) -> None:
        if run.phase is not Phase.RUNNING:
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

    def _on_exit(self, run: Run) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(run.pidfd)
        run.wrapper_exited = True
        if run.grace_handle is not None and group_has_live_members(run.pid):
            # The wrapper died of our TERM; the job may still be cleaning up: give it the grace.
            loop.call_later(GROUP_POLL_SECONDS, self._await_group, run)
            return
        self._on_ended(run)

    def _await_group(self, run: Run) -> None:
        if run.grace_handle is not None and group_has_live_members(run.pid):
            asyncio.get_running_loop().call_later(GROUP_POLL_SECONDS, self._await_group, run)
            return
        self._on_ended(run)


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
