"""Ikasan's plan format as ikasched reads and writes it: job kinds, bundle layout, the fields
that have no ikasched meaning (and why), the migration report, and Java regex -> glob.

An Ikasan plan is a context JSON (nested ``contexts``, ``scheduledJobs`` naming jobs by
``agentName`` + ``jobName``, ``jobDependencies``, ``jobLocks`` keyed by child context, the map
form of ``blackoutWindowDateTimeRanges``); an exported bundle adds one JSON file per job under
``jobs/<kind>/``. See docs/coming-from-ikasan.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from ikasched_common.errors import InvalidArgument

# job type field of SchedulerJob -> (Ikasan's jobType, bundle directory, other directory names)
JOB_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "internal_event_driven_job": ("InternalEventDrivenJob", "internal", ("command",)),
    "quartz_schedule_driven_job": ("QuartzScheduleDrivenJob", "quartz", ("scheduled",)),
    "file_event_driven_job": ("FileEventDrivenJob", "file", ("filewatcher",)),
    "global_event_job": ("GlobalEventJob", "global", ()),
    "context_start_job": ("ContextStartJob", "start", ()),
    "context_terminal_job": ("ContextTerminalJob", "terminal", ()),
    "local_event_job": ("LocalEventJob", "local", ()),
    "bridging_job": ("BridgingJob", "bridging", ()),
}

#: directory under a bundle holding the context templates (the plans)
TEMPLATES_DIR = "templates"
JOBS_DIR = "jobs"


def _fold(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


_KIND_BY_TYPE: dict[str, str] = {}
_KIND_BY_DIR: dict[str, str] = {}
for _field, (_type, _dir, _others) in JOB_KINDS.items():
    _KIND_BY_TYPE[_fold(_type)] = _field
    _KIND_BY_TYPE[_fold(_field)] = _field
    _KIND_BY_TYPE[_fold(_type.removesuffix("Job"))] = _field
    for name in (_dir, *_others):
        _KIND_BY_DIR[name] = _field
_KIND_BY_TYPE.update(
    {
        "commandexecutionjob": "internal_event_driven_job",
        "scheduledjob": "quartz_schedule_driven_job",
        "filewatcherjob": "file_event_driven_job",
    }
)


def kind_of_type(job_type: str) -> str | None:
    """The SchedulerJob job type field of an Ikasan ``jobType`` value (any spelling)."""
    folded = _fold(job_type.rsplit(".", 1)[-1])
    return _KIND_BY_TYPE.get(folded)


def kind_of_dir(name: str) -> str | None:
    """The job type field of a bundle's ``jobs/<kind>/`` directory name."""
    return _KIND_BY_DIR.get(name.lower())


# Ikasan fields ikasched has no use for: field -> reason (reported as dropped)
DISPLAY_ONLY = "layout of Ikasan's dashboard UI; ikasched draws plans itself (ikasched plan graph)"
CONTEXT_DROPPED: dict[str, str] = {
    name: DISPLAY_ONLY
    for name in (
        "treeViewExpandLevel",
        "useDisplayName",
        "jobVisualisationVerticalSpacing",
        "jobVisualisationHorizontalSpacing",
        "contextVisualisationLevelDistance",
        "contextVisualisationNodeDistance",
        "visualisationFontSize",
        "renderLogicalBoundaries",
        "useAutoLayout",
        "userGeneratedLayout",
    )
}
_SYNC = "ikasched sends a plan's jobs to its agents with every instance, always in sync"
CONTEXT_DROPPED.update(
    {
        "requiresAgentSynchronisation": _SYNC,
        "delayAgentSynchronisationUntilNextInstance": _SYNC,
        "id": "Ikasan's store id; ikasched names a plan by its name and keeps versions",
        "version": "Ikasan's store version; ikasched numbers plan versions itself",
        "timestamp": "Ikasan's store timestamp",
        "modifiedTimestamp": "Ikasan's store timestamp",
        "modifiedBy": "Ikasan's store audit field; ikasched records who provisioned each version",
    }
)
_LATE = "late fires follow misfireGraceSeconds (default 300 s; docs/architecture.md §6.3)"
TIMED_DROPPED: dict[str, str] = {
    "eager": "Quartz eager callbacks are not used; fires follow the cron",
    "maxEagerCallbacks": "Quartz eager callbacks are not used; fires follow the cron",
    "ignoreMisfire": _LATE,
    "persistentRecovery": _LATE,
}
_NOT_READ = "file watchers report files, they do not read them"
FILE_DROPPED: dict[str, str] = {
    "encoding": _NOT_READ,
    "includeHeader": _NOT_READ,
    "includeTrailer": _NOT_READ,
    "ignoreFileRenameWhilstScanning": "a file counts once it is stable (minFileAgeSeconds)",
}
JOB_DROPPED: dict[str, str] = {
    "contextName": "the plan a job belongs to comes from the context that lists it",
    "childContextNames": "derived by ikasched from the contexts that list the job",
    "id": "Ikasan's store id; a job is named by its identifier",
    "timestamp": "Ikasan's store timestamp",
    "modifiedTimestamp": "Ikasan's store timestamp",
    "modifiedBy": "Ikasan's store audit field",
    "jobType": "",  # consumed: it chooses the job type
}


class NoteKind(Enum):
    """What happened to one Ikasan field."""

    DROPPED = "dropped"
    CHANGED = "changed"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Note:
    """One line of the migration report."""

    kind: NoteKind
    source: str
    path: str
    message: str

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.source, self.path) if p)
        return f"{self.kind.value:<8} {where}: {self.message}" if where else self.message


@dataclass(slots=True)
class PlanReport:
    """What the import of one plan converted, dropped, changed and warns about."""

    name: str
    source: str
    converted: dict[str, int] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)

    def count(self, what: str, n: int = 1) -> None:
        self.converted[what] = self.converted.get(what, 0) + n

    def note(self, kind: NoteKind, source: str, path: str, message: str) -> None:
        self.notes.append(Note(kind, source, path, message))

    @property
    def dropped(self) -> list[Note]:
        return [n for n in self.notes if n.kind is NoteKind.DROPPED]

    def lines(self) -> list[str]:
        done = ", ".join(f"{n} {what}" for what, n in self.converted.items() if n)
        out = [f"plan {self.name} (from {self.source})", f"  converted: {done or 'nothing'}"]
        order = {NoteKind.DROPPED: 0, NoteKind.CHANGED: 1, NoteKind.WARNING: 2}
        for note in sorted(self.notes, key=lambda n: order[n.kind]):
            out.append(f"  {note}")
        if not self.notes:
            out.append("  nothing dropped or changed")
        return out


def render_report(reports: list[PlanReport]) -> str:
    """The MIGRATION REPORT text of an import."""
    lines = ["MIGRATION REPORT"]
    for report in reports:
        lines.extend(report.lines())
    dropped = sum(len(r.dropped) for r in reports)
    changed = sum(1 for r in reports for n in r.notes if n.kind is NoteKind.CHANGED)
    warned = sum(1 for r in reports for n in r.notes if n.kind is NoteKind.WARNING)
    lines.append(
        f"{len(reports)} plan(s): {dropped} field(s) dropped, {changed} changed, "
        f"{warned} warning(s)"
    )
    return "\n".join(lines) + "\n"


MAX_STRICT_LINES = 20


def check_strict(reports: list[PlanReport]) -> None:
    """--strict: InvalidArgument listing every dropped or changed field, if there is one."""
    failures = [
        n for r in reports for n in r.notes if n.kind in (NoteKind.DROPPED, NoteKind.CHANGED)
    ]
    if not failures:
        return
    shown = "; ".join(
        f"{n.kind.value} {': '.join(p for p in (n.source, n.path) if p)}"
        for n in failures[:MAX_STRICT_LINES]
    )
    more = len(failures) - MAX_STRICT_LINES
    error = InvalidArgument(
        f"strict import refused: {len(failures)} field(s) dropped or changed: {shown}"
        + (f" (and {more} more)" if more > 0 else "")
    )
    error.field = "strict"
    raise error


class IkasanFormatError(InvalidArgument):
    """A malformed or partial Ikasan file: names the file and the JSON path."""

    def __init__(self, source: str, path: str, message: str) -> None:
        where = ": ".join(p for p in (source, path or "$") if p)
        super().__init__(f"{where}: {message}")  # the file first, then the JSON path
        self.field = path
        self.source = source
        self.path = path


# --------------------------------------------------------------------------- file patterns

_SIMPLE_ESCAPES = {"d": "[0-9]", "w": "[A-Za-z0-9_]"}
_GLOB_SPECIALS = set("*?[")


def regex_to_glob(pattern: str) -> str | None:
    """A glob that matches exactly the names the Java regex (matched against the whole name)
    matches, or None when the regex has no glob equivalent (alternation, groups, open-ended
    repeats of anything but ``.``)."""
    body = pattern.removeprefix("^").removesuffix("$")
    atoms: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body):
                return None
            nxt = body[i + 1]
            i += 2
            if nxt in _SIMPLE_ESCAPES:
                atoms.append(_SIMPLE_ESCAPES[nxt])
            elif nxt.isalnum():
                return None  # \s, \b, \1, ... have no glob form
            elif nxt in _GLOB_SPECIALS or nxt == "]":
                atoms.append(f"[{nxt}]")
            else:
                atoms.append(nxt)
            continue
        if ch == ".":
            if body[i + 1 : i + 2] in ("*", "+"):
                atoms.append("*" if body[i + 1] == "*" else "?*")
                i += 2
                if body[i : i + 1] == "?":
                    i += 1  # lazy: same set of matches
                continue
            atoms.append("?")
            i += 1
            continue
        if ch == "[":
            end = body.find("]", i + 2 if body[i + 1 : i + 2] in ("]", "^") else i + 1)
            if end < 0:
                return None
            inner = body[i + 1 : end]
            if "\\" in inner or "[" in inner or "&&" in inner:
                return None
            atoms.append("[!" + inner[1:] + "]" if inner.startswith("^") else f"[{inner}]")
            i = end + 1
            continue
        if ch == "{":
            match = re.match(r"\{(\d+)\}", body[i:])
            if match is None or not atoms:
                return None
            atoms.extend([atoms[-1]] * (int(match.group(1)) - 1))
            i += match.end()
            continue
        if ch in "()|+*?^$":
            return None
        atoms.append(ch)
        i += 1
    return "".join(atoms)


def looks_like_glob(pattern: str) -> bool:
    """True when the pattern is not a valid regex but reads as a glob (``*.csv``)."""
    try:
        re.compile(pattern)
    except re.error:
        return bool(re.fullmatch(r"[^()|+{}\\^$]*", pattern))
    return False
