"""Run-directory records: what a job's detached wrapper leaves under `<data_dir>/runs/<id>/`.

One directory per initiation id. The wrapper (see wrapper.py) writes the records; the executor
reads them, live and after an agent restart:

- `claim`       created with O_EXCL by the wrapper before the job runs (a second wrapper for
                the same id finds it and exits without running anything), then, in order:
                "<pid> <starttime>\\n" before the job starts, "rc <exit code>\\n" when it
                ends. pid is the wrapper's own (the process-group leader), starttime is field
                22 of /proc/<pid>/stat (clock ticks since boot), so a reused pid is told apart
                from the wrapper. Each record is one write(2); only newline-terminated records
                count, so a reader never takes a partial record for a pid or an exit code;
- `out.log`, `err.log`  the job's stdout and stderr (created by the wrapper's redirection);
- `output.env`  name=value lines the job may write (its path is $IKASCHED_OUTPUT_FILE);
- `job.sh`      the command line, only when it cannot travel inline (an interpreter, a very
                long command line, a run by hand);
- `reported`, `rc`  hard links to `claim`, made by the executor after the completion event was
                handed over: `reported` so a recovery never reports a run twice, `rc` for
                readers that look for an exit-code file (log housekeeping). A link costs a
                directory entry, not an inode. A hand-written `rc` holding "<exit code>\\n" is
                read as well.

Records share one file because creating an inode is the dominant cost of a short job on some
file systems (here, ext4: ~0.8 ms a file against ~20 us a link or ~5 us a write).

File reading and writing, and reading /proc to tell a live wrapper; no process is started
or signalled here.
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
    """What a run directory says about an initiation (docs/architecture.md §4.6)."""

    NOT_CLAIMED = "not_claimed"  # no directory or no claim: the job never started
    # claimed, and the recorded pid is alive with the same start time (or, before the record,
    # the run's wrapper is found among the processes)
    RUNNING = "running"
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


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    """What a claim file holds so far: the wrapper's identity and the job's exit code."""

    pid: PidRecord | None = None
    return_code: int | None = None


def _parse_claim(text: str) -> ClaimRecord:
    pid: PidRecord | None = None
    rc: int | None = None
    # Only complete lines: the last one may still be being written.
    for line in text.split("\n")[:-1]:
        parts = line.split()
        if len(parts) == 2 and parts[0] == "rc":
            with contextlib.suppress(ValueError):
                rc = int(parts[1])
        elif len(parts) == 2 and pid is None and all(p.isdigit() for p in parts):
            pid = PidRecord(int(parts[0]), int(parts[1]))
        elif len(parts) == 1 and rc is None:
            # A bare exit code: an `rc` file written by hand.
            with contextlib.suppress(ValueError):
                rc = int(parts[0])
    return ClaimRecord(pid, rc)


def read_claim(paths: RunPaths) -> ClaimRecord | None:
    """The claim's records, or None if the run was never claimed."""
    text = _read_small(paths.claim)
    return None if text is None else _parse_claim(text)


def claim_changed_ms(paths: RunPaths) -> int | None:
    """When the claim was last written, epoch ms: once it holds the rc record, the time the
    job ended (the wrapper appends that record as the job exits). None without a claim."""
    try:
        return os.stat(paths.claim).st_mtime_ns // 1_000_000
    except OSError:
        return None


def read_pid(paths: RunPaths) -> PidRecord | None:
    """The wrapper's pid record, or None if absent or incomplete."""
    record = read_claim(paths)
    return record.pid if record is not None else None


def read_rc(paths: RunPaths) -> int | None:
    """The job's exit code, or None if no complete record of it exists yet."""
    record = read_claim(paths)
    if record is not None and record.return_code is not None:
        return record.return_code
    text = _read_small(paths.rc)
    return _parse_claim(text).return_code if text is not None else None


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


def find_wrapper(paths: RunPaths) -> PidRecord | None:
    """The live wrapper of this run directory, found among the processes (scans /proc).

    For a claim without its identity record yet: the wrapper writes it right after creating
    the claim, so only a wrapper stopped or killed in between (or one we race with) leaves
    one. A wrapper is a process-group leader whose argv names this run directory."""
    want = os.path.abspath(paths.root).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        rest = _proc_stat(int(entry.name))
        if rest is None or len(rest) < 20 or rest[2] != entry.name.encode():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 4 and argv[2].startswith(b"__ik_d=$1") and argv[4] == want:
            record = PidRecord(int(entry.name), int(rest[19]))
            return record if is_running(record) else None
    return None


def inspect(paths: RunPaths) -> RunInspection:
    """Classify a run directory; reads only, never changes it."""
    if paths.reported.exists():
        return RunInspection(RunState.REPORTED, read_pid(paths), read_rc(paths))
    record = read_claim(paths)
    if record is None:
        return RunInspection(RunState.NOT_CLAIMED)
    if record.return_code is not None:
        return RunInspection(RunState.FINISHED, record.pid, record.return_code)
    pid = record.pid if record.pid is not None else find_wrapper(paths)
    if pid is not None and is_running(pid):
        # The rc may land after our read; the caller re-reads it once the process ends.
        return RunInspection(RunState.RUNNING, pid)
    record = read_claim(paths) or record
    pid = record.pid or pid
    if record.return_code is not None:
        return RunInspection(RunState.FINISHED, pid, record.return_code)
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
    """Record that the completion event was handed over (idempotent): `rc` and `reported`
    become links to the claim (directory entries, no new inode)."""
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.link(paths.claim, paths.rc)
    try:
        os.link(paths.claim, paths.reported)
    except FileExistsError:
        return
    except FileNotFoundError:
        # Never claimed (its wrapper ended before claiming): a plain marker.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(paths.reported, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


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
