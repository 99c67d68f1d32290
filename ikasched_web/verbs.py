"""The operator verbs the console offers, each the RPC the CLI's verb calls (the same names)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ikasched.v1 import common_pb2, instance_service_pb2, job_service_pb2
from ikasched_common.errors import InvalidArgument

# status name -> the job verbs that make sense in it (the dashboard still decides)
_JOB_VERBS_BY_STATUS: dict[str, tuple[str, ...]] = {
    "WAITING": ("hold", "skip", "run", "reset"),
    "ON_HOLD": ("release",),
    "RUNNING": ("kill",),
    "ERROR": ("ack", "resubmit", "reset"),
    "COMPLETE": ("reset",),
    "SKIPPED": ("unskip",),
    "SKIPPED_COMPLETE": ("unskip",),
    "LOCK_QUEUED": ("reset",),
}


@dataclass(frozen=True, slots=True)
class JobVerb:
    word: str
    label: str
    method: str  # JobService method
    destructive: bool


JOB_VERBS: dict[str, JobVerb] = {
    v.word: v
    for v in (
        JobVerb("hold", "Hold", "HoldJob", False),
        JobVerb("release", "Release", "ReleaseJob", False),
        JobVerb("skip", "Skip", "SkipJob", True),
        JobVerb("unskip", "Unskip", "UnskipJob", False),
        JobVerb("reset", "Reset", "ResetJob", True),
        JobVerb("resubmit", "Resubmit", "ResubmitJob", True),
        JobVerb("run", "Run now", "RunJob", True),
        JobVerb("kill", "Kill", "KillJob", True),
        JobVerb("ack", "Acknowledge error", "AcknowledgeError", False),
    )
}

# instance verbs: word -> (label, service attribute, method, destructive)
INSTANCE_VERBS: dict[str, tuple[str, str, str, bool]] = {
    "end": ("End instance", "instances", "EndInstance", True),
    "reset": ("Reset instance", "instances", "ResetInstance", True),
    "disable-cron": ("Disable cron jobs", "jobs", "DisableCronJobs", True),
    "enable-cron": ("Enable cron jobs", "jobs", "EnableCronJobs", False),
    "release-queued": ("Release lock-queued jobs", "jobs", "ReleaseQueuedJobs", True),
    "kill-running": ("Kill running jobs", "jobs", "KillRunningJobs", True),
}

# verbs on every job of one context (the plan's or a child's): the same shape
CONTEXT_VERBS: dict[str, tuple[str, str, str, bool]] = {
    "hold-all": ("Hold all", "jobs", "HoldAllJobs", True),
    "release-all": ("Release all", "jobs", "ReleaseAllJobs", False),
    "skip-all": ("Skip all", "jobs", "SkipAllJobs", True),
    "unskip-all": ("Unskip all", "jobs", "SkipAllJobs", False),
}


def job_verbs_for(status: str, held: bool) -> list[JobVerb]:
    words = ("release",) if held and status != "ON_HOLD" else ()
    return [JOB_VERBS[w] for w in (*words, *_JOB_VERBS_BY_STATUS.get(status, ()))]


def job_request(verb: JobVerb, form: Callable[[str], str], instance_id: str) -> Any:
    ident = form("job")
    if not ident:
        raise InvalidArgument("must name a job", field="job")
    ref = common_pb2.JobRef(
        context_instance_id=instance_id,
        job_identifier=ident,
        child_context_name=form("child"),
    )
    comment = form("comment")
    if verb.word == "ack":
        return job_service_pb2.AcknowledgeErrorRequest(
            job=ref, message=comment, ticket_id=form("ticket")
        )
    if verb.word == "kill":
        return job_service_pb2.KillJobRequest(job=ref, comment=comment)
    if verb.word == "run":
        return job_service_pb2.RunJobRequest(
            job=ref, comment=comment, context_parameters=run_parameters(form)
        )
    return job_service_pb2.JobVerbRequest(job=ref, comment=comment)


def instance_request(word: str, instance_id: str, plan_name: str, comment: str) -> Any:
    if word == "end":
        return instance_service_pb2.EndInstanceRequest(context_instance_id=instance_id)
    if word == "reset":
        return instance_service_pb2.ResetInstanceRequest(
            context_instance_id=instance_id, initiate_with_same_parameters=True
        )
    if word in ("skip-all", "unskip-all"):
        return job_service_pb2.SkipAllJobsRequest(
            context_instance_id=instance_id,
            child_context_name=plan_name,
            skip=word == "skip-all",
            comment=comment,
        )
    if word in ("hold-all", "release-all"):
        return job_service_pb2.ChildContextVerbRequest(
            context_instance_id=instance_id, child_context_name=plan_name, comment=comment
        )
    return job_service_pb2.InstanceVerbRequest(context_instance_id=instance_id, comment=comment)


def run_parameters(form: Callable[[str], str]) -> list[common_pb2.ContextParameterInstance]:
    """A manual run's parameter values: `param:NAME` fields left empty are not sent (a secret's
    field is never filled in by the page), then `extra` lines of NAME=VALUE."""
    names = [n.strip() for n in form("param-names").split(",") if n.strip()]
    pairs = [(n, form(f"param:{n}")) for n in names if form(f"param:{n}")]
    for number, line in enumerate(form("extra").splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InvalidArgument(f"line {number}: expected NAME=VALUE", field="extra")
        pairs.append((name.strip(), value))
    return [common_pb2.ContextParameterInstance(name=n, value=v) for n, v in pairs]
