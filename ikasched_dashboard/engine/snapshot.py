"""Instance and coordinator state <-> plain JSON-able data (dicts, lists, str, int, bool, float).

A restored state equals the original (`==`), so applying the same inputs to either gives the
same states and effects. Job definitions are not copied into snapshots: initiations refer to
their job by identifier and get the definition back from the plan on restore.

Format 2 (written now) keeps the top-level keys of format 1 (the services read "contexts",
"parameters" and "dry_run_parameters") but stores jobs and initiations compactly, because the
orchestrator rewrites every touched instance's snapshot each batch: a job is a short list, a
flag set is one int, an initiation or event is a dict of short keys holding only values that
differ from their defaults or from what the surrounding instance and job key already say, and
ids under the instance's own id keep only their suffix (["3:completed"]). Format 1 snapshots
still restore.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
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
from ikasched_dashboard.engine.state import InstanceState, JobKey, JobState

FORMAT = 2
COORDINATOR_FORMAT = 1
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


# ---- format 2: compact ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """What a compact record may leave out: it is said once by the instance (and job key)."""

    instance_id: str
    plan_name: str

    def rel(self, text: str) -> str | list[str]:
        """An id under this instance's id as [suffix]; any other string as itself."""
        prefix = self.instance_id + ":"
        return [text[len(prefix) :]] if text.startswith(prefix) else text

    def unrel(self, data: str | list[str]) -> str:
        return data if isinstance(data, str) else self.instance_id + ":" + data[0]


# event field -> short key, for fields kept only when they differ from ProcessEvent's default
_EVENT_KEYS = (
    ("agent_name", "a"), ("job_name", "n"), ("job_identifier", "j"), ("successful", "s"),
    ("job_starting", "st"), ("skipped", "sk"), ("outcome", "o"), ("job_group", "g"),
    ("raised_due_to_failure_resubmission", "rs"), ("pid", "p"), ("return_code", "rc"),
    ("time_ms", "t"), ("attempt", "at"), ("manual", "m"), ("dry_run", "dr"),
)  # fmt: skip
_EVENT_DEFAULTS = {f.name: f.default for f in fields(ProcessEvent)}


def compact_event(scope: Scope, ev: ProcessEvent) -> Json:
    out: Json = {"i": scope.rel(ev.id)}
    for name, key in _EVENT_KEYS:
        value = getattr(ev, name)
        if value != _EVENT_DEFAULTS[name]:
            out[key] = value
    if ev.initiation_id:
        out["in"] = scope.rel(ev.initiation_id)
    if ev.child_context_names:
        out["cs"] = list(ev.child_context_names)
    if ev.output_parameters:
        out["op"] = _pairs(ev.output_parameters)
    return out


def expand_event(scope: Scope, d: Json) -> ProcessEvent:
    kwargs: dict[str, Any] = {name: d[key] for name, key in _EVENT_KEYS if key in d}
    return ProcessEvent(
        id=scope.unrel(d["i"]),
        initiation_id=scope.unrel(d.get("in", "")),
        child_context_names=tuple(d.get("cs", ())),
        output_parameters=_unpairs(d.get("op", ())),
        **kwargs,
    )


def compact_initiation(scope: Scope, key: JobKey, init: RaiseInitiation) -> Json:
    """`key` is the (job identifier, context) the initiation is stored under."""
    ident, ctx = key
    out: Json = {"i": scope.rel(init.initiation_id), "t": init.raised_time}
    if init.instance_id != scope.instance_id:
        out["ii"] = init.instance_id
    if init.plan_name != scope.plan_name:
        out["pl"] = init.plan_name
    if init.job.identifier != ident:
        out["j"] = init.job.identifier
    if init.child_context_name != ctx:
        out["c"] = init.child_context_name
    if init.child_context_names != (init.child_context_name,):
        out["cs"] = list(init.child_context_names)
    if init.parameters:
        out["pa"] = _pairs(init.parameters)
    if init.skipped:
        out["sk"] = True
    if init.dry_run:
        out["dr"] = True
    if init.dry_run_parameters is not None:
        out["dp"] = _dry(init.dry_run_parameters)
    if init.catalyst is not None:
        out["e"] = compact_event(scope, init.catalyst)
    if init.attempt != 1:
        out["at"] = init.attempt
    if init.output_parameters:
        out["op"] = _pairs(init.output_parameters)
    if init.manually_submitted_by:
        out["by"] = init.manually_submitted_by
    return out


def expand_initiation(scope: Scope, plan: Plan, key: JobKey, d: Json) -> RaiseInitiation:
    ident, ctx = key
    child = d.get("c", ctx)
    catalyst = d.get("e")
    return RaiseInitiation(
        initiation_id=scope.unrel(d["i"]),
        instance_id=d.get("ii", scope.instance_id),
        plan_name=d.get("pl", scope.plan_name),
        job=plan.jobs[d.get("j", ident)],
        child_context_name=child,
        child_context_names=tuple(d["cs"]) if "cs" in d else (child,),
        parameters=_unpairs(d.get("pa", ())),
        skipped=d.get("sk", False),
        dry_run=d.get("dr", False),
        dry_run_parameters=_undry(d.get("dp")),
        catalyst=expand_event(scope, catalyst) if catalyst is not None else None,
        attempt=d.get("at", 1),
        output_parameters=_unpairs(d.get("op", ())),
        manually_submitted_by=d.get("by", ""),
        raised_time=d["t"],
    )


def job_flags(js: JobState) -> int:
    """held, skip, raised, error acknowledged, killed as bits 0-4."""
    return js.held | js.skip << 1 | js.raised << 2 | js.error_acknowledged << 3 | js.killed << 4


def compact_job(scope: Scope, key: JobKey, js: JobState) -> list[Any]:
    """[identifier, context, status, flags, pid, last event id(, initiation)]."""
    out: list[Any] = [key[0], key[1], js.status.value, job_flags(js), js.pid]
    out.append(scope.rel(js.last_event_id))
    if js.initiation is not None:
        out.append(compact_initiation(scope, key, js.initiation))
    return out


def expand_job(scope: Scope, plan: Plan, d: list[Any]) -> tuple[JobKey, JobState]:
    key = (d[0], d[1])
    f = d[3]
    init = expand_initiation(scope, plan, key, d[6]) if len(d) > 6 else None
    js = JobState(
        Status(d[2]), bool(f & 1), bool(f & 2), bool(f & 4), bool(f & 8), bool(f & 16), d[4],
        scope.unrel(d[5]), init,
    )  # fmt: skip
    return key, js


def settled_fields(state: InstanceState) -> Json:
    """The format 2 fields between "contexts" and "seq": the ones that change rarely."""
    scope = Scope(state.instance_id, state.plan_name)
    return {
        "parameters": dict(state.parameters),
        "held": [
            [i, c, compact_initiation(scope, (i, c), v)]
            for (i, c), v in state.held_initiations.items()
        ],
        "pending": [
            [i, c, compact_initiation(scope, (i, c), v)] for (i, c), v in state.lock_pending.items()
        ],
        "holding": sorted([i, c] for i, c in state.lock_holding),
        "quartz_disabled": state.quartz_disabled,
        "run_until_manually_ended": state.run_until_manually_ended,
        "dry_run": state.dry_run,
        "dry_run_parameters": _dry(state.dry_run_parameters),
        "prepared": state.prepared,
        "ended": state.ended,
    }


def to_snapshot(state: InstanceState) -> Json:
    """Plain JSON-able data for one instance (format 2)."""
    scope = Scope(state.instance_id, state.plan_name)
    return {
        "format": FORMAT,
        "instance_id": state.instance_id,
        "plan_name": state.plan_name,
        "plan_version": state.plan_version,
        "jobs": [compact_job(scope, k, js) for k, js in state.jobs.items()],
        "contexts": {k: v.value for k, v in state.contexts.items()},
        **settled_fields(state),
        "seq": state.seq,
    }


def from_snapshot(plan: Plan, data: Json) -> InstanceState:
    """Rebuild an instance state (format 1 or 2); the plan must be the version the snapshot
    was taken with."""
    fmt = data.get("format")
    if fmt not in (1, 2):
        raise ValueError(f"unknown snapshot format {fmt!r}")
    if data["plan_name"] != plan.name or data["plan_version"] != plan.version:
        raise ValueError(
            f"snapshot of {data['plan_name']} v{data['plan_version']} "
            f"does not match plan {plan.name} v{plan.version}"
        )
    if fmt == 1:
        jobs = {(i, c): _unjob(plan, j) for i, c, j in data["jobs"]}
        held = {(i, c): initiation_from_data(plan, v) for i, c, v in data["held"]}
        pending = {(i, c): initiation_from_data(plan, v) for i, c, v in data["pending"]}
    else:
        scope = Scope(data["instance_id"], data["plan_name"])
        jobs = dict(expand_job(scope, plan, j) for j in data["jobs"])
        held = {(i, c): expand_initiation(scope, plan, (i, c), v) for i, c, v in data["held"]}
        pending = {(i, c): expand_initiation(scope, plan, (i, c), v) for i, c, v in data["pending"]}
    return InstanceState(
        instance_id=data["instance_id"],
        plan_name=data["plan_name"],
        plan_version=data["plan_version"],
        jobs=jobs,
        contexts={k: Status(v) for k, v in data["contexts"].items()},
        parameters=dict(data["parameters"]),
        held_initiations=held,
        lock_pending=pending,
        lock_holding=frozenset((i, c) for i, c in data["holding"]),
        quartz_disabled=data["quartz_disabled"],
        run_until_manually_ended=data["run_until_manually_ended"],
        dry_run=data["dry_run"],
        dry_run_parameters=_undry(data["dry_run_parameters"]),
        prepared=data["prepared"],
        ended=data["ended"],
        seq=data["seq"],
    )


def to_snapshot_v1(state: InstanceState) -> Json:
    """The old (format 1) data; kept so tests can prove such snapshots still restore."""
    return {
        "format": 1,
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


def _claims(claims: tuple[LockClaim, ...]) -> list[list[Any]]:
    return [[c.name, c.capacity, c.exclusive, c.weight] for c in claims]


def coordinator_to_snapshot(state: CoordinatorState) -> Json:
    return {
        "format": COORDINATOR_FORMAT,
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
    if data.get("format") != COORDINATOR_FORMAT:
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
