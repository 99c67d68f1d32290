"""The validator's walk of a plan: every context and job occurrence, with its path.

Paths use the JSON names json_format emits (see plans.validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.limits import MAX_CONTEXT_DEPTH, MAX_CONTEXTS, MAX_JOBS
from ikasched_dashboard.plans.problems import ValidationProblem

# Ikasan's agent-name constants of the virtual jobs, used when a virtual job gives no agent.
VIRTUAL_AGENT_NAMES: dict[str, str] = {
    "global_event_job": "GLOBAL_EVENT",
    "context_start_job": "CONTEXT_START_JOB",
    "context_terminal_job": "CONTEXT_TERMINAL_JOB",
    "local_event_job": "LOCAL_EVENT_JOB",
    "bridging_job": "BRIDGING_JOB",
}


def job_identifier(job: plan_pb2.SchedulerJob) -> str:
    """The job's identifier; by default "<agent_name>-<job_name>", where a virtual job's agent
    defaults to its type's constant (e.g. CONTEXT_START_JOB); "" when it cannot be formed."""
    if job.identifier:
        return job.identifier
    agent = job.agent_name or VIRTUAL_AGENT_NAMES.get(job.WhichOneof("job_type") or "", "")
    if agent and job.job_name:
        return f"{agent}-{job.job_name}"
    return ""


def join_path(prefix: str, key: str) -> str:
    """The path of a field under a prefix ("" is the plan itself)."""
    return f"{prefix}.{key}" if prefix else key


@dataclass(frozen=True, slots=True)
class ContextAt:
    path: str  # prefix of the context's fields; "" for the plan
    context: plan_pb2.Context
    depth: int


@dataclass(frozen=True, slots=True)
class JobAt:
    path: str
    job: plan_pb2.SchedulerJob
    identifier: str
    context: str  # name of the context it resides in


@dataclass(slots=True)
class PlanIndex:
    contexts: list[ContextAt] = field(default_factory=list)
    jobs: list[JobAt] = field(default_factory=list)
    definitions: dict[str, JobAt] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    context_names: set[str] = field(default_factory=set)
    residence: dict[str, set[str]] = field(default_factory=dict)  # context -> job identifiers
    parameters: set[str] = field(default_factory=set)


def index_plan(plan: plan_pb2.Context, out: list[ValidationProblem]) -> PlanIndex:
    """Walk the plan depth-first in document order; size-limit problems go to `out`."""
    index = PlanIndex()
    stack: list[ContextAt] = [ContextAt("", plan, 1)]
    too_deep_reported = False
    while stack:
        at = stack.pop()
        if len(index.contexts) == MAX_CONTEXTS:
            out.append(
                ValidationProblem(
                    "", f"the plan has more than {MAX_CONTEXTS} contexts (limit MAX_CONTEXTS)"
                )
            )
            break
        index.contexts.append(at)
        ctx = at.context
        index.context_names.add(ctx.name)
        resident = index.residence.setdefault(ctx.name, set())
        index.parameters.update(p.name for p in ctx.context_parameters)
        for i, job in enumerate(ctx.scheduled_jobs):
            ident = job_identifier(job)
            job_at = JobAt(join_path(at.path, f"scheduledJobs[{i}]"), job, ident, ctx.name)
            index.jobs.append(job_at)
            if ident:
                index.known.add(ident)
                resident.add(ident)
                if job.WhichOneof("job_type") and ident not in index.definitions:
                    index.definitions[ident] = job_at
        if ctx.contexts and at.depth >= MAX_CONTEXT_DEPTH:
            if not too_deep_reported:
                out.append(
                    ValidationProblem(
                        join_path(at.path, "contexts"),
                        f"child contexts nest deeper than {MAX_CONTEXT_DEPTH} levels "
                        "(limit MAX_CONTEXT_DEPTH); deeper contexts were not checked",
                    )
                )
                too_deep_reported = True
            continue
        stack.extend(
            ContextAt(join_path(at.path, f"contexts[{i}]"), child, at.depth + 1)
            for i, child in reversed(list(enumerate(ctx.contexts)))
        )
    if len(index.jobs) > MAX_JOBS:
        out.insert(
            0,
            ValidationProblem(
                "",
                f"the plan has {len(index.jobs)} job occurrences; at most {MAX_JOBS} "
                "(limit MAX_JOBS)",
            ),
        )
    return index
