"""One Ikasan job definition (a ``jobType``-tagged flat object) to ikasched's SchedulerJob
document (common fields plus the job-type message), with a report note for every field that
is dropped or changed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.documents import PlanLoadError
from ikasched_dashboard.plans.ikasan_format import (
    FILE_DROPPED,
    JOB_DROPPED,
    JOB_KINDS,
    TIMED_DROPPED,
    IkasanFormatError,
    NoteKind,
    PlanReport,
    kind_of_type,
    looks_like_glob,
    regex_to_glob,
)
from ikasched_dashboard.plans.normalise import normalise_plan_dict

_JOB: Descriptor = plan_pb2.SchedulerJob.DESCRIPTOR  # type: ignore[assignment]
COMMON_FIELDS: frozenset[str] = frozenset(
    f.json_name for f in _JOB.fields if f.containing_oneof is None
)


def _message(kind: str) -> Descriptor:
    found = _JOB.fields_by_name[kind].message_type
    assert found is not None, kind
    return found


_TYPE_FIELDS: dict[str, frozenset[str]] = {
    kind: frozenset(f.json_name for f in _message(kind).fields) for kind in JOB_KINDS
}
_JSON_NAME = {kind: _JOB.fields_by_name[kind].json_name for kind in JOB_KINDS}
_TIMED = ("quartz_schedule_driven_job", "file_event_driven_job")
# consumed or recomputed from the plan, so not reported (everything else dropped is)
_DERIVED = frozenset({"jobType", "contextName", "childContextNames"})


def job_label(kind: str) -> str:
    """How the report counts jobs of a kind ("command jobs", "quartz jobs", ...)."""
    directory = JOB_KINDS[kind][1]
    return f"{'command' if directory == 'internal' else directory} jobs"


def join(path: str, key: str | int) -> str:
    """A JSON path below another ("" is the document itself)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def is_definition(raw: Mapping[str, Any]) -> bool:
    """True when an occurrence defines the job (has a type or a type's field)."""
    if "jobType" in raw:
        return True
    typed = set().union(*_TYPE_FIELDS.values())
    return any(key in typed for key in raw if key not in COMMON_FIELDS)


def is_falsy(value: object) -> bool:
    return value is None or value is False or value in ("", 0, [], {})


def ranges_from_map(value: object, source: str, path: str) -> list[dict[str, int]]:
    """Ikasan's ``{startMillis: endMillis}`` blackout map as ikasched's list of ranges (the
    list form is accepted too)."""
    if isinstance(value, list):
        return value
    if not isinstance(value, Mapping):
        raise IkasanFormatError(source, path, "expected a map of start -> end epoch millis")
    out = []
    for start, end in value.items():
        try:
            out.append({"start": int(start), "end": int(end)})
        except (TypeError, ValueError):
            raise IkasanFormatError(
                source, join(path, str(start)), f"expected epoch millis, got {start!r}: {end!r}"
            ) from None
    return sorted(out, key=lambda r: (r["start"], r["end"]))


class JobConverter:
    """Converts job definitions of one plan, noting into its report."""

    def __init__(self, report: PlanReport, agent_map: Mapping[str, str]) -> None:
        self.report = report
        self.agent_map = agent_map

    def convert(
        self, raw: Mapping[str, Any], source: str, path: str, dir_kind: str | None
    ) -> tuple[dict[str, Any], str]:
        """(ikasched job document, job type field)."""
        kind = self._kind(raw, source, path, dir_kind)
        common: dict[str, Any] = {}
        typed: dict[str, Any] = {}
        for key, value in raw.items():
            here = join(path, key)
            if key in _DERIVED:
                continue  # jobType chose the type; the contexts come from the plan
            if key in JOB_DROPPED:
                self._drop(source, here, value, JOB_DROPPED[key])
                continue
            if key in COMMON_FIELDS:
                common[key] = value
            elif kind in _TIMED and key in TIMED_DROPPED:
                self._drop(source, here, value, TIMED_DROPPED[key])
            elif kind == "file_event_driven_job" and key in FILE_DROPPED:
                self._drop(source, here, value, FILE_DROPPED[key])
            elif key in _TYPE_FIELDS[kind]:
                typed[key] = self._typed(kind, key, value, source, here)
            else:
                self._drop(source, here, value, f"not a field of {JOB_KINDS[kind][0]} in ikasched")
        self._recovery(kind, typed, source, path)
        agent = common.get("agentName")
        if isinstance(agent, str) and agent in self.agent_map:
            common["agentName"] = self.agent_map[agent]
            self.report.count("agents renamed")
        ident = common.get("identifier")
        if isinstance(ident, str):
            common["identifier"] = rename(ident, self.agent_map)
        startup = self._startup(common, source, path)
        doc = {**common, _JSON_NAME[kind]: typed}
        try:  # every field's type, checked here so the error names the Ikasan file
            normalise_plan_dict({"name": "check", "scheduledJobs": [doc]}, source=source)
        except PlanLoadError as exc:
            problem = exc.problems[0]
            rest = problem.path.removeprefix("scheduledJobs[0]").lstrip(".")
            rest = rest.removeprefix(_JSON_NAME[kind]).lstrip(".")
            raise IkasanFormatError(
                source, join(path, rest) if rest else path, problem.message
            ) from None
        if startup:
            doc["_startup"] = startup  # applied once the job's contexts are known
        self.report.count(job_label(kind))
        return doc, kind

    def _kind(self, raw: Mapping[str, Any], source: str, path: str, dir_kind: str | None) -> str:
        job_type = raw.get("jobType")
        if job_type is None:
            if dir_kind is None:
                raise IkasanFormatError(
                    source, path, "job has no jobType (and is not under jobs/<kind>/)"
                )
            return dir_kind
        if not isinstance(job_type, str) or kind_of_type(job_type) is None:
            known = ", ".join(t for t, _, _ in JOB_KINDS.values())
            raise IkasanFormatError(
                source, join(path, "jobType"), f"unknown jobType {job_type!r} (one of {known})"
            )
        kind = kind_of_type(job_type)
        assert kind is not None
        if dir_kind is not None and kind != dir_kind:
            raise IkasanFormatError(
                source,
                join(path, "jobType"),
                f"jobType {job_type!r} in a directory of {JOB_KINDS[dir_kind][0]} jobs",
            )
        return kind

    def _drop(self, source: str, path: str, value: object, why: str) -> None:
        if is_falsy(value):
            return  # unset or off: how ikasched behaves anyway
        self.report.note(NoteKind.DROPPED, source, path, f"{value!r} dropped: {why}")

    def _typed(self, kind: str, key: str, value: object, source: str, path: str) -> object:
        if key == "successfulReturnCodes" and isinstance(value, list):
            codes = []
            for i, code in enumerate(value):
                try:
                    codes.append(int(str(code).strip()))
                except ValueError:
                    raise IkasanFormatError(
                        source, join(path, i), f"return code {code!r} is not an integer"
                    ) from None
            return codes
        if key == "blackoutWindowDateTimeRanges":
            return ranges_from_map(value, source, path)
        if key == "filenames" and kind == "file_event_driven_job":
            items = value if isinstance(value, list) else [value]
            return [self._pattern(p, source, join(path, i)) for i, p in enumerate(items)]
        return value

    def _pattern(self, pattern: object, source: str, path: str) -> object:
        if not isinstance(pattern, str):
            return pattern  # the type check names it
        if looks_like_glob(pattern):
            self.report.note(
                NoteKind.WARNING,
                source,
                path,
                f"{pattern!r} is not a valid Java regex; read as a glob",
            )
            return pattern
        glob = regex_to_glob(pattern)
        if glob is None:
            raise IkasanFormatError(
                source,
                path,
                f"Java regex {pattern!r} has no glob equivalent (ikasched matches file names "
                "with globs: * ? [...]); rewrite it as one or more globs in filenames",
            )
        if glob != pattern:
            self.report.note(
                NoteKind.CHANGED,
                source,
                path,
                f"Java regex {pattern!r} -> glob {glob!r} (matches the same names)",
            )
        return glob

    def _recovery(self, kind: str, typed: dict[str, Any], source: str, path: str) -> None:
        if kind not in _TIMED or "recoveryTolerance" not in typed:
            return
        millis = typed.pop("recoveryTolerance")
        if is_falsy(millis):
            return
        try:
            seconds = math.ceil(int(millis) / 1000)
        except (TypeError, ValueError):
            raise IkasanFormatError(
                source, join(path, "recoveryTolerance"), f"expected milliseconds, got {millis!r}"
            ) from None
        if "misfireGraceSeconds" not in typed:
            typed["misfireGraceSeconds"] = seconds
        self.report.note(
            NoteKind.CHANGED,
            source,
            join(path, "recoveryTolerance"),
            f"{millis} ms -> misfireGraceSeconds {seconds}: a late fire within it fires once "
            "on activation",
        )

    def _startup(self, common: dict[str, Any], source: str, path: str) -> str | None:
        """ "held" or "skipped" for a MANUAL or DISABLED job (its field removed), else None."""
        value = common.get("startupControlType")
        if not isinstance(value, str):
            return None
        upper = value.strip().upper()
        if upper in ("MANUAL", "DISABLED", "STARTUP_DISABLED"):
            del common["startupControlType"]
            verb = "held" if upper == "MANUAL" else "skipped"
            self.report.note(
                NoteKind.CHANGED,
                source,
                join(path, "startupControlType"),
                f"{upper} -> the job is {verb} in every context it resides in "
                f"({'heldContexts' if verb == 'held' else 'skippedContexts'}); ikasched starts "
                "every job automatically",
            )
            return verb
        return None


def rename(ident: str, agent_map: Mapping[str, str]) -> str:
    """An identifier "<old agent>-<job>" with the agent renamed by --agent-map (the longest
    old agent name that prefixes it wins)."""
    best = ""
    for old in agent_map:
        if ident.startswith(f"{old}-") and len(old) > len(best):
            best = old
    return f"{agent_map[best]}-{ident[len(best) + 1 :]}" if best else ident
