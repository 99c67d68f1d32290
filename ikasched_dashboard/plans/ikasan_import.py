"""Import Ikasan job plans: a context JSON, a bundle directory or a bundle zip to ikasched
plans, each with a migration report (every field converted, dropped or changed, and why).

A bundle holds context templates (``templates/*.json``, or any JSON outside ``jobs/``) and one
JSON file per job under ``jobs/<kind>/`` (see ikasan_format.JOB_KINDS); a context's
``scheduledJobs`` name jobs by ``agentName`` + ``jobName`` and may also define them in place
(with ``jobType``). The result of every plan is checked by the normal validator; one error
anywhere fails the whole import, naming the file and JSON path.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ikasched.v1 import plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.documents import PlanLoadError, parse_plan_document
from ikasched_dashboard.plans.ikasan_format import (
    CONTEXT_DROPPED,
    JOBS_DIR,
    IkasanFormatError,
    NoteKind,
    PlanReport,
    kind_of_dir,
)
from ikasched_dashboard.plans.ikasan_jobs import (
    JobConverter,
    is_definition,
    is_falsy,
    join,
    ranges_from_map,
    rename,
)
from ikasched_dashboard.plans.ikasan_notes import semantic_notes
from ikasched_dashboard.plans.loader import plan_from_dict
from ikasched_dashboard.plans.validation import Severity, validate_plan

MAX_FILES = 20_000
MAX_BYTES = 64 * 1024 * 1024

_CONTEXT_FIELDS = frozenset(f.json_name for f in plan_pb2.Context.DESCRIPTOR.fields) | frozenset(
    f.name for f in plan_pb2.Context.DESCRIPTOR.fields
)
_STRUCTURE = frozenset(
    {"scheduledJobs", "jobDependencies", "contexts", "jobLocks", "blackoutWindowDateTimeRanges"}
)


@dataclass(frozen=True, slots=True)
class ImportedPlan:
    """One converted plan, its source file and its report."""

    plan: plan_pb2.Context
    source: str
    report: PlanReport


@dataclass(frozen=True, slots=True)
class _JobFile:
    raw: Mapping[str, Any]
    source: str
    path: str
    kind: str | None


# --------------------------------------------------------------------------- reading


def files_of_zip(data: bytes, name: str = "bundle.zip") -> list[tuple[str, bytes]]:
    """The JSON files of a bundle zip (directories and hidden entries left out)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise IkasanFormatError(name, "", f"not a zip archive: {exc}") from None
    out: list[tuple[str, bytes]] = []
    total = 0
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_FILES:
            raise IkasanFormatError(name, "", f"holds {len(infos)} files (limit {MAX_FILES})")
        for info in infos:
            parts = PurePosixPath(info.filename).parts
            if not info.filename.lower().endswith(".json") or any(
                p.startswith(".") or p == "__MACOSX" for p in parts
            ):
                continue
            total += info.file_size
            if total > MAX_BYTES:
                raise IkasanFormatError(name, "", f"unpacks to more than {MAX_BYTES} bytes")
            try:
                out.append((f"{name}:{info.filename}", archive.read(info)))
            except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
                raise IkasanFormatError(f"{name}:{info.filename}", "", str(exc)) from None
    return out


def _parse(source: str, data: bytes) -> object:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IkasanFormatError(source, "", f"not UTF-8 text: {exc}") from None
    try:
        return parse_plan_document(text, fmt="json", source=source)
    except PlanLoadError as exc:
        problem = exc.problems[0]
        raise IkasanFormatError(source, problem.path, problem.message) from None


def _job_kind_of(source: str) -> str | bool | None:
    """The job kind of a bundle file jobs/<kind>/<file> (None: directly under jobs/, the file
    says its jobType; or an unknown kind directory); False when it is not a job file."""
    parts = PurePosixPath(source.rsplit(":", 1)[-1]).parts
    if len(parts) >= 2 and parts[-2].lower() == JOBS_DIR:
        return None
    if len(parts) >= 3 and parts[-3].lower() == JOBS_DIR:
        return kind_of_dir(parts[-2]) or None
    return False


# --------------------------------------------------------------------------- converting


def _listed(raw: Mapping[str, Any], key: str) -> list[Any]:
    """raw[key] when it is a list, else [] (the type check reports the wrong shape)."""
    value = raw.get(key)
    return value if isinstance(value, list) else []


class _PlanBuilder:
    """Converts one context template (the plan and its child contexts)."""

    def __init__(
        self,
        source: str,
        catalogue: Mapping[tuple[str, str, str], _JobFile],
        agent_map: Mapping[str, str],
    ) -> None:
        self.source = source
        self.catalogue = catalogue
        self.agent_map = agent_map
        self.report = PlanReport(name="", source=source)
        self.jobs = JobConverter(self.report, agent_map)
        self.defined: dict[str, dict[str, Any]] = {}  # identifier -> its full definition
        self.residence: dict[str, list[str]] = {}  # identifier -> contexts listing it
        self.inline: set[str] = set()

    def build(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise IkasanFormatError(self.source, "name", "a context template needs a name")
        self.report.name = name
        self._collect_inline(raw)
        doc = self.context(raw, "", root=True)
        for ident, verb in ((i, d.pop("_startup", None)) for i, d in self.defined.items()):
            if verb:
                key = "heldContexts" if verb == "held" else "skippedContexts"
                flags = dict(self.defined[ident].get(key) or {})
                flags.update({ctx: True for ctx in self.residence.get(ident, [])})
                self.defined[ident][key] = flags
        return doc

    def _collect_inline(self, raw: Mapping[str, Any]) -> None:
        """Jobs defined in place anywhere in the plan (a wrong shape is left to context())."""
        for job in _listed(raw, "scheduledJobs"):
            if isinstance(job, Mapping) and is_definition(job):
                self.inline.add(self._ident(job))
        for child in _listed(raw, "contexts"):
            if isinstance(child, Mapping):
                self._collect_inline(child)

    def _ident(self, job: Mapping[str, Any]) -> str:
        ident = job.get("identifier")
        if isinstance(ident, str) and ident:
            return rename(ident, self.agent_map)
        agent, name = job.get("agentName"), job.get("jobName")
        return rename(f"{agent}-{name}", self.agent_map)

    def context(self, raw: object, path: str, *, root: bool) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise IkasanFormatError(self.source, path, "expected a context (a JSON object)")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise IkasanFormatError(self.source, join(path, "name"), "a context needs a name")
        out: dict[str, Any] = {}
        for key, value in raw.items():
            here = join(path, key)
            if key in _STRUCTURE:
                continue
            if key in CONTEXT_DROPPED:
                if not is_falsy(value):
                    self.report.note(
                        NoteKind.DROPPED,
                        self.source,
                        here,
                        f"{value!r} dropped: {CONTEXT_DROPPED[key]}",
                    )
            elif key in _CONTEXT_FIELDS:
                out[key] = value
            elif not is_falsy(value):
                self.report.note(
                    NoteKind.DROPPED, self.source, here, "not a context field ikasched knows"
                )
        if raw.get("blackoutWindowDateTimeRanges"):
            ranges = ranges_from_map(
                raw["blackoutWindowDateTimeRanges"],
                self.source,
                join(path, "blackoutWindowDateTimeRanges"),
            )
            out["blackoutWindowDateTimeRanges"] = ranges
            self.report.count("blackout ranges", len(ranges))
        self.report.count("blackout crons", len(_listed(raw, "blackoutWindowCronExpressions")))
        self.report.count("parameters", len(_listed(raw, "contextParameters")))
        if not root:
            self.report.count("child contexts")
        out["scheduledJobs"] = [
            self.occurrence(job, join(join(path, "scheduledJobs"), i), name)
            for i, job in enumerate(self._list(raw, "scheduledJobs", path))
        ]
        out["jobDependencies"] = [
            self.dependency(dep, join(join(path, "jobDependencies"), i))
            for i, dep in enumerate(self._list(raw, "jobDependencies", path))
        ]
        out["jobLocks"] = [
            self.lock(lock, join(join(path, "jobLocks"), i))
            for i, lock in enumerate(self._list(raw, "jobLocks", path))
        ]
        out["contexts"] = [
            self.context(child, join(join(path, "contexts"), i), root=False)
            for i, child in enumerate(self._list(raw, "contexts", path))
        ]
        return {k: v for k, v in out.items() if v != []}

    def _list(self, raw: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise IkasanFormatError(self.source, join(path, key), "expected a list")
        return value

    def occurrence(self, raw: object, path: str, ctx: str) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise IkasanFormatError(self.source, path, "expected a job (a JSON object)")
        ident = self._ident(raw)
        if not (raw.get("identifier") or (raw.get("agentName") and raw.get("jobName"))):
            raise IkasanFormatError(self.source, path, "a job needs agentName and jobName")
        self.residence.setdefault(ident, []).append(ctx)
        if ident in self.defined:
            return {"identifier": ident}
        if is_definition(raw):
            doc, _ = self.jobs.convert(raw, self.source, path, None)
        elif ident in self.inline:  # defined in place elsewhere in the plan: that wins
            return {"identifier": ident}
        else:
            found = self._lookup(raw)
            if found is None:
                raise IkasanFormatError(
                    self.source,
                    path,
                    f"job {ident!r} is not defined: no jobType here, no definition elsewhere in "
                    "the plan and no jobs/<kind>/ file for it in the bundle",
                )
            doc, _ = self.jobs.convert(found.raw, found.source, found.path, found.kind)
        self.defined[ident] = doc
        return doc

    def _lookup(self, raw: Mapping[str, Any]) -> _JobFile | None:
        agent, name = str(raw.get("agentName", "")), str(raw.get("jobName", ""))
        for key in ((self.report.name, agent, name), ("", agent, name)):
            if key in self.catalogue:
                return self.catalogue[key]
        matches = [f for (_, a, n), f in self.catalogue.items() if (a, n) == (agent, name)]
        return matches[0] if len(matches) == 1 else None

    def dependency(self, raw: object, path: str) -> dict[str, Any]:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("jobIdentifier"), str):
            raise IkasanFormatError(self.source, path, "a job dependency needs a jobIdentifier")
        out: dict[str, Any] = {"jobIdentifier": rename(raw["jobIdentifier"], self.agent_map)}
        for key, value in raw.items():
            if key == "logicalGrouping" and value is not None:
                out[key] = self.grouping(value, join(path, key))
            elif key != "jobIdentifier" and not is_falsy(value):
                self.report.note(
                    NoteKind.DROPPED, self.source, join(path, key), "not a dependency field"
                )
        self.report.count("dependencies")
        return out

    def grouping(self, raw: object, path: str) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise IkasanFormatError(self.source, path, "expected a logicalGrouping object")
        out: dict[str, Any] = {}
        for key, value in raw.items():
            here = join(path, key)
            if key in ("and", "or", "not"):
                if not isinstance(value, list):
                    raise IkasanFormatError(self.source, here, "expected a list of operands")
                out[key] = [self.operand(v, join(here, i)) for i, v in enumerate(value)]
            elif key == "logicalGrouping" and value is not None:
                out[key] = self.grouping(value, here)
            elif not is_falsy(value):
                self.report.note(NoteKind.DROPPED, self.source, here, "not a grouping field")
        return out

    def operand(self, raw: object, path: str) -> object:
        if isinstance(raw, str):
            return {"identifier": rename(raw, self.agent_map)}
        if isinstance(raw, Mapping):
            if isinstance(raw.get("identifier"), str):
                return {"identifier": rename(raw["identifier"], self.agent_map)}
            if raw.get("logicalGrouping") is not None:
                return {"logicalGrouping": self.grouping(raw["logicalGrouping"], path)}
        raise IkasanFormatError(self.source, path, "an operand names a job identifier")

    def lock(self, raw: object, path: str) -> dict[str, Any]:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise IkasanFormatError(self.source, path, "a job lock needs a name")
        out: dict[str, Any] = {}
        for key, value in raw.items():
            here = join(path, key)
            if key in ("name", "lockCount", "exclusiveJobLock"):
                out[key] = value
            elif key == "jobs":
                out["jobs"] = self._lock_jobs(value, here)
            elif not is_falsy(value):
                self.report.note(NoteKind.DROPPED, self.source, here, "not a job lock field")
        self.report.count("locks")
        return out

    def _lock_jobs(self, value: object, path: str) -> list[dict[str, Any]]:
        if isinstance(value, list):  # ikasched's own list form
            return [dict(v) if isinstance(v, Mapping) else {"identifier": v} for v in value]
        if not isinstance(value, Mapping):
            raise IkasanFormatError(self.source, path, "expected a map: child context -> jobs")
        out = []
        for ctx, jobs in value.items():
            if not isinstance(jobs, list):
                raise IkasanFormatError(self.source, join(path, ctx), "expected a list of jobs")
            for i, job in enumerate(jobs):
                if isinstance(job, str):
                    ident = rename(job, self.agent_map)
                elif isinstance(job, Mapping):
                    ident = self._ident(job)
                else:
                    raise IkasanFormatError(self.source, join(join(path, ctx), i), "expected a job")
                out.append({"identifier": ident, "childContextName": ctx})
        return out


# --------------------------------------------------------------------------- the import


def import_ikasan(
    files: Sequence[tuple[str, bytes]], *, agent_map: Mapping[str, str] | None = None
) -> list[ImportedPlan]:
    """Every plan of the files (context JSONs and job files of a bundle), converted, reported
    and validated; raises InvalidArgument naming the file and JSON path of the first problem."""
    mapping = dict(agent_map or {})
    contexts: list[tuple[str, Mapping[str, Any]]] = []
    catalogue: dict[tuple[str, str, str], _JobFile] = {}
    for source, data in sorted(files):
        parsed = _parse(source, data)
        kind = _job_kind_of(source)
        if kind is False:
            if not isinstance(parsed, Mapping):
                raise IkasanFormatError(source, "", "a context template is a JSON object")
            contexts.append((source, parsed))
            continue
        items = parsed if isinstance(parsed, list) else [parsed]
        for i, raw in enumerate(items):
            path = f"[{i}]" if isinstance(parsed, list) else ""
            if not isinstance(raw, Mapping):
                raise IkasanFormatError(source, path, "a job is a JSON object")
            agent, name = raw.get("agentName"), raw.get("jobName")
            if not isinstance(agent, str) or not isinstance(name, str) or not agent or not name:
                raise IkasanFormatError(source, path, "a job needs agentName and jobName")
            key = (str(raw.get("contextName") or ""), agent, name)
            if key in catalogue:
                raise IkasanFormatError(
                    source, path, f"job {agent}-{name} is also defined in {catalogue[key].source}"
                )
            catalogue[key] = _JobFile(raw, source, path, kind if isinstance(kind, str) else None)
    if not contexts:
        raise InvalidArgument("no context template (plan) found among the files", field="path")
    out: list[ImportedPlan] = []
    names: dict[str, str] = {}
    for source, raw in contexts:
        builder = _PlanBuilder(source, catalogue, mapping)
        doc = builder.build(raw)
        name = builder.report.name
        if name in names:
            raise IkasanFormatError(source, "name", f"plan {name!r} is also in {names[name]}")
        names[name] = source
        try:
            plan = plan_from_dict(doc, source=source)
        except PlanLoadError as exc:
            problem = exc.problems[0]
            raise IkasanFormatError(source, problem.path, problem.message) from None
        problems = validate_plan(plan)
        errors = [p for p in problems if p.severity is Severity.ERROR]
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise IkasanFormatError(
                source,
                first.path,
                f"plan {name!r} does not validate once converted: {first.message}{more}",
            )
        for p in problems:
            builder.report.note(NoteKind.WARNING, source, p.path, p.message)
        builder.report.notes.extend(semantic_notes(plan, source))
        out.append(ImportedPlan(plan, source, builder.report))
    return out
