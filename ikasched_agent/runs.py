"""Run-directory records: what a job's detached wrapper leaves under `<data_dir>/runs/<id>/`.

One directory per initiation id. The wrapper (see wrapper.py) writes the records; the executor
reads them, live and after an agent restart:

- `job.sh`      the command line, written by the executor before the wrapper starts;
- `claim`       created with O_EXCL by the wrapper before the job runs; a second wrapper for
                the same id finds it and exits without running anything;
- `pid`         "<pid> <starttime>\\n", written by the wrapper after claiming and before the
                job runs; pid is the wrapper's own (the process-group leader), starttime is
                field 22 of /proc/<pid>/stat (clock ticks since boot), so a reused pid is told
                apart from the wrapper;
- `rc`          "<exit code>\\n", created with O_EXCL and written in one write(2) when the job
                ends; only a newline-terminated integer counts, so a reader never takes a
                partial record for an exit code;
- `out.log`, `err.log`  the job's stdout and stderr;
- `output.env`  name=value lines the job may write (its path is $IKASCHED_OUTPUT_FILE);
- `reported`    written by the executor after the completion event was handed over, so a
                recovery never reports a run twice.

Pure file reading and writing; no processes are started here.
"""

from __future__ import annotations

import contextlib
import enum
import os
from dataclasses import dataclass
from pathlib import Path

#: Wrapper exit status when another wrapper already claimed the run (EX_TEMPFAIL).
CLAIM_TAKEN_STATUS = 75

#: Upper bound on an output file we parse, so a runaway job cannot blow up an event.
MAX_OUTPUT_FILE_BYTES = 1 << 20

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class RunPaths:
    """The files of one run directory."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path | str, initiation_id: str) -> RunPaths:
        return cls(Path(data_dir) / "runs" / safe_dir_name(initiation_id))

    @property
    def script(self) -> Path:
        return self.root / "job.sh"

    @property
    def claim(self) -> Path:
        return self.root / "claim"

    @property
    def pid(self) -> Path:
        return self.root / "pid"

    @property
    def rc(self) -> Path:
        return self.root / "rc"

    @property
    def out_log(self) -> Path:
        return self.root / "out.log"

    @property
    def err_log(self) -> Path:
        return self.root / "err.log"

    @property
    def output_env(self) -> Path:
        return self.root / "output.env"

    @property
    def reported(self) -> Path:
        return self.root / "reported"


@dataclass(frozen=True, slots=True)
class PidRecord:
    """The wrapper's pid and its start time in clock ticks since boot."""

    pid: int
    start_ticks: int


class RunState(enum.Enum):
    """What a run directory says about an initiation (DESIGN §3 rule 6)."""

    NOT_CLAIMED = "not_claimed"  # no directory or no claim: the job never started
    RUNNING = "running"  # claimed, and the recorded pid is alive with the same start time
    FINISHED = "finished"  # rc present, completion not yet reported
    REPORTED = "reported"  # completion already handed to the outbox
    UNKNOWN = "unknown"  # claimed, no rc, process gone or pid reused


@dataclass(frozen=True, slots=True)
class RunInspection:
    """The state of one run directory with the records found."""

    state: RunState
    pid: PidRecord | None = None
    return_code: int | None = None


def safe_dir_name(initiation_id: str) -> str:
    """The directory name for an id; refuses ids that could escape the runs directory."""
    if (
        not initiation_id
        or initiation_id in (".", "..")
        or "/" in initiation_id
        or "\0" in initiation_id
        or len(initiation_id.encode()) > 200
    ):
        raise ValueError(f"initiation id {initiation_id!r} cannot name a run directory")
    return initiation_id


def _read_small(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def read_pid(paths: RunPaths) -> PidRecord | None:
    """The wrapper's pid record, or None if absent or incomplete."""
    text = _read_small(paths.pid)
    if not text or not text.endswith("\n"):
        return None
    parts = text.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return PidRecord(int(parts[0]), int(parts[1]))


def read_rc(paths: RunPaths) -> int | None:
    """The job's exit code, or None if the record is absent or not complete."""
    text = _read_small(paths.rc)
    if not text or not text.endswith("\n"):
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _proc_stat(pid: int) -> list[bytes] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat[stat.rfind(b")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time, ticks since boot); None if no such process."""
    rest = _proc_stat(pid)
    try:
        return int(rest[19]) if rest is not None else None
    except (IndexError, ValueError):
        return None


def _boot_time_ms() -> int:
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime "):
                return int(line.split()[1]) * 1000
    return 0


_BOOT_TIME_MS = _boot_time_ms()


def ticks_to_epoch_ms(start_ticks: int) -> int:
    """Boot-relative start ticks as epoch milliseconds (for events; identity uses ticks)."""
    return _BOOT_TIME_MS + start_ticks * 1000 // _CLK_TCK


def is_same_process(record: PidRecord) -> bool:
    """True if the recorded pid exists (maybe as an unreaped zombie) and started at the
    recorded time: the identity check before signalling it."""
    return process_start_ticks(record.pid) == record.start_ticks


def is_running(record: PidRecord) -> bool:
    """True if the recorded process is alive: same identity and not a zombie."""
    rest = _proc_stat(record.pid)
    if rest is None or len(rest) < 20 or rest[0] in (b"Z", b"X"):
        return False
    return rest[19] == str(record.start_ticks).encode()


def inspect(paths: RunPaths) -> RunInspection:
    """Classify a run directory; reads only, never changes it."""
    if paths.reported.exists():
        return RunInspection(RunState.REPORTED, read_pid(paths), read_rc(paths))
    if not paths.claim.exists():
        return RunInspection(RunState.NOT_CLAIMED)
    pid = read_pid(paths)
    rc = read_rc(paths)
    if rc is not None:
        return RunInspection(RunState.FINISHED, pid, rc)
    if pid is not None and is_running(pid):
        # The rc may land between our two reads; the caller re-reads rc once the process ends.
        return RunInspection(RunState.RUNNING, pid)
    rc = read_rc(paths)
    if rc is not None:
        return RunInspection(RunState.FINISHED, pid, rc)
    return RunInspection(RunState.UNKNOWN, pid)


def parse_output_env(text: str) -> dict[str, str]:
    """Parse name=value lines; blank lines and '#' comments are ignored, later names win."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        result[name] = value
    return result


def read_output_env(paths: RunPaths) -> dict[str, str]:
    """The output parameters the job wrote, or {} when it wrote none."""
    try:
        with open(paths.output_env, "rb") as f:
            data = f.read(MAX_OUTPUT_FILE_BYTES)
    except FileNotFoundError:
        return {}
    return parse_output_env(data.decode("utf-8", "replace"))


def mark_reported(paths: RunPaths) -> None:
    """Record that the completion event was handed over (idempotent)."""
    try:
        fd = os.open(paths.reported, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    os.close(fd)


def make_run_dir(paths: RunPaths) -> None:
    """Create the run directory (the runs/ directory must exist); fine if it exists."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(paths.root)


def script_text(command_line: str) -> str:
    """The job.sh content for a command line (always newline-terminated)."""
    return command_line if command_line.endswith("\n") else command_line + "\n"


def write_script(paths: RunPaths, command_line: str) -> None:
    """Create the run directory (if needed) and write its script; only before a claim."""
    os.makedirs(paths.root, exist_ok=True)
    text = script_text(command_line)
    tmp = paths.root / "job.sh.tmp"
    # A crash may have left a directory without a claim: replace its script whole.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(text.encode())
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(tmp, paths.script)
