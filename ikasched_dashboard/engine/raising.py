"""Raising a job: building its initiation and routing it.

An initiation is parked (held job), resolved in the machine (virtual jobs), handed to the
coordinator (global jobs, jobs taking part in a lock) or emitted for its agent.
"""

from __future__ import annotations

from ikasched_dashboard.engine.effects import GlobalEvent, LockRequest, RaiseInitiation
from ikasched_dashboard.engine.inputs import Pairs, ProcessEvent
from ikasched_dashboard.engine.model import (
    LOCAL_VIRTUAL_KINDS,
    PARKABLE_KINDS,
    JobDef,
    JobKind,
    Status,
)
from ikasched_dashboard.engine.state import JobKey
from ikasched_dashboard.engine.step import Step


def raise_target(
    w: Step,
    key: JobKey,
    tdef: JobDef,
    ev: ProcessEvent | None,
    *,
    dry: bool = False,
    actor: str = "",
    extra: Pairs = (),
    attempt: int = 1,
) -> None:
    ctx = key[1]
    ts = w.jobs[key]
    init = RaiseInitiation(
        initiation_id="" if dry else w.next_id(),
        instance_id=w.state.instance_id,
        plan_name=w.plan.name,
        job=tdef,
        child_context_name=ctx,
        child_context_names=child_names_for(w, tdef, ctx, ev),
        parameters=resolve_parameters(w, tdef, ctx, extra),
        skipped=ts.skip,
        dry_run=w.dry_run,
        dry_run_parameters=w.dry_run_parameters,
        catalyst=ev,
        attempt=attempt,
        output_parameters=ev.output_parameters if ev is not None else (),
        manually_submitted_by=actor,
        raised_time=w.time,
    )
    if dry:
        if not (ts.held and tdef.kind in PARKABLE_KINDS):
            w.dry_raised.append(init)
        return
    w.set_job(key, ts.but(raised=True, initiation=init), w.cause)
    send(w, key, init)


def send(w: Step, key: JobKey, init: RaiseInitiation) -> None:
    """Route a raised initiation: park it, resolve it, ask for locks, or emit it."""
    tdef = init.job
    kind = tdef.kind
    ts = w.jobs[key]
    if ts.initiation is not init:
        w.jobs[key] = ts.but(initiation=init)
    if ts.held and kind in PARKABLE_KINDS:
        w.held[key] = init
        w.audit("parked", key=key, detail=init.initiation_id)
        return
    if kind is JobKind.GLOBAL:
        w.effects.append(
            GlobalEvent(
                origin_instance_id=w.state.instance_id,
                environment_group=w.plan.flags.environment_group,
                job_name=tdef.job_name,
                job_identifier=tdef.identifier,
                skipped=ts.skip,
                ignore_environment_group=tdef.ignore_environment_group,
                cause=init.initiation_id,
                output_parameters=init.output_parameters,
                time_ms=w.time,
            )
        )
        return
    if kind in LOCAL_VIRTUAL_KINDS:
        w.virtual.append(
            ProcessEvent(
                id=init.initiation_id,
                agent_name=tdef.agent_name,
                job_name=tdef.job_name,
                job_identifier=tdef.identifier,
                child_context_names=init.child_context_names,
                successful=True,
                skipped=ts.skip,
                output_parameters=init.output_parameters,
                time_ms=w.time,
                initiation_id=init.initiation_id,
            )
        )
        return
    claims = w.plan.claims_for(tdef.identifier, key[1])
    if claims:
        w.pending[key] = init
        w.effects.append(
            LockRequest(
                w.state.instance_id,
                w.plan.flags.environment_group,
                tdef.identifier,
                key[1],
                claims,
            )
        )
        return
    w.effects.append(init)


def child_names_for(w: Step, tdef: JobDef, ctx: str, ev: ProcessEvent | None) -> tuple[str, ...]:
    if tdef.target_residing_context_only and not tdef.repeatable:
        ts = w.jobs[(tdef.identifier, ctx)]
        if ts.status is Status.COMPLETE or ev is None or not ev.child_context_names:
            return (ctx,)
        return ev.child_context_names
    return w.plan.job_contexts[tdef.identifier]


def resolve_parameters(w: Step, tdef: JobDef, ctx: str, extra: Pairs = ()) -> Pairs:
    """Child context values (nearest first), then plan values, then the job's defaults."""
    if not tdef.parameters and not extra:
        return ()
    plan = w.plan
    chain = plan.ancestry[ctx][:-1]  # child contexts only; the root's values are instance's
    out: dict[str, str] = {}
    for p in tdef.parameters:
        value = ""
        for c in chain:
            value = plan.contexts[c].parameters.get(p.name, "")
            if value:
                break
        if not value:
            value = w.parameters.get(p.name, "")
        out[p.name] = value or p.default_value
    out.update(extra)
    return tuple(out.items())


def renumbered(
    init: RaiseInitiation, new_id: str, time_ms: int, *, attempt: int | None = None
) -> RaiseInitiation:
    """A copy of a parked or failed initiation under a new id (release, retry)."""
    return RaiseInitiation(
        initiation_id=new_id,
        instance_id=init.instance_id,
        plan_name=init.plan_name,
        job=init.job,
        child_context_name=init.child_context_name,
        child_context_names=init.child_context_names,
        parameters=init.parameters,
        skipped=init.skipped,
        dry_run=init.dry_run,
        dry_run_parameters=init.dry_run_parameters,
        catalyst=init.catalyst,
        attempt=init.attempt if attempt is None else attempt,
        output_parameters=init.output_parameters,
        manually_submitted_by=init.manually_submitted_by,
        raised_time=time_ms,
    )
