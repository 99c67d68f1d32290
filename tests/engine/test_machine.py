"""Scenario tests of the ContextMachine, one rule of docs/semantics.md §4 at a time."""

from __future__ import annotations

import pytest

from ikasched_common.errors import FailedPrecondition
from ikasched_dashboard.engine.effects import (
    ContextStatusChanged,
    InstanceComplete,
    JobStatusChanged,
    RaiseInitiation,
    ScheduleRetry,
)
from ikasched_dashboard.engine.inputs import (
    OUTCOME_IGNORED_DAY_OF_WEEK,
    AcknowledgeError,
    Activate,
    DisableQuartzJobs,
    DryRunParams,
    EnableQuartzJobs,
    End,
    Hold,
    Input,
    ManualRun,
    Release,
    ResetJob,
    RetryDue,
    RunUntilManuallyEnded,
    SetDryRun,
    UpdateParameters,
)
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import Grouping, JobKind, Status

from .builder import (
    AND,
    OR,
    G,
    Run,
    build,
    chain,
    cmd,
    ctx,
    ev,
    nested,
    raised,
    raised_ids,
    timer,
    virtual,
)

W, R, C, E = Status.WAITING, Status.RUNNING, Status.COMPLETE, Status.ERROR


def test_three_level_plan_event_by_event() -> None:
    run = Run(nested())
    steps: list[tuple[Input, list[str], dict[str, Status]]] = [
        (ev("A", starting=True), [], {"R": R, "C1": W, "C11": W, "C2": W}),
        (ev("A"), ["B", "E"], {"R": R, "C1": W, "C11": W, "C2": W}),
        (ev("B", starting=True), [], {"R": R, "C1": R, "C11": W, "C2": W}),
        (ev("B"), ["D"], {"R": R, "C1": R, "C11": W, "C2": W}),
        (ev("D", starting=True), [], {"R": R, "C1": R, "C11": R, "C2": W}),
        (ev("D"), [], {"R": R, "C1": C, "C11": C, "C2": W}),
        (ev("E", starting=True), [], {"R": R, "C1": C, "C11": C, "C2": R}),
        (ev("E"), [], {"R": C, "C1": C, "C11": C, "C2": C}),
    ]
    for n, (item, expected_raises, expected) in enumerate(steps):
        effects = run(item)
        assert raised_ids(effects) == expected_raises, f"step {n}"
        assert run.contexts() == expected, f"step {n}"
    assert any(isinstance(e, InstanceComplete) for e in run.log)
    # a job appearing in several child contexts is updated in each
    assert {run.status("A", c) for c in ("R", "C1", "C2")} == {C}


def test_error_propagates_to_every_ancestor_while_siblings_stay_waiting() -> None:
    run = Run(nested())
    for item in (ev("A", starting=True), ev("A"), ev("B", starting=True), ev("B")):
        run(item)
    run(ev("D", starting=True))
    effects = run(ev("D", ok=False))
    assert run.contexts() == {"R": E, "C1": E, "C11": E, "C2": W}
    changed = {e.context_name for e in effects if isinstance(e, ContextStatusChanged)}
    assert changed == {"R", "C1", "C11"}


def test_acknowledged_error_satisfies_downstream_and_clears_context_error() -> None:
    plan = build(
        ctx("P", ["A", "B", "C"], {"A": None, "B": None, "C": AND("A", "B")}),
        [cmd("A"), cmd("B"), cmd("C")],
    )
    run = Run(plan)
    run.finish("A", ok=False)
    assert run.ctx("P") is E
    run(AcknowledgeError("A", "P", actor="ops", message="known issue"))
    assert run.status("A", "P") is E and run.state.job("A", "P").error_acknowledged
    assert run.ctx("P") is R  # an acknowledged error counts as active, not as an error
    effects = run.finish("B")
    assert raised_ids(effects) == ["C"]


def test_acknowledge_refused_unless_error() -> None:
    run = Run(chain())
    with pytest.raises(FailedPrecondition, match=r"job A in child context P: it is WAITING"):
        run(AcknowledgeError("A", "P"))


def test_late_starting_event_never_regresses_complete() -> None:
    run = Run(chain())
    run(ev("A"))
    assert run.status("A", "P") is C
    effects = run(ev("A", starting=True))
    assert run.status("A", "P") is C
    assert not [e for e in effects if isinstance(e, JobStatusChanged)]


def test_day_of_week_outcome_gives_skipped_complete_which_satisfies() -> None:
    run = Run(chain())
    effects = run(ev("A", outcome=OUTCOME_IGNORED_DAY_OF_WEEK))
    assert run.status("A", "P") is Status.SKIPPED_COMPLETE
    assert raised_ids(effects) == ["B"]


def test_second_success_reruns_selection_but_non_repeatable_fires_once() -> None:
    run = Run(chain())
    assert raised_ids(run(ev("A"))) == ["B"]
    assert raised_ids(run(ev("A"))) == []
    assert run.status("B", "P") is W and run.state.job("B", "P").raised


def test_repeatable_job_raised_exactly_once_per_repeat() -> None:
    plan = build(
        ctx("P", ["T", "J"], {"T": None, "J": AND("T")}), [timer("T"), cmd("J", repeatable=True)]
    )
    run = Run(plan)
    for repeat in range(4):
        effects = run(ev("T"))
        assert raised_ids(effects) == ["J"], repeat
        run.finish("J")
    assert len(raised(run.log)) == 4


def test_repeatable_target_not_reraised_by_its_own_name() -> None:
    plan = build(
        ctx("P", ["A", "B"], {"A": None, "B": OR("A", "B")}), [cmd("A"), cmd("B", repeatable=True)]
    )
    run = Run(plan)
    assert raised_ids(run(ev("A"))) == ["B"]
    assert raised_ids(run(ev("B"))) == []  # B's own event names B: no self re-raise


TRUTH_TABLE = [
    # (grouping over X, Y, Z, jobs completed in this order, T fires)
    (AND("X", "Y"), ["X"], False),
    (AND("X", "Y"), ["X", "Y"], True),
    (OR("X", "Y"), ["Y"], True),
    (G(and_=["X", "Y"], or_=["Z"]), ["Z"], True),  # and/or on one level are OR-ed
    (G(and_=["X"], not_=["Y"]), ["X"], True),
    (G(and_=["X"], not_=["Y"]), ["Y", "X"], False),  # any `not` member satisfied: false
    (G(or_=["X"], not_=["Y", "Z"]), ["Z", "X"], False),
    (G(not_=["Y"]), ["X"], False),  # only `not`: never fires
    (G(not_=["Y"]), ["X", "Y", "Z"], False),
    (G(and_=[OR("X", "Y"), "Z"]), ["Y", "Z"], True),  # nested operand by the base rule
    (G(and_=["X"], nested=G(or_=["Y"])), ["X"], False),  # nested grouping AND-ed
    (G(and_=["X"], nested=G(or_=["Y"])), ["X", "Y"], True),
]


@pytest.mark.parametrize(("grouping", "done", "fires"), TRUTH_TABLE)
def test_truth_rules_through_the_machine(grouping: Grouping, done: list[str], fires: bool) -> None:
    plan = build(
        ctx("P", ["X", "Y", "Z", "T"], {"X": None, "Y": None, "Z": None, "T": grouping}),
        [cmd("X"), cmd("Y"), cmd("Z"), cmd("T")],
    )
    run = Run(plan)
    got: list[str] = []
    for job in done:
        got += raised_ids(run(ev(job)))
    assert (got == ["T"]) is fires


def test_only_nested_grouping_never_fires_but_nested_with_level_does() -> None:
    only_nested = Grouping(nested=AND("X"))
    with_level = Grouping(all_of=("Y",), nested=AND("X"))
    plan = build(
        ctx("P", ["X", "Y", "T", "U"], {"X": None, "Y": None, "T": only_nested, "U": with_level}),
        [cmd("X"), cmd("Y"), cmd("T"), cmd("U")],
    )
    run = Run(plan)
    assert raised_ids(run(ev("X"))) == []
    assert raised_ids(run(ev("Y"))) == ["U"]


def test_failure_resubmission_raises_downstream_but_job_stays_error() -> None:
    run = Run(chain())
    run.finish("A", ok=False)
    effects = run(ev("A", raised_due_to_failure_resubmission=True))
    assert raised_ids(effects) == ["B"]
    assert run.status("A", "P") is E
    assert run.ctx("P") is E


def test_failure_resubmission_refused_unless_error_in_targeted_child() -> None:
    run = Run(chain())
    run(ev("A"))
    with pytest.raises(FailedPrecondition, match="needs it in ERROR"):
        run(ev("A", raised_due_to_failure_resubmission=True))


def test_child_context_names_target_the_status_update() -> None:
    run = Run(nested())
    run(ev("A", children=["C2"]))
    assert run.status("A", "C2") is C
    assert run.status("A", "R") is W and run.status("A", "C1") is W


def test_target_residing_context_only_acts_in_its_own_child() -> None:
    plan = build(
        ctx(
            "R",
            contexts=[
                ctx("X", ["T", "J"], {"T": None, "J": AND("T")}),
                ctx("Y", ["T", "J"], {"T": None, "J": AND("T")}),
            ],
        ),
        [timer("T"), cmd("J", trco=True)],
    )
    run = Run(plan)
    init = raised(run(ev("T", children=["X"])))
    assert [(i.job_identifier, i.child_context_name) for i in init] == [("J", "X")]
    assert init[0].child_context_names == ("X",)
    run(Hold("J", "Y"))
    assert run.status("J", "Y") is Status.ON_HOLD
    assert run.status("J", "X") is W  # target-residing-only: the hold did not fan out


def test_quartz_disabled_ignores_time_events_but_not_manual_fires() -> None:
    plan = build(ctx("P", ["T", "J"], {"T": None, "J": AND("T")}), [timer("T"), cmd("J")])
    run = Run(plan)
    run(DisableQuartzJobs())
    assert run.status("T", "P") is Status.DISABLED
    assert raised_ids(run(ev("T", job_group="g"))) == []
    assert run.status("T", "P") is Status.DISABLED
    assert raised_ids(run(ManualRun("T", "P", actor="ops"))) == ["J"]
    run(EnableQuartzJobs())
    run2 = Run(plan)
    run2(DisableQuartzJobs())
    run2(EnableQuartzJobs())
    assert run2.status("T", "P") is W
    assert raised_ids(run2(ev("T"))) == ["J"]


def test_parameters_child_context_first_then_plan_then_job_default() -> None:
    plan = build(
        ctx(
            "R",
            ["T"],
            {"T": None},
            params={"p1": "plan1", "p2": "plan2"},
            contexts=[ctx("C", ["T", "J"], {"J": AND("T")}, params={"p1": "child1"})],
        ),
        [timer("T"), cmd("J", params={"p1": "d1", "p2": "d2", "p3": "d3"})],
    )
    run = Run(plan)
    init = raised(run(ev("T")))[0]
    assert dict(init.parameters) == {"p1": "child1", "p2": "plan2", "p3": "d3"}
    run2 = Run(plan)
    run2(UpdateParameters((("p2", "updated"),)))
    assert dict(raised(run2(ev("T")))[0].parameters)["p2"] == "updated"


def test_output_parameters_reach_the_jobs_raised() -> None:
    run = Run(chain())
    init = raised(run(ev("A", output_parameters=(("FILE", "/tmp/x"),))))[0]
    assert init.output_parameters == (("FILE", "/tmp/x"),)


def test_dry_run_marks_every_initiation() -> None:
    run = Run(chain())
    params = DryRunParams(fixed_execution_time_millis=10)
    run(SetDryRun(True, params))
    init = raised(run(ev("A")))[0]
    assert init.dry_run and init.dry_run_parameters == params


def test_manual_run_carries_user_and_parameters() -> None:
    run = Run(chain())
    init = raised(run(ManualRun("C", "P", actor="alice", parameters=(("X", "1"),))))[0]
    assert init.manually_submitted_by == "alice" and dict(init.parameters) == {"X": "1"}


def test_retry_schedules_then_reraises_with_next_attempt_until_exhausted() -> None:
    plan = build(
        ctx("P", ["A", "B"], {"A": None, "B": AND("A")}),
        [cmd("A"), cmd("B", retry=2, retry_delay=30)],
    )
    run = Run(plan)
    first = raised(run(ev("A")))[0]
    assert first.attempt == 1
    run(ev("B", starting=True, initiation_id=first.initiation_id))
    effects = run(ev("B", ok=False, initiation_id=first.initiation_id))
    retries = [e for e in effects if isinstance(e, ScheduleRetry)]
    assert [(r.attempt, r.delay_seconds) for r in retries] == [(2, 30)]
    assert run.status("B", "P") is E
    second = raised(run(RetryDue("B", "P", 2)))[0]
    assert second.attempt == 2 and run.status("B", "P") is W
    run(ev("B", ok=False, initiation_id=second.initiation_id))
    third = raised(run(RetryDue("B", "P", 3)))[0]
    effects = run(ev("B", ok=False, initiation_id=third.initiation_id))
    assert not [e for e in effects if isinstance(e, ScheduleRetry)]  # 2 retries used up
    assert raised(run(RetryDue("B", "P", 4))) == []  # a stray timer changes nothing


def test_retry_ignored_after_reset() -> None:
    plan = build(ctx("P", ["A", "B"], {"A": None, "B": AND("A")}), [cmd("A"), cmd("B", retry=1)])
    run = Run(plan)
    run(ev("A"))
    run(ev("B", ok=False))
    run(ResetJob("B", "P"))
    assert raised(run(RetryDue("B", "P", 2))) == []


def test_virtual_start_terminal_jobs_resolve_inside_the_machine() -> None:
    s = virtual(JobKind.START, "s2")
    t = virtual(JobKind.TERMINAL, "t1")
    plan = build(
        ctx(
            "R",
            [t.identifier, s.identifier],
            {s.identifier: AND(t.identifier)},
            contexts=[
                ctx("Step1", ["A", t.identifier], {"A": None, t.identifier: AND("A")}),
                ctx("Step2", [s.identifier, "B"], {"B": AND(s.identifier)}),
            ],
        ),
        [cmd("A"), cmd("B"), s, t],
    )
    run = Run(plan)
    effects = run(ev("A"))
    # A done -> terminal(Step1) -> start(R) -> B in Step2, all in one step, only B goes out
    assert raised_ids(effects) == ["B"]
    assert run.status(t.identifier, "Step1") is C and run.status(s.identifier, "Step2") is C
    assert run.ctx("Step1") is C and run.ctx("Step2") is W


def test_bridging_job_reraised_when_catalyst_is_repeatable() -> None:
    b = virtual(JobKind.BRIDGING, "br")
    plan = build(
        ctx(
            "P",
            ["T", "J", b.identifier, "K"],
            {"T": None, "J": AND("T"), b.identifier: AND("J"), "K": AND(b.identifier)},
        ),
        [timer("T"), cmd("J", repeatable=True), b, cmd("K", repeatable=True)],
    )
    run = Run(plan)
    for _ in range(3):
        run(ev("T"))
        assert raised_ids(run(ev("J"))) == ["K"]


def test_local_event_job_held_is_parked_and_released() -> None:
    loc = virtual(JobKind.LOCAL, "go")
    plan = build(
        ctx(
            "P",
            ["A", loc.identifier, "B"],
            {"A": None, loc.identifier: AND("A"), "B": AND(loc.identifier)},
        ),
        [cmd("A"), loc, cmd("B")],
    )
    run = Run(plan)
    run(Hold(loc.identifier, "P"))
    assert raised_ids(run(ev("A"))) == []
    assert raised_ids(run(Release(loc.identifier, "P"))) == ["B"]


def test_global_job_emits_effect_and_waits_for_the_fan_out() -> None:
    from ikasched_dashboard.engine.effects import GlobalEvent

    g = virtual(JobKind.GLOBAL, "ready")
    plan = build(
        ctx("P", ["A", g.identifier], {"A": None, g.identifier: AND("A")}),
        [cmd("A"), g],
        environment_group="blue",
    )
    run = Run(plan)
    effects = run(ev("A"))
    globals_ = [e for e in effects if isinstance(e, GlobalEvent)]
    assert [(x.job_name, x.environment_group, x.skipped) for x in globals_] == [
        ("ready", "blue", False)
    ]
    assert run.status(g.identifier, "P") is W


def test_end_makes_every_context_ended_for_good() -> None:
    run = Run(chain())
    run(ev("A", starting=True))
    run(End())
    assert set(run.contexts().values()) == {Status.ENDED}
    effects = run(ev("A"))
    assert not [e for e in effects if isinstance(e, (ContextStatusChanged, RaiseInitiation))]
    assert set(run.contexts().values()) == {Status.ENDED}
    with pytest.raises(FailedPrecondition, match="ended"):
        run(Hold("B", "P"))


def test_end_upon_completion_unless_run_until_manually_ended() -> None:
    plan = build(ctx("P", ["A"], {"A": None}), [cmd("A")], end_upon_completion=True)
    run = Run(plan)
    done = [e for e in run(ev("A")) if isinstance(e, InstanceComplete)]
    assert [d.end_instance for d in done] == [True]
    run2 = Run(plan)
    run2(RunUntilManuallyEnded())
    done = [e for e in run2(ev("A")) if isinstance(e, InstanceComplete)]
    assert [d.end_instance for d in done] == [False]


def test_events_that_can_run_is_read_only() -> None:
    plan = build(
        ctx("P", ["A", "B", "C"], {"A": None, "B": AND("A"), "C": AND("A")}),
        [cmd("A"), cmd("B"), cmd("C")],
    )
    run = Run(plan)
    run(Hold("C", "P"))
    machine = ContextMachine(plan)
    before = run.state
    could = machine.events_that_can_run(run.state, ev("A", ok=False))
    assert [i.job_identifier for i in could] == ["B"]  # held C dropped
    assert run.state is before and not run.state.job("B", "P").raised


def test_old_state_is_not_mutated() -> None:
    run = Run(chain())
    before = run.state
    snapshot = (dict(before.jobs), dict(before.contexts))
    run(ev("A"))
    run(Hold("C", "P"))
    assert (dict(before.jobs), dict(before.contexts)) == snapshot


def test_template_hold_and_skip_defaults() -> None:
    plan = build(
        ctx("P", ["A", "B"], {"A": None, "B": AND("A")}),
        [cmd("A", skipped_in=["P"]), cmd("B", held_in=["P"])],
    )
    run = Run(plan)
    assert run.status("A", "P") is Status.SKIPPED_COMPLETE
    assert run.status("B", "P") is Status.ON_HOLD


def test_prepared_instance_takes_verbs_ignores_events_until_activated() -> None:
    plan = chain()
    machine = ContextMachine(plan)
    state = machine.new_instance("p1", prepared=True)
    assert set(state.contexts.values()) == {Status.PREPARED}
    state, _ = machine.apply(state, Hold("B", "P"))  # pre-holding a future run
    state, effects = machine.apply(state, ev("A"))
    assert not raised(effects) and state.job("A", "P").status is W
    state, effects = machine.apply(state, Activate(time_ms=5))
    assert state.contexts == {"P": W} and not state.prepared
    assert [(e.previous, e.status) for e in effects if isinstance(e, ContextStatusChanged)] == [
        (Status.PREPARED, W)
    ]
    state, effects = machine.apply(state, ev("A"))
    assert not raised(effects) and ("B", "P") in state.held_initiations
    with pytest.raises(FailedPrecondition, match="not PREPARED"):
        machine.apply(state, Activate())


def test_snapshot_round_trip_keeps_parked_pending_and_flags() -> None:
    import json

    from ikasched_dashboard.engine.snapshot import from_snapshot, to_snapshot

    from .builder import lock

    plan = build(
        ctx(
            "P",
            ["A", "B", "L"],
            {"A": None, "B": AND("A"), "L": AND("A")},
            locks=[lock("db", 1, ("L", "P"))],
        ),
        [cmd("A"), cmd("B", params={"X": "1"}), cmd("L")],
    )
    run = Run(plan, parameters=(("X", "9"),))
    run(SetDryRun(True, DryRunParams(job_error_percentage=12.5)))
    run(RunUntilManuallyEnded())
    run(Hold("B", "P"))
    run(ev("A", output_parameters=(("k", "v"),)))
    assert ("B", "P") in run.state.held_initiations and ("L", "P") in run.state.lock_pending
    data = json.loads(json.dumps(to_snapshot(run.state)))
    restored = from_snapshot(plan, data)
    assert restored == run.state
    machine = ContextMachine(plan)
    assert machine.apply(restored, Release("B", "P")) == machine.apply(run.state, Release("B", "P"))
    other = build(ctx("Q", ["A"], {"A": None}), [cmd("A")])
    with pytest.raises(ValueError, match="does not match"):
        from_snapshot(other, data)


def test_a_completion_records_its_pid_when_no_start_was_seen() -> None:
    """A run recovered after an agent loss may reach the dashboard as its completion only."""
    run = Run(chain())
    run(ev("A"))
    run(ev("B", pid=777))
    assert run.status("B", "P") is C and run.state.job("B", "P").pid == 777
    run(ev("C", starting=True, pid=5))
    run(ev("C", pid=0))  # a completion without a pid keeps the started one
    assert run.state.job("C", "P").pid == 5
