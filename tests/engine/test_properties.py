"""Property tests on random plans and random input orders."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikasched_common.errors import FailedPrecondition
from ikasched_dashboard.engine.effects import Effect, RaiseInitiation
from ikasched_dashboard.engine.inputs import (
    AcknowledgeError,
    Hold,
    Input,
    KillRunningJobs,
    LockGranted,
    LockQueued,
    ManualRun,
    ProcessEvent,
    Release,
    ResetJob,
    RetryDue,
    Skip,
)
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import Grouping, JobDef, Operand, Plan, Status
from ikasched_dashboard.engine.snapshot import from_snapshot, to_snapshot
from ikasched_dashboard.engine.state import InstanceState

from .builder import build, cmd, ctx, lock

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"
EXAMPLES = 400 if LONG else 60
CONTEXTS = ("R", "C1", "C2")


@st.composite
def groupings(draw: st.DrawFn, pool: list[str], depth: int = 0) -> Grouping:
    def ops() -> tuple[Operand, ...]:
        n = draw(st.integers(0, min(3, len(pool))))
        out: list[Operand] = list(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)))
        if depth < 1 and draw(st.booleans()) and draw(st.booleans()):
            out.append(draw(groupings(pool, depth + 1)))
        return tuple(out)

    nested = (
        draw(groupings(pool, depth + 1)) if depth < 1 and draw(st.integers(0, 4)) == 0 else None
    )
    return Grouping(ops(), ops(), ops() if draw(st.booleans()) else (), nested)


@st.composite
def plans(draw: st.DrawFn, with_locks: bool = False) -> Plan:
    n = draw(st.integers(3, 8))
    names = [f"J{i}" for i in range(n)]
    # mostly in one context, so dependencies have something to depend on
    placement = {name: draw(st.sampled_from(("R", "R", "R", "C1", "C2"))) for name in names}
    jobs: list[JobDef] = [
        cmd(
            name,
            repeatable=draw(st.booleans()) and draw(st.booleans()),
            retry=draw(st.integers(0, 1)),
        )
        for name in names
    ]
    deps: dict[str, dict[str, Grouping | None]] = {c: {} for c in CONTEXTS}
    for i, name in enumerate(names):
        home = placement[name]
        earlier = [m for m in names[:i] if placement[m] == home]
        shape = draw(st.integers(0, 4))
        if earlier and shape in (1, 2):
            picked = tuple(draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=2)))
            deps[home][name] = (
                Grouping(all_of=picked) if draw(st.booleans()) else Grouping(any_of=picked)
            )
        elif earlier and shape > 2:
            deps[home][name] = draw(groupings(earlier))
        else:
            deps[home][name] = None
    members = {c: [m for m in names if placement[m] == c] for c in CONTEXTS}
    locks = []
    if with_locks:
        locked = draw(st.sampled_from(names))
        locks.append(lock("L", draw(st.integers(1, 2)), (locked, placement[locked])))
    root = ctx(
        "R",
        members["R"],
        deps["R"],
        contexts=[ctx("C1", members["C1"], deps["C1"]), ctx("C2", members["C2"], deps["C2"])],
        locks=locks,
    )
    return build(root, jobs)


Item = tuple[str, tuple[str, str], int]


def item_stream(plan: Plan, verbs: bool) -> st.SearchStrategy[list[Item]]:
    keys = sorted((j, c) for c in plan.order for j in plan.contexts[c].jobs)
    kinds = ["start", "ok", "fail", "astart", "aok", "aok", "afail"]
    if verbs:
        kinds += ["hold", "release", "skip", "unskip", "reset", "ack", "manual", "kill", "retry",
                  "granted", "queued", "resubmit"]  # fmt: skip
    item = st.tuples(st.sampled_from(kinds), st.sampled_from(keys), st.integers(0, 7))
    return st.lists(item, min_size=5, max_size=40)


class Driver:
    """Turns abstract items into inputs; "a*" items answer an initiation the machine raised
    (as an agent would), so random streams get deep into the plan."""

    def __init__(self) -> None:
        self.outstanding: list[RaiseInitiation] = []
        self.n = 0

    def saw(self, effects: tuple[Effect, ...]) -> None:
        self.outstanding.extend(e for e in effects if isinstance(e, RaiseInitiation))

    def convert(self, item: Item) -> Input:
        kind, (job, child), pick = item
        self.n += 1
        n = self.n
        if kind.startswith("a") and self.outstanding:
            init = self.outstanding[pick % len(self.outstanding)]
            if kind != "astart":
                self.outstanding.remove(init)
            return ProcessEvent(
                id=f"p{n}",
                agent_name=init.agent_name,
                job_name=init.job_name,
                job_identifier=init.job_identifier,
                child_context_names=init.child_context_names,
                successful=kind == "aok",
                job_starting=kind == "astart",
                skipped=init.skipped,
                initiation_id=init.initiation_id,
                output_parameters=((f"o{n}", "x"),),
                time_ms=n,
            )
        if kind in ("start", "ok", "fail", "resubmit") or kind.startswith("a"):
            return ProcessEvent(
                id=f"p{n}",
                agent_name="agent",
                job_name=job,
                job_identifier=job,
                successful=kind in ("ok", "aok"),
                job_starting=kind in ("start", "astart"),
                raised_due_to_failure_resubmission=kind == "resubmit",
                time_ms=n,
            )
        verbs_by_kind: dict[str, Callable[[], Input]] = {
            "hold": lambda: Hold(job, child, time_ms=n),
            "release": lambda: Release(job, child, time_ms=n),
            "skip": lambda: Skip(job, child, time_ms=n),
            "unskip": lambda: Skip(job, child, skip=False, time_ms=n),
            "reset": lambda: ResetJob(job, child, time_ms=n),
            "ack": lambda: AcknowledgeError(job, child, time_ms=n),
            "manual": lambda: ManualRun(job, child, actor="u", time_ms=n),
            "kill": lambda: KillRunningJobs(time_ms=n),
            "retry": lambda: RetryDue(job, child, 2, time_ms=n),
            "granted": lambda: LockGranted("i", job, child, time_ms=n),
            "queued": lambda: LockQueued("i", job, child, time_ms=n),
        }
        return verbs_by_kind[kind]()


def step(
    machine: ContextMachine, state: InstanceState, item: Input
) -> tuple[InstanceState, tuple[Effect, ...]]:
    try:
        return machine.apply(state, item)
    except FailedPrecondition:
        return state, ()


def drive(
    machine: ContextMachine, state: InstanceState, driver: Driver, items: list[Item]
) -> tuple[InstanceState, list[Effect]]:
    out: list[Effect] = []
    for item in items:
        state, effects = step(machine, state, driver.convert(item))
        driver.saw(effects)
        out.extend(effects)
    return state, out


SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(st.data())
def test_no_non_repeatable_job_raised_twice_and_complete_never_regressed(
    data: st.DataObject,
) -> None:
    plan = data.draw(plans())
    items = data.draw(item_stream(plan, verbs=False))
    machine = ContextMachine(plan)
    state = machine.new_instance("i")
    driver = Driver()
    raised: Counter[tuple[str, str]] = Counter()
    for item in items:
        before = state
        event = driver.convert(item)
        state, effects = step(machine, state, event)
        driver.saw(effects)
        for e in effects:
            if isinstance(e, RaiseInitiation) and e.attempt == 1:
                raised[(e.job_identifier, e.child_context_name)] += 1
        assert isinstance(event, ProcessEvent)
        if event.job_starting:
            for key, js in before.jobs.items():
                if js.status in (Status.COMPLETE, Status.SKIPPED_COMPLETE):
                    assert state.jobs[key].status is js.status
    for (job, _), count in raised.items():
        if not plan.jobs[job].repeatable:
            assert count == 1, (job, count)


@SETTINGS
@given(st.data())
def test_snapshot_after_any_prefix_gives_the_same_future(data: st.DataObject) -> None:
    plan = data.draw(plans(with_locks=data.draw(st.booleans())))
    items = data.draw(item_stream(plan, verbs=True))
    cut = data.draw(st.integers(0, len(items)))
    machine = ContextMachine(plan)
    params = (("p", "v"),)
    state, straight = drive(machine, machine.new_instance("i", parameters=params), Driver(), items)
    driver = Driver()
    resumed, before = drive(
        machine, machine.new_instance("i", parameters=params), driver, items[:cut]
    )
    resumed = from_snapshot(plan, json.loads(json.dumps(to_snapshot(resumed))))
    resumed, after = drive(machine, resumed, driver, items[cut:])
    assert resumed == state
    assert before + after == straight


@SETTINGS
@given(st.data())
def test_same_state_and_input_give_the_same_result(data: st.DataObject) -> None:
    plan = data.draw(plans(with_locks=True))
    items = data.draw(item_stream(plan, verbs=True))
    machine = ContextMachine(plan)
    state = machine.new_instance("i")
    driver = Driver()
    for item in items:
        event = driver.convert(item)
        frozen = to_snapshot(state)
        first = step(machine, state, event)
        second = step(machine, state, event)
        assert first == second
        assert to_snapshot(state) == frozen  # the old state is untouched
        state = first[0]
        driver.saw(first[1])
