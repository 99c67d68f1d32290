"""The operator verbs' steps: what the Orchestrator's activate, end, drop, kill-job and
global-event calls do inside one batch (docs/semantics.md §8). Each is a function of the
step and the effect interpreter, run by the pipeline's consumer; the Orchestrator only queues
them and answers with their result once the batch has committed."""

from __future__ import annotations

import uuid
from dataclasses import replace

from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_dashboard.engine.coordinator import UnregisterInstance
from ikasched_dashboard.engine.effects import GlobalEvent, KillJob
from ikasched_dashboard.engine.inputs import Activate, End, Input, KillRunningJobs, MarkKilled
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.interfaces import VerbResult
from ikasched_dashboard.orchestrator import messages as out
from ikasched_dashboard.orchestrator.interpreter import EffectInterpreter
from ikasched_dashboard.orchestrator.steps import JobRef, Layers, Step
from ikasched_dashboard.store.changes import AuditEntry

__all__ = [
    "activate",
    "agent_presence",
    "apply",
    "drop_prepared",
    "end",
    "global_event",
    "kill_job",
]

RUNNING = frozenset({Status.RUNNING, Status.SKIPPED_RUNNING})


def activate(
    fx: EffectInterpreter,
    layers: Layers,
    step: Step,
    instance_id: str,
    *,
    time_ms: int,
    projected_end_time_ms: int,
) -> None:
    """A PREPARED instance's window opened: it starts and its agents learn of it."""
    live = layers.live(step, instance_id)
    live.row = replace(
        live.row,
        start_time=time_ms,
        projected_end_time=projected_end_time_ms or live.row.projected_end_time,
    )
    fx.feed(step, instance_id, Activate(time_ms=time_ms, id=f"activate:{instance_id}"), "schedule")
    live = layers.live(step, instance_id)
    fx.register(step, live, prepared=False)
    fx.publish(step, live)


def apply(fx: EffectInterpreter, step: Step, instance_id: str, verb: Input) -> VerbResult:
    """One engine verb (hold, release, skip, ...); answers with the jobs it changed."""
    actor = str(getattr(verb, "actor", "") or "operator")
    fx.feed(step, instance_id, verb, actor)
    changed = dict.fromkeys(step.jobs_changed.get(instance_id, ()))
    return VerbResult(instance_id, tuple(changed))


def end(
    fx: EffectInterpreter,
    layers: Layers,
    step: Step,
    instance_id: str,
    *,
    actor: str,
    time_ms: int,
    kill_running_jobs: bool,
) -> None:
    """End a live instance, killing its running jobs first unless told not to."""
    layers.live(step, instance_id)
    if kill_running_jobs:
        fx.feed(step, instance_id, KillRunningJobs(actor, time_ms, id="end:kill"), actor)
    fx.feed(
        step,
        instance_id,
        End(time_ms, actor, id=f"end:{instance_id}"),
        actor,
        kill_running_jobs=kill_running_jobs,
    )


def drop_prepared(fx: EffectInterpreter, layers: Layers, step: Step, instance_id: str) -> None:
    """Forget a PREPARED instance that never started (its plan changed or was removed)."""
    live = layers.live(step, instance_id)
    if not live.state.prepared:
        raise FailedPrecondition(f"instance {instance_id} is not PREPARED")
    fx.coordinate(step, UnregisterInstance(instance_id), "drop")
    step.forget.add(instance_id)


def kill_job(
    fx: EffectInterpreter,
    layers: Layers,
    step: Step,
    instance_id: str,
    job: tuple[str, str],
    *,
    destroy: bool,
    actor: str,
    now_ms: int,
) -> VerbResult:
    """Tell the job's agent to stop its process group; the engine marks it killed now and the
    agent's completion event sets ERROR."""
    job_identifier, child_context_name = job
    live = layers.live(step, instance_id)
    js = live.state.jobs.get(job)
    if js is None:
        raise NotFound(f"job {job_identifier!r} in child context {child_context_name!r}")
    if js.status not in RUNNING or js.initiation is None:
        raise FailedPrecondition(
            f"cannot kill job {job_identifier} in child context {child_context_name}:"
            f" it is {js.status}"
        )
    init = js.initiation
    k = KillJob(init.initiation_id, init.agent_name, job_identifier, child_context_name, js.pid)
    step.outbox.append(
        out.kill(k, instance_id, now_ms, destroy=destroy, user=actor, reason=f"killed by {actor}")
    )
    mark = MarkKilled(
        job_identifier,
        child_context_name,
        actor,
        now_ms,
        id="verb:kill" + (":destroy" if destroy else ""),
    )
    fx.feed(step, instance_id, mark, actor)
    return VerbResult(instance_id, (job,))


def global_event(
    fx: EffectInterpreter,
    step: Step,
    job_name: str,
    *,
    environment_group: str,
    ignore_environment_group: bool,
    actor: str,
    time_ms: int,
    plans: frozenset[str] | None,
) -> list[str]:
    """Raise a global event to every live instance (of `plans`) that waits on `job_name`;
    answers with the instances it reached."""
    ev = GlobalEvent(
        "",
        environment_group,
        job_name,
        "",
        False,
        ignore_environment_group,
        f"global:{uuid.uuid4().hex[:12]}",
        time_ms=time_ms,
    )
    return fx.coordinate(step, ev, actor, plans=plans)


def agent_presence(layers: Layers, step: Step, agent_name: str, *, reason: str, now_ms: int) -> int:
    """Give the agent's running jobs the status reason `reason` ("" when it came back), with
    an alert audit row per job when it went away; answers how many jobs it touched."""
    touched = 0
    for seen in layers.visible_lives(step):
        iid = seen.row.id
        for (ident, ctx), js in seen.state.jobs.items():
            init = js.initiation
            if js.status not in RUNNING or init is None or init.agent_name != agent_name:
                continue
            layers.live(step, iid)  # the instance is in this batch
            step.reasons[JobRef(iid, ident, ctx)] = reason
            touched += 1
            if not reason:
                continue
            step.audits.append(
                AuditEntry(
                    time=now_ms,
                    instance_id=iid,
                    plan_name=seen.row.plan_name,
                    from_status="",
                    to_status="",
                    job_identifier=ident,
                    child_context=ctx,
                    cause=f"agent:{agent_name}:lost",
                    actor="dashboard",
                    detail=f"alert: {reason}",
                )
            )
    return touched
