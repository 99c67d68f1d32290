"""Instance and coordinator state <-> plain JSON-able data (dicts, lists, str, int, bool, float).

A restored state equals the original (`==`), so applying the same inputs to either gives the
same states and effects. Job definitions are not copied into snapshots: initiations refer to
their job by identifier and get the definition back from the plan on restore.
"""

from __future__ import annotations

from typing import Any

from ikasched_dashboard.engine.coordinator import (
    CoordinatorState,
    Holder,
    LiveInstance,
    LockState,
    Waiter,
)
from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.inputs import DryRunParams, Pairs, ProcessEvent
from ikasched_dashboard.engine.model import LockClaim, Plan, Status
from ikasched_dashboard.engine.state import InstanceState, JobState

FORMAT = 1
Json = dict[str, Any]


def _pairs(p: Pairs) -> list[list[str]]:
    return [[k, v] for k, v in p]


def _unpairs(data: list[list[str]]) -> Pairs:
    return tuple((str(k), str(v)) for k, v in data)


def _dry(p: DryRunParams | None) -> Json | None:
    if p is None:
        return None
    return {
        "min": p.min_execution_time_millis,
        "max": p.max_execution_time_millis,
        "fixed": p.fixed_execution_time_millis,
        "pct": p.job_error_percentage,
        "error": p.error,
    }


def _undry(d: Json | None) -> DryRunParams | None:
    if d is None:
        return None
    return DryRunParams(d["min"], d["max"], d["fixed"], float(d["pct"]), d["error"])


_EVENT_FIELDS = (
    "id", "agent_name", "job_name", "job_identifier", "successful", "job_starting", "skipped",
    "outcome", "job_group", "raised_due_to_failure_resubmission", "pid", "return_code",
    "time_ms", "initiation_id", "attempt", "manual", "dry_run",
)  # fmt: skip


def event_to_data(ev: ProcessEvent) -> Json:
    out: Json = {f: getattr(ev, f) for f in _EVENT_FIELDS}
    out["child_context_names"] = list(ev.child_context_names)
    out["output_parameters"] = _pairs(ev.output_parameters)
    return out


def event_from_data(d: Json) -> ProcessEvent:
    kwargs: dict[str, Any] = {f: d[f] for f in _EVENT_FIELDS}
    return ProcessEvent(
        child_context_names=tuple(d["child_context_names"]),
        output_parameters=_unpairs(d["output_parameters"]),
        **kwargs,
    )


def initiation_to_data(init: RaiseInitiation) -> Json:
    return {
        "id": init.initiation_id,
        "instance": init.instance_id,
        "plan": init.plan_name,
        "job": init.job.identifier,
        "child": init.child_context_name,
        "children": list(init.child_context_names),
        "params": _pairs(init.parameters),
        "skipped": init.skipped,
        "dry_run": init.dry_run,
        "dry_run_params": _dry(init.dry_run_parameters),
        "catalyst": event_to_data(init.catalyst) if init.catalyst is not None else None,
        "attempt": init.attempt,
        "output": _pairs(init.output_parameters),
        "by": init.manually_submitted_by,
        "time": init.raised_time,
    }


def initiation_from_data(plan: Plan, d: Json) -> RaiseInitiation:
    return RaiseInitiation(
        initiation_id=d["id"],
        instance_id=d["instance"],
        plan_name=d["plan"],
        job=plan.jobs[d["job"]],
        child_context_name=d["child"],
        child_context_names=tuple(d["children"]),
        parameters=_unpairs(d["params"]),
        skipped=d["skipped"],
        dry_run=d["dry_run"],
        dry_run_parameters=_undry(d["dry_run_params"]),
        catalyst=event_from_data(d["catalyst"]) if d["catalyst"] is not None else None,
        attempt=d["attempt"],
        output_parameters=_unpairs(d["output"]),
        manually_submitted_by=d["by"],
        raised_time=d["time"],
    )


def _job(js: JobState) -> list[Any]:
    init = initiation_to_data(js.initiation) if js.initiation is not None else None
    return [
        js.status.value, js.held, js.skip, js.raised, js.error_acknowledged, js.killed, js.pid,
        js.last_event_id, init,
    ]  # fmt: skip


def _unjob(plan: Plan, d: list[Any]) -> JobState:
    init = initiation_from_data(plan, d[8]) if d[8] is not None else None
    return JobState(Status(d[0]), d[1], d[2], d[3], d[4], d[5], d[6], d[7], init)


def to_snapshot(state: InstanceState) -> Json:
    """Plain JSON-able data for one instance."""
    return {
        "format": FORMAT,
        "instance_id": state.instance_id,
        "plan_name": state.plan_name,
        "plan_version": state.plan_version,
        "jobs": [[i, c, _job(js)] for (i, c), js in state.jobs.items()],
        "contexts": {k: v.value for k, v in state.contexts.items()},
        "parameters": dict(state.parameters),
        "held": [[i, c, initiation_to_data(v)] for (i, c), v in state.held_initiations.items()],
        "pending": [[i, c, initiation_to_data(v)] for (i, c), v in state.lock_pending.items()],
        "holding": sorted([i, c] for i, c in state.lock_holding),
        "quartz_disabled": state.quartz_disabled,
        "run_until_manually_ended": state.run_until_manually_ended,
        "dry_run": state.dry_run,
        "dry_run_parameters": _dry(state.dry_run_parameters),
        "prepared": state.prepared,
        "ended": state.ended,
        "seq": state.seq,
    }


def from_snapshot(plan: Plan, data: Json) -> InstanceState:
    """Rebuild an instance state; the plan must be the version the snapshot was taken with."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown snapshot format {data.get('format')!r}")
    if data["plan_name"] != plan.name or data["plan_version"] != plan.version:
        raise ValueError(
            f"snapshot of {data['plan_name']} v{data['plan_version']} "
            f"does not match plan {plan.name} v{plan.version}"
        )
    return InstanceState(
        instance_id=data["instance_id"],
        plan_name=data["plan_name"],
        plan_version=data["plan_version"],
        jobs={(i, c): _unjob(plan, j) for i, c, j in data["jobs"]},
        contexts={k: Status(v) for k, v in data["contexts"].items()},
        parameters=dict(data["parameters"]),
        held_initiations={(i, c): initiation_from_data(plan, v) for i, c, v in data["held"]},
        lock_pending={(i, c): initiation_from_data(plan, v) for i, c, v in data["pending"]},
        lock_holding=frozenset((i, c) for i, c in data["holding"]),
        quartz_disabled=data["quartz_disabled"],
        run_until_manually_ended=data["run_until_manually_ended"],
        dry_run=data["dry_run"],
        dry_run_parameters=_undry(data["dry_run_parameters"]),
        prepared=data["prepared"],
        ended=data["ended"],
        seq=data["seq"],
    )


def _claims(claims: tuple[LockClaim, ...]) -> list[list[Any]]:
    return [[c.name, c.capacity, c.exclusive, c.weight] for c in claims]


def coordinator_to_snapshot(state: CoordinatorState) -> Json:
    return {
        "format": FORMAT,
        "locks": [
            {
                "group": g,
                "name": ls.name,
                "capacity": ls.capacity,
                "exclusive": ls.exclusive,
                "holders": [
                    [h.instance_id, h.job_identifier, h.child_context_name, h.weight]
                    for h in ls.holders
                ],
                "queue": [
                    [w.instance_id, w.job_identifier, w.child_context_name, _claims(w.claims)]
                    for w in ls.queue
                ],
            }
            for (g, _), ls in state.locks.items()
        ],
        "instances": [
            [i.instance_id, i.environment_group, sorted(i.global_job_names), i.prepared]
            for i in state.instances.values()
        ],
    }


def coordinator_from_snapshot(data: Json) -> CoordinatorState:
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown snapshot format {data.get('format')!r}")
    locks = {
        (d["group"], d["name"]): LockState(
            d["name"],
            d["capacity"],
            d["exclusive"],
            tuple(Holder(*h) for h in d["holders"]),
            tuple(
                Waiter(i, j, c, tuple(LockClaim(*cl) for cl in claims))
                for i, j, c, claims in d["queue"]
            ),
        )
        for d in data["locks"]
    }
    instances = {
        i: LiveInstance(i, g, frozenset(names), prepared)
        for i, g, names, prepared in data["instances"]
    }
    return CoordinatorState(locks=locks, instances=instances)
