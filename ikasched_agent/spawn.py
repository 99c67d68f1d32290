"""Spawning a job's wrapper: its environment, its run directory and the posix_spawn itself.

The wrapper (wrapper.py) is started detached (its own session, stdio on /dev/null) and told
its own process start time on fd 3, so it can record a pid that survives pid reuse.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal

from ikasched.v1 import plan_pb2
from ikasched_agent import runs
from ikasched_agent.protocol import Initiation
from ikasched_agent.runs import RunPaths
from ikasched_agent.wrapper import MAX_INLINE_SCRIPT_BYTES, SHELL, STOP_AT_ENV, wrapper_argv
from ikasched_common.errors import InvalidArgument
from ikasched_common.files import JOB_UMASK_ENV, started_umask

__all__ = [
    "RESERVED_ENV",
    "default_base_env",
    "job_parameters",
    "launch_settings",
    "spawn_wrapper",
]

RESERVED_ENV = (
    "LOG_FILE_PATH",
    "ERROR_LOG_FILE_PATH",
    "IKASCHED_OUTPUT_FILE",
    "IKASCHED_INITIATION_ID",
    "IKASCHED_CONTEXT_INSTANCE_ID",
    "IKASCHED_JOB_NAME",
    STOP_AT_ENV,  # the wrapper's test hook: never set by a job parameter
    JOB_UMASK_ENV,
)
_BASE_ENV_NAMES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "TMPDIR")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
# Signals Python ignores or handles that a job must get with their default action.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def default_base_env() -> dict[str, str]:
    """The agent's own environment variables a job inherits."""
    env = {k: v for k in _BASE_ENV_NAMES if (v := os.environ.get(k)) is not None}
    env.setdefault("PATH", _DEFAULT_PATH)
    env["SHELL"] = SHELL
    return env


def job_parameters(init: Initiation) -> dict[str, str]:
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


def launch_settings(
    init: Initiation, paths: RunPaths, base_env: dict[str, str], *, is_root: bool
) -> tuple[dict[str, str], list[str]]:
    """The job's environment and interpreter argv (setpriv first for run_as_user).

    Raises InvalidArgument for what can never run: run_as_user without root, an unknown OS
    user, a parameter that cannot be an environment variable."""
    job = init.internal_event_driven_job
    env = dict(base_env)
    interpreter: list[str] = []
    if job.execution_environment_properties:
        interpreter = [p for p in job.execution_environment_properties.split("|") if p]
    if job.run_as_user:
        if not is_root:
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
    for name, value in job_parameters(init).items():
        _check_env(name, value)
        env[name] = value
    env.update(
        LOG_FILE_PATH=str(paths.out_log),
        ERROR_LOG_FILE_PATH=str(paths.err_log),
        IKASCHED_OUTPUT_FILE=str(paths.output_env),
        IKASCHED_INITIATION_ID=init.id,
        IKASCHED_CONTEXT_INSTANCE_ID=init.context_instance_id,
        IKASCHED_JOB_NAME=init.job_name,
    )
    env[JOB_UMASK_ENV] = f"{started_umask():03o}"
    return env, interpreter


def spawn_wrapper(
    paths: RunPaths,
    job: plan_pb2.InternalEventDrivenJob,
    env: dict[str, str],
    interpreter: list[str],
    devnull: int,
) -> tuple[int, int]:
    """Write the run directory and spawn the detached wrapper; returns (pid, start ticks).

    Raises OSError, or ValueError for a NUL byte in the command line."""
    text: str | None = None
    if len(job.command_line) < MAX_INLINE_SCRIPT_BYTES // 4 and not job.run_as_user:
        runs.make_run_dir(paths)
        text = job.command_line
        if interpreter and text.endswith("\n"):
            text = text[:-1]  # the wrapper's printf to job.sh adds the final newline
    else:
        runs.write_script(paths, job.command_line)
    if job.run_as_user:
        _prepare_for_user(paths, job.run_as_user)
    # Empty working directory: the run directory, next to the job's logs.
    cwd = job.working_directory or str(paths.root)
    # Without an interpreter the wrapper evaluates the text itself: no job.sh inode.
    argv = wrapper_argv(
        paths.root,
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
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, devnull, 1),
                (os.POSIX_SPAWN_DUP2, devnull, 2),
                (os.POSIX_SPAWN_DUP2, ticks_r, 3),
            ],
        )
        # Our child until reaped, so its /proc entry is its own; the wrapper records it.
        start_ticks = runs.process_start_ticks(pid) or 0
        with contextlib.suppress(BrokenPipeError):
            os.write(ticks_w, b"%d\n" % start_ticks)
    finally:
        os.close(ticks_r)
        os.close(ticks_w)
    return pid, start_ticks


def _prepare_for_user(paths: RunPaths, user_name: str) -> None:
    # The wrapper (root) opens the logs; the job itself reads job.sh and writes output.env.
    # The agent's files are private (0600/0700, ikasched_common/files.py): the user may pass
    # through the data directory, runs/ and the run directory (0711, no listing) and read
    # job.sh (the command text; parameter values only ever travel in the environment).
    user = pwd.getpwnam(user_name)
    for directory in (paths.root.parent.parent, paths.root.parent, paths.root):
        os.chmod(directory, 0o711)
    os.chmod(paths.script, 0o644)
    fd = os.open(paths.output_env, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    os.chown(paths.output_env, user.pw_uid, user.pw_gid)


def _check_env(name: str, value: str) -> None:
    if not name or "=" in name or "\0" in name:
        raise InvalidArgument(
            f"{name!r} cannot name an environment variable", field="context_parameters"
        )
    if "\0" in value:
        raise InvalidArgument(f"value of {name!r} contains a NUL byte", field="context_parameters")
