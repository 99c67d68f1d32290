"""The detached job wrapper: claim, record pid, run the job, record its exit code.

The wrapper is a few lines of POSIX shell run by `/bin/sh -c`, not a Python program: a Python
interpreter start costs tens of milliseconds per job, a `/bin/sh` start well under one. The
executor spawns it directly (in a new session, so it is its own process-group leader and
survives the agent); `python -m ikasched_agent.wrapper` execs the same text, for operators and
tests.

What the wrapper does, in order (run-directory records in runs.py):

1. opens `claim` with noclobber (`set -C`: O_EXCL) and keeps it open on fd 4; if it exists,
   exits 75 running nothing;
2. writes its identity into the claim: "<its own pid> <its start ticks>" (the ticks come from
   the executor on fd 3, or, run by hand, from /proc/$$/stat read with builtins);
3. sends its stdin to /dev/null and stdout/stderr to `out.log`/`err.log` (created, like the
   claim, under the agent's private umask: 0600), then gives the job the umask the agent
   started with (`IKASCHED_JOB_UMASK`, ikasched_common/files.py);
4. changes to the working directory (a failure there is the job's failure, rc 1);
5. runs the job and waits for it:
   - default: the command line, passed inline in argv, is evaluated by /bin/sh in a forked
     subshell of the wrapper, `( eval "$text" )`: a separate process with default signal
     handling and no positional parameters, parsed and run command by command as a script
     file would be, but with neither a second exec of the shell nor a job.sh to create;
   - from a script file, `( . job.sh )`: command lines too long for argv, and runs by hand;
   - with an interpreter (a non-empty execution_environment_properties, or run_as_user's
     `setpriv ... /bin/sh`): `<interpreter argv...> job.sh`;
6. appends "rc <exit code>" to the claim through the fd it kept (one write(2); readers only
   accept a complete, newline-terminated record) and exits with the job's code.

Every record lives in the one claim file because on some file systems creating an inode costs
far more than the write (ext4 here: ~0.8 ms a file, a write to an open file microseconds).

Signals keep their default actions in the wrapper: a TERM or KILL sent to the process group
ends wrapper and job together, without an rc. (A wrapper that trapped TERM to outlive it and
record the job's status loses TERMs that arrive while it forks the job: dash runs a trap only
after the current command, i.e. after the job has ended.) The executor knows which signal it
sent and reports 128 + signal with the reason (killed, timed out); a wrapper killed by someone
else while the agent was down is reported as "exit status unknown".

The pid reported in events and recorded in the claim is the wrapper's; it is the process-group
id, and kills go to the whole group (job, its children and the wrapper).

Test hook: with `IKASCHED_TEST_STOP_AT` set in its environment to one of `STOP_POINTS`, the
wrapper stops itself (SIGSTOP) at that point, so a test can kill the agent exactly there. The
executor never passes a job parameter of that name; unset, it costs one `case` per point.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

SHELL = "/bin/sh"

#: Exit status of a wrapper that lost the claim (EX_TEMPFAIL); mirrors runs.CLAIM_TAKEN_STATUS.
CLAIM_TAKEN_STATUS = 75

#: Longest command line passed inline in argv (Linux caps one argument at 128 KiB); longer ones
#: are written to job.sh by the executor before the wrapper starts.
MAX_INLINE_SCRIPT_BYTES = 64 * 1024

#: Environment variable naming the point where the wrapper stops itself (tests only).
STOP_AT_ENV = "IKASCHED_TEST_STOP_AT"
#: The points, in order: spawned (nothing claimed), claimed (claim created, identity not yet
#: written), recorded (identity written, job not yet started), ended (job ended, rc not yet
#: written).
STOP_POINTS = ("spawned", "claimed", "recorded", "ended")

# $0 = script path, $1 = run dir, $2 = working dir ("" = keep), $3 = "-" (job.sh exists),
# "=<script text>" (write it to job.sh after claiming and run that) or "@<script text>" (eval
# it, no file), $4 = "3" (our start ticks arrive on fd 3 from the executor) or "" (read them
# from /proc), $5.. = interpreter argv (optional).
WRAPPER_SCRIPT = r"""__ik_d=$1; __ik_wd=$2; __ik_text=$3; __ik_t=$4; shift 4
case ${IKASCHED_TEST_STOP_AT-} in spawned) kill -STOP $$;; esac
if [ "$__ik_t" = 3 ]; then
  read -r __ik_t <&3 || exit 75
  exec 3<&-
else
  read -r __ik_s </proc/$$/stat
  __ik_st() { shift 19; __ik_t=$1; }
  __ik_st ${__ik_s##*) }
fi
set -C
{ command exec 4>"$__ik_d/claim"; } 2>/dev/null || exit 75
set +C
case ${IKASCHED_TEST_STOP_AT-} in claimed) kill -STOP $$;; esac
printf '%s %s\n' $$ "$__ik_t" >&4
case ${IKASCHED_TEST_STOP_AT-} in recorded) kill -STOP $$;; esac
case $__ik_text in =*) printf '%s\n' "${__ik_text#=}" >"$__ik_d/job.sh"; __ik_text=-;; esac
exec </dev/null >"$__ik_d/out.log" 2>"$__ik_d/err.log"
case ${IKASCHED_JOB_UMASK-} in ?*) umask "$IKASCHED_JOB_UMASK";; esac
if [ -n "$__ik_wd" ] && ! cd "$__ik_wd"; then
  __ik_rc=1
elif [ $# -ne 0 ]; then
  "$@" "$__ik_d/job.sh" 4>&-
  __ik_rc=$?
elif [ "$__ik_text" = - ]; then
  ( unset __ik_wd __ik_s __ik_t __ik_text; set --; . "$__ik_d/job.sh" ) 4>&-
  __ik_rc=$?
else
  ( unset __ik_wd __ik_s __ik_t; __ik_text=${__ik_text#@}; set --; eval "$__ik_text" ) 4>&-
  __ik_rc=$?
fi
case ${IKASCHED_TEST_STOP_AT-} in ended) kill -STOP $$;; esac
printf 'rc %s\n' "$__ik_rc" >&4
exit "$__ik_rc"
"""


def wrapper_argv(
    run_dir: Path | str,
    working_directory: str = "",
    interpreter: Sequence[str] = (),
    script_text: str | None = None,
    ticks_on_fd3: bool = False,
    *,
    inline: bool = False,
) -> list[str]:
    """The argv that runs the wrapper for one run directory (argv[0] is the shell path).

    With `script_text` and `inline` the wrapper evaluates the text itself (no job.sh; not with
    an interpreter, which needs a file); with `script_text` alone it writes job.sh once it
    holds the claim and runs that; without, job.sh must exist already. With `ticks_on_fd3` the
    caller writes the wrapper's start ticks ("<n>" and a newline) to the wrapper's fd 3, a
    pipe: dash reads /proc/$$/stat one byte per read(2), some 300 system calls, where the
    spawner needs one. A wrapper whose spawner died before writing them exits 75 without
    claiming, so the job never started and a recovery starts it. The run directory is made
    absolute: the wrapper changes directory before it runs job.sh."""
    if inline and (script_text is None or interpreter):
        raise ValueError("inline needs script_text and no interpreter")
    run_dir = os.path.abspath(run_dir)
    text = "-" if script_text is None else ("@" if inline else "=") + script_text
    return [
        SHELL,
        "-c",
        WRAPPER_SCRIPT,
        f"{run_dir}/job.sh",
        run_dir,
        working_directory,
        text,
        "3" if ticks_on_fd3 else "",
        *interpreter,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ikasched_agent.wrapper RUN_DIR [--cwd DIR] [-- INTERPRETER ...]`: exec the
    wrapper in place of this interpreter (the environment is passed on as it is)."""
    parser = argparse.ArgumentParser(
        prog="python -m ikasched_agent.wrapper",
        description="Claim a run directory, run its job.sh once, record pid and exit code.",
    )
    parser.add_argument("run_dir", help="the run directory holding job.sh")
    parser.add_argument("--cwd", default="", help="working directory of the job")
    parser.add_argument("interpreter", nargs="*", help="interpreter argv (default: /bin/sh)")
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir).resolve()
    if not (run_dir / "job.sh").is_file():
        print(f"run_dir: no job.sh in {run_dir}", file=sys.stderr)
        return 2
    cmd = wrapper_argv(run_dir, args.cwd, args.interpreter)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main())
