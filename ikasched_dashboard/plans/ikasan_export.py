"""Export an ikasched plan as an Ikasan bundle: ``templates/<plan>.json`` (the context template,
every job defined in place with its ``jobType``, as Ikasan's ContextTemplate holds it) and one
``jobs/<kind>/<identifier>.json`` per job. Fields only ikasched has are left out, each with a
note; ikasan_import reads the bundle back to the same plan (docs/coming-from-ikasan.md §4).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.ikasan_format import (
    JOB_KINDS,
    JOBS_DIR,
    TEMPLATES_DIR,
    Note,
    NoteKind,
)

_OURS = "an ikasched field Ikasan has no place for"
CONTEXT_OURS: dict[str, str] = {
    "misfireGraceSeconds": "ikasched's catch-up of a missed window start; " + _OURS,
    "owner": _OURS,
    "labels": _OURS,
}
JOB_OURS: dict[str, str] = {"priority": _OURS, "owner": _OURS}
TYPED_OURS: dict[str, dict[str, str]] = {
    "internal_event_driven_job": {
        "timeoutSeconds": _OURS,
        "retry": "ikasched's automatic retry; " + _OURS,
        "runAsUser": _OURS,
    },
    "quartz_schedule_driven_job": {"daysOfWeekToRun": _OURS},
}
_TIMED = ("quartz_schedule_driven_job", "file_event_driven_job")


_INT64 = frozenset(
    {
        FieldDescriptor.CPPTYPE_INT64,
        FieldDescriptor.CPPTYPE_UINT64,
    }
)


def _dict(message: Any) -> dict[str, Any]:
    """The message in protobuf's JSON mapping, but 64-bit integers as JSON numbers (Ikasan's
    longs), not the mapping's strings."""
    out: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=False)
    _numbers(message, out)
    return out


def _numbers(message: Any, doc: dict[str, Any]) -> None:
    for fd in message.DESCRIPTOR.fields:
        if fd.json_name not in doc:
            continue
        if fd.cpp_type in _INT64:
            value = doc[fd.json_name]
            doc[fd.json_name] = [int(v) for v in value] if isinstance(value, list) else int(value)
        elif (
            fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE
            and not fd.message_type.GetOptions().map_entry
        ):
            value = getattr(message, fd.name)
            if fd.is_repeated:
                for item, sub in zip(value, doc[fd.json_name], strict=True):
                    _numbers(item, sub)
            else:
                _numbers(value, doc[fd.json_name])


class _Exporter:
    def __init__(self, plan: plan_pb2.Context) -> None:
        self.plan = plan
        self.source = f"{TEMPLATES_DIR}/{_file_name(plan.name)}.json"
        self.notes: list[Note] = []
        self.names: dict[str, tuple[str, str]] = {}  # identifier -> (agentName, jobName)
        self.files: list[tuple[str, dict[str, Any]]] = []
        self._index(plan)

    def _index(self, ctx: plan_pb2.Context) -> None:
        for job in ctx.scheduled_jobs:
            if job.WhichOneof("job_type") is not None:
                ident = job.identifier or f"{job.agent_name}-{job.job_name}"
                self.names[ident] = (job.agent_name, job.job_name)
        for child in ctx.contexts:
            self._index(child)

    def drop(self, path: str, value: object, why: str) -> None:
        self.notes.append(Note(NoteKind.DROPPED, self.source, path, f"{value!r} left out: {why}"))

    def change(self, path: str, message: str) -> None:
        self.notes.append(Note(NoteKind.CHANGED, self.source, path, message))

    def context(self, ctx: plan_pb2.Context, path: str) -> dict[str, Any]:
        plain = plan_pb2.Context()
        plain.CopyFrom(ctx)
        for name in ("scheduled_jobs", "job_dependencies", "contexts", "job_locks"):
            plain.ClearField(name)
        out = _dict(plain)
        for key, why in CONTEXT_OURS.items():
            if key in out:
                self.drop(_join(path, key), out.pop(key), why)
        ranges = out.pop("blackoutWindowDateTimeRanges", None)
        if ranges:
            out["blackoutWindowDateTimeRanges"] = self.ranges(
                ranges, _join(path, "blackoutWindowDateTimeRanges")
            )
        for i, param in enumerate(out.get("contextParameters", [])):
            if param.pop("secret", False):
                self.drop(_join(path, f"contextParameters[{i}].secret"), True, _OURS)
        jobs_path = _join(path, "scheduledJobs")
        out["scheduledJobs"] = [
            self.occurrence(j, f"{jobs_path}[{i}]") for i, j in enumerate(ctx.scheduled_jobs)
        ]
        out["jobDependencies"] = [_dict(d) for d in ctx.job_dependencies]
        out["jobLocks"] = [
            self.lock(lock, ctx.name, f"{_join(path, 'jobLocks')}[{i}]")
            for i, lock in enumerate(ctx.job_locks)
        ]
        out["contexts"] = [
            self.context(child, f"{_join(path, 'contexts')}[{i}]")
            for i, child in enumerate(ctx.contexts)
        ]
        return out

    def ranges(self, ranges: list[Mapping[str, Any]], path: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in ranges:
            start, end = str(r.get("start", "0")), int(r.get("end", 0))
            if start in out:
                self.change(path, f"two ranges start at {start}; Ikasan's map keeps the longer")
                end = max(end, out[start])
            out[start] = end
        return out

    def occurrence(self, job: plan_pb2.SchedulerJob, path: str) -> dict[str, Any]:
        kind = job.WhichOneof("job_type")
        if kind is None:  # a reference to a job defined elsewhere in the plan
            agent, name = self.names.get(job.identifier, ("", ""))
            if not agent:
                return {"identifier": job.identifier}
            return {"agentName": agent, "jobName": name}
        out: dict[str, Any] = {"jobType": JOB_KINDS[kind][0]}
        common = plan_pb2.SchedulerJob()
        common.CopyFrom(job)
        common.ClearField(kind)
        common.ClearField("child_context_names")
        for key, value in _dict(common).items():
            if key in JOB_OURS:
                self.drop(_join(path, key), value, JOB_OURS[key])
            else:
                out[key] = value
        typed = _dict(getattr(job, kind))
        for key, why in TYPED_OURS.get(kind, {}).items():
            if key in typed:
                self.drop(_join(path, key), typed.pop(key), why)
        if "successfulReturnCodes" in typed:
            typed["successfulReturnCodes"] = [str(c) for c in typed["successfulReturnCodes"]]
        if kind in _TIMED:
            self.timed(typed, path)
        if "filenames" in typed:
            typed["filenames"] = [glob_to_regex(g) for g in typed["filenames"]]
        out.update(typed)
        ident = job.identifier or f"{job.agent_name}-{job.job_name}"
        directory = JOB_KINDS[kind][1]
        self.files.append(
            (f"{JOBS_DIR}/{directory}/{_file_name(ident)}.json", {**out, "contextName": ""})
        )
        return out

    def timed(self, typed: dict[str, Any], path: str) -> None:
        ranges = typed.pop("blackoutWindowDateTimeRanges", None)
        if ranges:
            typed["blackoutWindowDateTimeRanges"] = self.ranges(
                ranges, _join(path, "blackoutWindowDateTimeRanges")
            )
        grace = typed.pop("misfireGraceSeconds", None)
        if grace is None:
            return
        if "recoveryTolerance" in typed:
            self.drop(_join(path, "misfireGraceSeconds"), grace, "recoveryTolerance is set")
            return
        typed["recoveryTolerance"] = int(grace) * 1000
        self.change(
            _join(path, "misfireGraceSeconds"),
            f"misfireGraceSeconds {grace} -> recoveryTolerance {int(grace) * 1000} ms",
        )

    def lock(self, lock: plan_pb2.JobLock, ctx_name: str, path: str) -> dict[str, Any]:
        out = _dict(lock)
        jobs: dict[str, list[dict[str, str]]] = {}
        for i, member in enumerate(lock.jobs):
            if member.lock_count:
                self.drop(
                    f"{path}.jobs[{i}].lockCount", member.lock_count, "a per-job weight; " + _OURS
                )
            child = member.child_context_name
            if not child:
                child = ctx_name
                self.change(
                    f"{path}.jobs[{i}]",
                    f"no child context: keyed by the lock's own context {ctx_name!r}",
                )
            agent, name = self.names.get(member.identifier, ("", ""))
            entry = {"identifier": member.identifier}
            if agent:
                entry.update(agentName=agent, jobName=name)
            jobs.setdefault(child, []).append(entry)
        out["jobs"] = jobs
        return out


_REGEX_SPECIALS = set(".^$+(){}|\\")


def glob_to_regex(glob: str) -> str:
    """The Java regex (matched against the whole name) of one of ikasched's filename globs."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("]", "!") else i + 1)
            if end < 0:
                out.append("\\[")
            else:
                inner = glob[i + 1 : end]
                inner = "^" + inner[1:] if inner.startswith("!") else inner
                out.append(f"[{inner}]")
                i = end
        elif ch in _REGEX_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def _bytes(doc: Mapping[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def export_ikasan(plan: plan_pb2.Context) -> tuple[list[tuple[str, bytes]], list[Note]]:
    """The bundle files of `plan` (template first) and a note for every field left out."""
    exporter = _Exporter(plan)
    template = exporter.context(plan, "")
    files = [(exporter.source, _bytes(template))]
    for name, doc in exporter.files:
        doc["contextName"] = plan.name
        files.append((name, _bytes(doc)))
    return files, exporter.notes
