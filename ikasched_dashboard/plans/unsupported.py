"""Plan fields ikasched reads but does not act on (kept from Ikasan's model so its plans import):
a plan that sets one to anything but the value ikasched behaves as is refused, naming the
field, rather than accepted and silently ignored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message

from ikasched.v1 import common_pb2, plan_pb2
from ikasched_dashboard.plans.plan_index import join_path
from ikasched_dashboard.plans.problems import Severity, ValidationProblem

# field -> why ikasched does not act on it (the field's default is how ikasched behaves)
_ROOT = {
    "requires_agent_synchronisation": (
        "ikasched sends a plan's jobs to its agents with every instance, always in sync"
    ),
    "delay_agent_synchronisation_until_next_instance": (
        "ikasched sends a plan's jobs to its agents with every instance, always in sync"
    ),
}
_TIMED = {
    "eager": "Quartz eager callbacks are not used; fires follow the cron",
    "max_eager_callbacks": "Quartz eager callbacks are not used; fires follow the cron",
    "ignore_misfire": "late fires follow misfireGraceSeconds (docs/architecture.md §6.3)",
    "recovery_tolerance": "late fires follow misfireGraceSeconds (docs/architecture.md §6.3)",
    "persistent_recovery": "late fires follow misfireGraceSeconds (docs/architecture.md §6.3)",
}
_FILE = {
    "encoding": "file watchers do not read the files they find",
    "include_header": "file watchers do not read the files they find",
    "include_trailer": "file watchers do not read the files they find",
    "ignore_file_rename_whilst_scanning": "files count once stable (minFileAgeSeconds)",
}


def _set(message: Message, fields: dict[str, str], path: str) -> Iterator[ValidationProblem]:
    for name, why in fields.items():
        value: Any = getattr(message, name)
        if value:
            json_name = message.DESCRIPTOR.fields_by_name[name].json_name
            yield ValidationProblem(
                join_path(path, json_name),
                f"{json_name} is not supported ({why}); remove it",
                Severity.ERROR,
            )


def _job(job: plan_pb2.SchedulerJob, path: str) -> Iterator[ValidationProblem]:
    # an undefined number is the range check's error (plans.field_ranges)
    if job.startup_control_type in (common_pb2.MANUAL, common_pb2.STARTUP_DISABLED):
        name = common_pb2.StartupControlType.Name(job.startup_control_type)
        yield ValidationProblem(
            join_path(path, "startupControlType"),
            f"startupControlType {name} is not supported: ikasched starts every job "
            "automatically (hold it, skip it or disable its cron instead); remove the field "
            "or set AUTOMATIC",
            Severity.ERROR,
        )
    kind = job.WhichOneof("job_type")
    if kind == "quartz_schedule_driven_job":
        yield from _set(
            job.quartz_schedule_driven_job, _TIMED, join_path(path, "quartzScheduleDrivenJob")
        )
    elif kind == "file_event_driven_job":
        at = join_path(path, "fileEventDrivenJob")
        yield from _set(job.file_event_driven_job, _TIMED, at)
        yield from _set(job.file_event_driven_job, _FILE, at)


def unsupported_problems(plan: plan_pb2.Context) -> list[ValidationProblem]:
    """An error for each unsupported field a plan sets."""
    out = list(_set(plan, _ROOT, ""))

    def walk(ctx: plan_pb2.Context, prefix: str) -> None:
        for i, job in enumerate(ctx.scheduled_jobs):
            out.extend(_job(job, join_path(prefix, f"scheduledJobs[{i}]")))
        for i, child in enumerate(ctx.contexts):
            walk(child, join_path(prefix, f"contexts[{i}]"))

    walk(plan, "")
    return out
