"""Locks and global events across instances, through the coordinator (docs/semantics.md §7, §8)."""

from __future__ import annotations

from ikasched_dashboard.engine.coordinator import (
    Coordinator,
    Delivery,
    LiveInstance,
    RegisterInstance,
    UnregisterInstance,
)
from ikasched_dashboard.engine.effects import GlobalEvent, LockRelease, LockRequest
from ikasched_dashboard.engine.inputs import (
    End,
    Hold,
    LockGranted,
    LockQueued,
    Release,
    ReleaseQueuedJobs,
)
from ikasched_dashboard.engine.model import JobKind, LockClaim, Plan, Status
from ikasched_dashboard.engine.snapshot import coordinator_from_snapshot, coordinator_to_snapshot

from .builder import AND, Run, World, build, cmd, ctx, ev, lock, raised, raised_ids, virtual


def locked_plan(capacity: int = 1, group: str = "g", exclusive: bool = False) -> Plan:
    return build(
        ctx(
            "P",
            ["A", "L"],
            {"A": None, "L": AND("A")},
            locks=[lock("db", capacity, ("L", "P"), exclusive=exclusive)],
        ),
        [cmd("A"), cmd("L")],
        environment_group=group,
    )


def test_lock_queues_second_instance_and_releases_in_order() -> None:
    world = World()
    plan = locked_plan()
    for i in ("i1", "i2", "i3"):
        world.add(plan, i)
    for i in ("i1", "i2", "i3"):
        world.send(i, ev("A"))
    assert world.sent_jobs() == [("i1", "L")]
    assert world.runs["i2"].status("L", "P") is Status.LOCK_QUEUED
    assert world.runs["i3"].status("L", "P") is Status.LOCK_QUEUED
    world.send("i1", ev("L", starting=True))
    assert world.sent_jobs() == [("i1", "L")]  # a starting event does not release
    world.send("i1", ev("L"))
    assert world.sent_jobs() == [("i1", "L"), ("i2", "L")]
    assert world.runs["i2"].status("L", "P") is Status.WAITING
    assert world.runs["i3"].status("L", "P") is Status.LOCK_QUEUED
    world.send("i2", ev("L", ok=False))  # a failure releases too
    assert world.sent_jobs()[-1] == ("i3", "L")


def test_lock_capacity_and_weights() -> None:
    c = Coordinator()
    state = c.empty()
    heavy = (LockClaim("db", 3, False, 2),)
    light = (LockClaim("db", 3, False, 1),)
    state, out = c.apply(state, LockRequest("i1", "g", "H", "P", heavy))
    assert out == (LockGranted("i1", "H", "P"),)
    state, out = c.apply(state, LockRequest("i2", "g", "L", "P", light))
    assert out == (LockGranted("i2", "L", "P"),)
    state, out = c.apply(state, LockRequest("i3", "g", "H", "P", heavy))
    assert out == (LockQueued("i3", "H", "P"),)
    state, out = c.apply(state, LockRelease("i2", "g", "L", "P"))
    assert out == ()  # 2 + 2 > 3: still waiting
    state, out = c.apply(state, LockRelease("i1", "g", "H", "P"))
    assert out == (LockGranted("i3", "H", "P"),)


def test_exclusive_lock_blocks_every_other_and_drains_its_queue_first() -> None:
    c = Coordinator()
    state = c.empty()
    ex = (LockClaim("ex", 1, True, 1),)
    other = (LockClaim("other", 5, False, 1),)
    state, out = c.apply(state, LockRequest("i1", "g", "X", "P", ex))
    assert out == (LockGranted("i1", "X", "P"),)
    state, out = c.apply(state, LockRequest("i2", "g", "O", "P", other))
    assert out == (LockQueued("i2", "O", "P"),)
    state, out = c.apply(state, LockRequest("i3", "g", "X", "P", ex))
    assert out == (LockQueued("i3", "X", "P"),)
    state, out = c.apply(state, LockRequest("i4", "g", "O", "P", other))
    assert out == (LockQueued("i4", "O", "P"),)
    # a different environment group is a different world
    state, out = c.apply(state, LockRequest("j1", "h", "O", "P", other))
    assert out == (LockGranted("j1", "O", "P"),)
    state, out = c.apply(state, LockRelease("i1", "g", "X", "P"))
    assert out == (LockGranted("i3", "X", "P"),)  # own queue first
    state, out = c.apply(state, LockRelease("i3", "g", "X", "P"))
    assert out == (LockGranted("i2", "O", "P"),)  # then one waiter of each other queue
    state, out = c.apply(state, LockRelease("i2", "g", "O", "P"))
    assert out == (LockGranted("i4", "O", "P"),)
    restored = coordinator_from_snapshot(coordinator_to_snapshot(state))
    assert restored == state


def test_held_job_stays_held_when_the_lock_frees() -> None:
    world = World()
    plan = locked_plan()
    world.add(plan, "i1")
    world.add(plan, "i2")
    world.send("i1", ev("A"))
    world.send("i2", ev("A"))
    assert world.runs["i2"].status("L", "P") is Status.LOCK_QUEUED
    # LOCK_QUEUED cannot be held; hold it through a grant that arrives after a hold of i3
    world.add(plan, "i3")
    world.send("i3", Hold("L", "P"))
    world.send("i3", ev("A"))
    assert world.runs["i3"].status("L", "P") is Status.ON_HOLD
    assert ("L", "P") in world.runs["i3"].state.held_initiations  # parked, no lock asked
    world.send("i1", ev("L"))
    assert world.sent_jobs() == [("i1", "L"), ("i2", "L")]
    world.send("i2", ev("L"))
    assert world.runs["i3"].status("L", "P") is Status.ON_HOLD
    assert len(world.sent) == 2
    world.send("i3", Release("L", "P"))
    assert world.sent_jobs()[-1] == ("i3", "L")


def test_grant_reaching_a_held_job_is_given_back() -> None:
    run = Run(locked_plan())
    first = run(ev("A"))
    assert [type(e) for e in first if isinstance(e, LockRequest)] == [LockRequest]
    held = run(Hold("L", "P"))  # held while its lock request is in flight
    assert [e.cancel_queued for e in held if isinstance(e, LockRelease)] == [True]
    late = run(LockGranted("i1", "L", "P"))
    assert not raised(late)
    assert [e.job_identifier for e in late if isinstance(e, LockRelease)] == ["L"]
    assert run.status("L", "P") is Status.ON_HOLD
    assert raised_ids(run(Release("L", "P"))) == []  # released: asks for the lock again
    assert ("L", "P") in run.state.lock_pending


def test_release_queued_jobs_and_end_give_locks_back() -> None:
    world = World()
    plan = locked_plan()
    world.add(plan, "i1")
    world.add(plan, "i2")
    world.send("i1", ev("A"))
    world.send("i2", ev("A"))
    world.send("i2", ReleaseQueuedJobs(actor="ops"))
    assert world.sent_jobs() == [("i1", "L"), ("i2", "L")]
    assert world.runs["i2"].status("L", "P") is Status.WAITING
    world.add(plan, "i3")
    world.send("i3", ev("A"))
    assert world.runs["i3"].status("L", "P") is Status.LOCK_QUEUED
    world.send("i1", End())
    assert world.sent_jobs()[-1] == ("i3", "L")


def test_unregister_frees_the_instance_locks() -> None:
    c = Coordinator()
    state = c.empty()
    claim = (LockClaim("db", 1, False, 1),)
    state, _ = c.apply(state, LockRequest("i1", "g", "A", "P", claim))
    state, _ = c.apply(state, LockRequest("i2", "g", "A", "P", claim))
    state, out = c.apply(state, UnregisterInstance("i1"))
    assert out == (LockGranted("i2", "A", "P"),)


def global_plan(group: str, name: str = "ready") -> Plan:
    g = virtual(JobKind.GLOBAL, name)
    return build(
        ctx(
            "P",
            ["A", g.identifier, "B"],
            {"A": None, g.identifier: AND("A"), "B": AND(g.identifier)},
        ),
        [cmd("A"), g, cmd("B")],
        environment_group=group,
    )


def test_global_event_reaches_every_live_instance_of_the_group_only() -> None:
    world = World()
    blue = global_plan("blue")
    red = global_plan("red")
    for i in ("b1", "b2"):
        world.add(blue, i)
    world.add(red, "r1")
    world.send("b1", ev("A"))
    assert sorted(world.sent_jobs()) == [("b1", "B"), ("b2", "B")]
    assert world.runs["b2"].status("GLOBAL_EVENT-ready", "P") is Status.COMPLETE
    assert world.runs["r1"].status("GLOBAL_EVENT-ready", "P") is Status.WAITING


def test_global_event_skips_prepared_and_honours_ignore_group_and_skip() -> None:
    c = Coordinator()
    state = c.empty()
    for inst in (
        LiveInstance("a", "blue", frozenset({"ready"})),
        LiveInstance("b", "red", frozenset({"ready"})),
        LiveInstance("c", "blue", frozenset({"ready"}), prepared=True),
        LiveInstance("d", "blue", frozenset({"other"})),
    ):
        state, _ = c.apply(state, RegisterInstance(inst))
    base = GlobalEvent("a", "blue", "ready", "GLOBAL_EVENT-ready", False, False, "a:1")
    _, out = c.apply(state, base)
    assert [d.instance_id for d in out if isinstance(d, Delivery)] == ["a"]
    wide = GlobalEvent("a", "blue", "ready", "GLOBAL_EVENT-ready", False, True, "a:1")
    _, out = c.apply(state, wide)
    assert [d.instance_id for d in out if isinstance(d, Delivery)] == ["a", "b"]
    skipped = GlobalEvent("b", "red", "ready", "GLOBAL_EVENT-ready", True, True, "b:1")
    _, out = c.apply(state, skipped)
    assert [(d.instance_id, d.event.skipped) for d in out if isinstance(d, Delivery)] == [
        ("b", True)
    ]


def test_skipped_global_job_completes_only_its_own_instance_as_skipped() -> None:
    world = World()
    blue = global_plan("blue")
    world.add(blue, "b1")
    world.add(blue, "b2")
    from ikasched_dashboard.engine.inputs import Skip

    world.send("b1", Skip("GLOBAL_EVENT-ready", "P"))
    world.send("b1", ev("A"))
    # skipped global: SKIPPED before being raised, then the self-delivery keeps it skipped-complete
    assert world.runs["b1"].status("GLOBAL_EVENT-ready", "P") is Status.SKIPPED_COMPLETE
    assert world.runs["b2"].status("GLOBAL_EVENT-ready", "P") is Status.WAITING
    assert world.sent_jobs() == [("b1", "B")]


def test_exclusive_lock_waits_until_no_other_lock_is_held() -> None:
    c = Coordinator()
    state = c.empty()
    other = (LockClaim("other", 5, False, 1),)
    ex = (LockClaim("ex", 1, True, 1),)
    state, _ = c.apply(state, LockRequest("i1", "g", "O", "P", other))
    state, out = c.apply(state, LockRequest("i2", "g", "X", "P", ex))
    assert out == (LockQueued("i2", "X", "P"),)
    state, out = c.apply(state, LockRelease("i1", "g", "O", "P"))
    assert out == (LockGranted("i2", "X", "P"),)  # other queues' heads are tried on release


def test_waiter_on_two_locks_moves_to_the_lock_still_blocking_it() -> None:
    c = Coordinator()
    state = c.empty()
    a = LockClaim("a", 1, False, 1)
    b = LockClaim("b", 1, False, 1)
    state, _ = c.apply(state, LockRequest("i1", "g", "A", "P", (a,)))
    state, _ = c.apply(state, LockRequest("i2", "g", "B", "P", (b,)))
    state, out = c.apply(state, LockRequest("i3", "g", "AB", "P", (a, b)))
    assert out == (LockQueued("i3", "AB", "P"),)
    state, out = c.apply(state, LockRelease("i1", "g", "A", "P"))
    assert out == ()  # b still held: the waiter now waits on b
    assert [w.job_identifier for w in state.locks[("g", "b")].queue] == ["AB"]
    state, out = c.apply(state, LockRelease("i2", "g", "B", "P"))
    assert out == (LockGranted("i3", "AB", "P"),)
    assert {h.job_identifier for ls in state.locks.values() for h in ls.holders} == {"AB"}


def test_cancelled_waiter_leaves_the_queue() -> None:
    c = Coordinator()
    state = c.empty()
    claim = (LockClaim("db", 1, False, 1),)
    state, _ = c.apply(state, LockRequest("i1", "g", "A", "P", claim))
    state, _ = c.apply(state, LockRequest("i2", "g", "A", "P", claim))
    state, _ = c.apply(state, LockRequest("i3", "g", "A", "P", claim))
    state, out = c.apply(state, LockRelease("i2", "g", "A", "P", cancel_queued=True))
    assert out == ()
    state, out = c.apply(state, LockRelease("i1", "g", "A", "P"))
    assert out == (LockGranted("i3", "A", "P"),)
