"""Snapshot formats: the compact format 2 round-trips exactly, is much smaller than format 1,
and format 1 snapshots (written before the change) still restore to the same machine."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.inputs import DryRunParams, ProcessEvent
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import Plan, Status
from ikasched_dashboard.engine.snapshot import (
    FORMAT,
    Scope,
    compact_initiation,
    expand_initiation,
    from_snapshot,
    to_snapshot,
    to_snapshot_v1,
)

from .builder import AGENT, AND, build, cmd, ctx
from .test_properties import SETTINGS, Driver, drive, item_stream, plans


def _through_json(data: object) -> dict[str, object]:
    loaded = json.loads(json.dumps(data))
    assert isinstance(loaded, dict)
    return loaded


@SETTINGS
@given(st.data())
def test_both_formats_restore_any_reachable_state_and_give_the_same_future(
    data: st.DataObject,
) -> None:
    plan = data.draw(plans(with_locks=data.draw(st.booleans())))
    items = data.draw(item_stream(plan, verbs=True))
    cut = data.draw(st.integers(0, len(items)))
    machine = ContextMachine(plan)
    driver = Driver()
    state, _ = drive(
        machine, machine.new_instance("i", parameters=(("p", "v"),)), driver, items[:cut]
    )
    old = from_snapshot(plan, _through_json(to_snapshot_v1(state)))
    new = from_snapshot(plan, _through_json(to_snapshot(state)))
    assert old == state and new == state
    rest = items[cut:]
    a, ea = drive(machine, old, Driver(), rest)
    b, eb = drive(machine, new, Driver(), rest)
    assert a == b and ea == eb


def _plan() -> Plan:
    return build(ctx("P", ["J1", "J2"], deps={"J2": AND("J1")}), [cmd("J1"), cmd("J2")])


def test_a_written_format_1_snapshot_restores() -> None:
    """Literal format 1 text, as the orchestrator stored it before format 2."""
    plan = _plan()
    catalyst = {
        "id": "x:1:completed", "agent_name": AGENT, "job_name": "J1", "job_identifier": "J1",
        "successful": True, "job_starting": False, "skipped": False,
        "outcome": "EXECUTION_INVOKED", "job_group": "",
        "raised_due_to_failure_resubmission": False, "pid": 42, "return_code": 0,
        "time_ms": 1000, "initiation_id": "x:1", "attempt": 1, "manual": False,
        "dry_run": False, "child_context_names": ["P"], "output_parameters": [["k", "v"]],
    }  # fmt: skip
    init = {
        "id": "x:2", "instance": "x", "plan": "P", "job": "J2", "child": "P",
        "children": ["P"], "params": [], "skipped": False, "dry_run": False,
        "dry_run_params": None, "catalyst": catalyst, "attempt": 1, "output": [["k", "v"]],
        "by": "", "time": 1000,
    }  # fmt: skip
    text = json.dumps({
        "format": 1, "instance_id": "x", "plan_name": "P", "plan_version": plan.version,
        "jobs": [
            ["J1", "P", ["COMPLETE", False, False, True, False, False, 42, "x:1:completed", None]],
            ["J2", "P", ["WAITING", False, False, True, False, False, 0, "", init]],
        ],
        "contexts": {"P": "RUNNING"}, "parameters": {"p": "v"}, "held": [], "pending": [],
        "holding": [], "quartz_disabled": False, "run_until_manually_ended": False,
        "dry_run": False, "dry_run_parameters": None, "prepared": False, "ended": False,
        "seq": 2,
    })  # fmt: skip
    state = from_snapshot(plan, json.loads(text))
    j2 = state.job("J2", "P")
    assert state.job("J1", "P").status is Status.COMPLETE and j2.raised
    assert j2.initiation is not None and j2.initiation.job is plan.jobs["J2"]
    assert j2.initiation.catalyst is not None
    assert j2.initiation.catalyst.output_parameters == (("k", "v"),)
    assert j2.initiation.catalyst.child_context_names == ("P",)
    # the same state written now restores equal, and the machine carries on from either
    assert from_snapshot(plan, _through_json(to_snapshot(state))) == state
    assert to_snapshot_v1(state) == json.loads(text)
    machine = ContextMachine(plan)
    started = ProcessEvent("e", AGENT, "J2", "J2", job_starting=True, initiation_id="x:2")
    assert machine.apply(state, started)[0].job("J2", "P").status is Status.RUNNING


def test_compact_initiation_keeps_whatever_differs_from_its_surroundings() -> None:
    plan = _plan()
    event = ProcessEvent(
        "other:7", AGENT, "J1", "J1", child_context_names=("C", "D"), successful=True,
        outcome="o", job_group="g", raised_due_to_failure_resubmission=True,
        output_parameters=(("k", "v"),), pid=3, return_code=-1, time_ms=5,
        initiation_id="x:9", attempt=2, manual=True, dry_run=True,
    )  # fmt: skip
    full = RaiseInitiation(
        initiation_id="elsewhere", instance_id="y", plan_name="Q", job=plan.jobs["J1"],
        child_context_name="C", child_context_names=("C", "D"), parameters=(("a", "b"),),
        skipped=True, dry_run=True, dry_run_parameters=DryRunParams(1, 2, 3, 0.5, True),
        catalyst=event, attempt=4, output_parameters=(("o", "p"),),
        manually_submitted_by="ops", raised_time=77,
    )  # fmt: skip
    scope = Scope("x", "P")
    for init in (full, replace(full, catalyst=None, child_context_names=("C",))):
        data = _through_json(compact_initiation(scope, ("J2", "P"), init))
        assert expand_initiation(scope, plan, ("J2", "P"), data) == init
    plain = replace(
        full, initiation_id="x:3", instance_id="x", plan_name="P", job=plan.jobs["J2"],
        child_context_name="P", child_context_names=("P",), parameters=(), skipped=False,
        dry_run=False, dry_run_parameters=None, catalyst=None, attempt=1,
        output_parameters=(), manually_submitted_by="",
    )  # fmt: skip
    assert compact_initiation(scope, ("J2", "P"), plain) == {"i": ["3"], "t": 77}


def test_format_2_is_written_and_is_far_smaller_than_format_1() -> None:
    plan = _plan()
    machine = ContextMachine(plan)
    state = machine.new_instance("0123456789abcdef0123456789abcdef")
    iid = state.instance_id
    for ev in (
        ProcessEvent("s", AGENT, "J1", "J1", job_starting=True, initiation_id=f"{iid}:1"),
        ProcessEvent(f"{iid}:1:done", AGENT, "J1", "J1", successful=True, pid=4,
                     initiation_id=f"{iid}:1", attempt=1, time_ms=9),
    ):  # fmt: skip
        state, _ = machine.apply(state, ev)
    assert state.job("J2", "P").initiation is not None
    new, old = to_snapshot(state), to_snapshot_v1(state)
    assert new["format"] == FORMAT == 2
    # the keys the services read stay where they were
    for key in ("contexts", "parameters", "dry_run_parameters"):
        assert new[key] == old[key]
    assert len(json.dumps(new)) * 2 < len(json.dumps(old))


def test_unknown_format_is_refused() -> None:
    plan = _plan()
    data = to_snapshot(ContextMachine(plan).new_instance("x"))
    with pytest.raises(ValueError, match="format"):
        from_snapshot(plan, {**data, "format": 3})
