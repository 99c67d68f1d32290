"""Scenario tests of the ContextMachine's operator verbs (hold, release, skip, reset, manual
run, bulk verbs, kill): what each does in each job state and what it refuses (docs/semantics.md
§5)."""

from __future__ import annotations

import pytest

from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_dashboard.engine.effects import (
    CancelInitiation,
    JobStatusChanged,
    KillJob,
)
from ikasched_dashboard.engine.inputs import (
    AcknowledgeError,
    Hold,
    HoldAll,
    Input,
    KillRunningJobs,
    ManualRun,
    Release,
    ReleaseAll,
    ResetJob,
    Skip,
    SkipAll,
)
from ikasched_dashboard.engine.model import Status

from .builder import (
    AND,
    Run,
    build,
    chain,
    cmd,
    ctx,
    ev,
    nested,
    raised,
    raised_ids,
)

W, R, C, E = Status.WAITING, Status.RUNNING, Status.COMPLETE, Status.ERROR


def test_hold_fans_out_to_every_occurrence_without_trco() -> None:
    run = Run(nested())
    run(Hold("A", "C1"))
    assert {run.status("A", c) for c in ("R", "C1", "C2")} == {Status.ON_HOLD}


REFUSALS = [
    # (verb factory, state the job is put in first, verb name in the message)
    (lambda: Hold("B", "P"), "RUNNING", "hold"),
    (lambda: Hold("B", "P"), "COMPLETE", "hold"),
    (lambda: Hold("B", "P"), "ERROR", "hold"),
    (lambda: Hold("B", "P"), "ON_HOLD", "hold"),
    (lambda: Hold("B", "P"), "SKIPPED", "hold"),
    (lambda: Skip("B", "P"), "RUNNING", "skip"),
    (lambda: Skip("B", "P"), "COMPLETE", "skip"),
    (lambda: Skip("B", "P"), "ON_HOLD", "skip"),
    (lambda: Skip("B", "P", skip=False), "WAITING", "unskip"),
    (lambda: Skip("B", "P", skip=False), "RUNNING", "unskip"),
    (lambda: ResetJob("B", "P"), "RUNNING", "reset"),
    (lambda: ResetJob("B", "P"), "ON_HOLD", "reset"),
    (lambda: ResetJob("B", "P"), "SKIPPED", "reset"),
    (lambda: ManualRun("B", "P"), "RUNNING", "manually run"),
    (lambda: ManualRun("B", "P"), "ON_HOLD", "manually run"),
]


def _put(run: Run, status: str) -> None:
    if status == "RUNNING":
        run(ev("A"))
        run(ev("B", starting=True))
    elif status in ("COMPLETE", "ERROR"):
        run(ev("A"))
        run.finish("B", ok=status == "COMPLETE")
    elif status == "ON_HOLD":
        run(Hold("B", "P"))
    elif status == "SKIPPED":
        run(Skip("B", "P"))
    assert run.status("B", "P").value == status


@pytest.mark.parametrize(("verb", "status", "name"), REFUSALS)
def test_verb_refused_in_state(verb: object, status: str, name: str) -> None:
    run = Run(chain())
    _put(run, status)
    before = run.state
    with pytest.raises(FailedPrecondition) as err:
        run(verb())  # type: ignore[operator]
    assert str(err.value) == f"cannot {name} job B in child context P: it is {status}"
    assert run.state is before


@pytest.mark.parametrize(
    "verb",
    [
        Hold("Z", "P"),
        Release("B", "nowhere"),
        Skip("Z", "P"),
        ResetJob("Z", "P"),
        AcknowledgeError("Z", "P"),
        HoldAll("nowhere"),
        ManualRun("Z", "P"),
    ],
)
def test_unknown_job_or_context_is_not_found(verb: Input) -> None:
    run = Run(chain())
    with pytest.raises(NotFound):
        run(verb)


@pytest.mark.parametrize("status", ["WAITING", "RUNNING", "COMPLETE", "ERROR", "SKIPPED"])
def test_release_of_a_job_that_is_not_held_is_refused(status: str) -> None:
    run = Run(chain())
    _put(run, status)
    before = run.state
    with pytest.raises(FailedPrecondition) as err:
        run(Release("B", "P"))
    assert str(err.value) == f"job B in child context P is not held (it is {status})"
    assert run.state is before


def test_release_twice_is_refused_the_second_time() -> None:
    run = Run(chain())
    run(Hold("B", "P"))
    run(Release("B", "P"))
    assert run.status("B", "P") is W
    with pytest.raises(FailedPrecondition, match=r"is not held \(it is WAITING\)"):
        run(Release("B", "P"))


def test_release_all_is_lenient_and_releases_only_what_is_held() -> None:
    run = Run(chain())
    run(Hold("B", "P"))
    effects = run(ReleaseAll("P"))
    changed = [(e.job_identifier, e.status) for e in effects if isinstance(e, JobStatusChanged)]
    assert changed == [("B", W)]
    assert not [e for e in run(ReleaseAll("P")) if isinstance(e, JobStatusChanged)]


def test_held_job_initiation_is_parked_and_release_re_emits_it() -> None:
    run = Run(chain())
    run(Hold("B", "P"))
    effects = run(ev("A"))
    assert raised_ids(effects) == []
    assert ("B", "P") in run.state.held_initiations
    effects = run(Release("B", "P"))
    inits = raised(effects)
    assert [i.job_identifier for i in inits] == ["B"]
    assert run.status("B", "P") is W and not run.state.held_initiations
    assert inits[0].catalyst is not None and inits[0].catalyst.job_name == "A"


def test_hold_of_raised_not_started_job_cancels_and_release_raises_anew() -> None:
    run = Run(chain())
    first = raised(run(ev("A")))[0]
    effects = run(Hold("B", "P"))
    cancels = [e for e in effects if isinstance(e, CancelInitiation)]
    assert [c.initiation_id for c in cancels] == [first.initiation_id]
    again = raised(run(Release("B", "P")))
    assert len(again) == 1 and again[0].initiation_id != first.initiation_id


def test_skip_gives_skipped_complete_when_logic_lets_it_run_else_skipped() -> None:
    run = Run(chain())
    run(Skip("A", "P"))  # a root job: no preceding jobs
    run(Skip("C", "P"))  # B not done yet
    assert run.status("A", "P") is Status.SKIPPED_COMPLETE
    assert run.status("C", "P") is Status.SKIPPED
    run(Skip("C", "P", skip=False))
    assert run.status("C", "P") is W


def test_skipped_job_is_raised_with_skipped_flag_and_ends_skipped_complete() -> None:
    run = Run(chain())
    run(Skip("B", "P"))
    inits = raised(run(ev("A")))
    assert [(i.job_identifier, i.skipped) for i in inits] == [("B", True)]
    run(ev("B", starting=True, skipped=True))
    assert run.status("B", "P") is Status.SKIPPED_RUNNING
    assert raised_ids(run(ev("B", skipped=True))) == ["C"]
    assert run.status("B", "P") is Status.SKIPPED_COMPLETE


def test_skipped_is_done_for_the_context_but_does_not_satisfy_logic() -> None:
    plan = build(ctx("P", ["A", "B"], {"A": None, "B": AND("A")}), [cmd("A"), cmd("B")])
    run = Run(plan)
    run(Skip("B", "P"))
    run(ev("A"))
    run(Skip("B", "P", skip=False))
    run(Skip("B", "P"))
    # B SKIPPED_COMPLETE now (A done); A complete; B outside logic and done
    assert run.ctx("P") is C
    plan2 = build(ctx("P", ["A", "B"], {"A": None, "B": AND("A")}), [cmd("A"), cmd("B")])
    run2 = Run(plan2)
    run2(Skip("A", "P", skip=True))
    run2(Skip("A", "P", skip=False))
    run2(ev("A", ok=False))
    run2(AcknowledgeError("A", "P"))
    run2(Skip("B", "P"))
    assert run2.status("B", "P") is Status.SKIPPED_COMPLETE  # acked error satisfies


def test_bulk_verbs_silently_ignore_other_states_and_external_jobs() -> None:
    run = Run(nested())
    run(ev("A"))  # A complete everywhere; B and E raised
    run(ev("B", starting=True))
    run(HoldAll("C1"))
    # A is driven from R (left alone), B runs (ignored), D waits in C11 (held)
    assert run.status("A", "C1") is C
    assert run.status("B", "C1") is R
    assert run.status("D", "C11") is Status.ON_HOLD
    run(ReleaseAll("C1"))
    assert run.status("D", "C11") is W
    run(SkipAll("R"))
    assert run.status("D", "C11") is Status.SKIPPED
    assert run.status("E", "C2") is Status.SKIPPED_COMPLETE
    assert run.status("B", "C1") is R
    run(SkipAll("R", skip=False))
    assert run.status("D", "C11") is W and run.status("E", "C2") is W


def test_reset_job_reraisable_and_drops_parked_downstream() -> None:
    run = Run(chain())
    run(Hold("B", "P"))
    run(ev("A"))
    assert ("B", "P") in run.state.held_initiations
    run(ResetJob("A", "P"))
    assert run.status("A", "P") is W and not run.state.job("A", "P").raised
    assert not run.state.held_initiations
    run(Release("B", "P"))
    assert raised_ids(run(ev("A"))) == ["B"]  # the dropped initiation never went out


def test_reset_after_completion_reopens_the_context() -> None:
    run = Run(chain())
    run.finish("A")
    run.finish("B")
    run.finish("C")
    assert run.ctx("P") is C
    run(ResetJob("C", "P"))
    assert run.ctx("P") is R
    effects = run(ev("B"))
    assert raised_ids(effects) == ["C"]


def test_kill_running_jobs() -> None:
    run = Run(chain())
    init = raised(run(ev("A")))[0]
    run(ev("B", starting=True, pid=4242))
    effects = run(KillRunningJobs(actor="ops"))
    kills = [e for e in effects if isinstance(e, KillJob)]
    assert [(k.job_identifier, k.pid, k.initiation_id) for k in kills] == [
        ("B", 4242, init.initiation_id)
    ]
    assert run.status("B", "P") is E and run.state.job("B", "P").killed
    assert run.ctx("P") is E
