"""The agent's registry: what it accepts, what it refuses, and that its journal replays to the
same state (also after compaction and after a crash between two writes)."""

from __future__ import annotations

from pathlib import Path

from ikasched.v1 import agent_pb2
from ikasched_agent import registry as registry_module
from ikasched_agent.registry import HeldInitiations, Registry, RegistryLog
from ikasched_common.journal import DiskJournal, MemoryJournal

from .support import AGENT, Msg, activate, activation, command_job, initiation, provision


def _state(reg: Registry) -> tuple[object, ...]:
    return (
        {n: (p.plan_version, p.timezone, sorted(p.jobs)) for n, p in reg.plans.items()},
        {i: a.SerializeToString() for i, a in reg.instances.items()},
        (reg.dry_run.agent_wide, dict(reg.dry_run.per_job), reg.dry_run.files),
    )


def test_check_refuses_what_this_agent_must_not_run() -> None:
    reg = Registry(AGENT)
    job = command_job("j")
    timer = command_job("t")
    timer.ClearField("internal_event_driven_job")
    timer.quartz_schedule_driven_job.cron_expression = "0 * * * * ?"
    reg.apply(provision(job, timer))
    limited = activation("i2")
    limited.job_identifiers.append("a1-other")
    reg.apply(activate("i1"))
    reg.apply(Msg(activate_instance=limited))

    assert reg.check(initiation("ok", job).initiation) is None
    cases = {
        "not provisioned": initiation("x", command_job("nope")).initiation,
        "not a command job": initiation("x", timer).initiation,
        "takes no part": initiation("x", job, instance="i2").initiation,
    }
    for words, init in cases.items():
        refusal = reg.check(init)
        assert refusal is not None and words in refusal.reason, (words, refusal)
    # an instance the registry does not hold: the initiation is the dashboard's word (the link
    # is ordered), so it runs rather than failing a job the dashboard considers due
    assert reg.check(initiation("x", job, instance="i9").initiation) is None
    foreign = initiation("x", job).initiation
    foreign.agent_name = "a2"
    refusal = reg.check(foreign)
    assert refusal is not None and "'a2'" in refusal.reason


def test_dry_run_per_job_wins_over_agent_wide_and_instances_simulate() -> None:
    reg = Registry(AGENT)
    job = command_job("j")
    other = command_job("k")
    reg.apply(provision(job, other))
    dry_instance = activation("i2")
    dry_instance.dry_run = True
    dry_instance.dry_run_parameters.fixed_execution_time_millis = 5
    reg.apply(activate("i1"))
    reg.apply(Msg(activate_instance=dry_instance))
    mode = agent_pb2.SetDryRunMode(dry_run_mode=True, job_dry_run={"j": False})
    reg.apply(Msg(set_dry_run_mode=mode))

    plain = initiation("a", job).initiation
    assert reg.prepare(plain) is plain and not plain.dry_run
    simulated = reg.prepare(initiation("b", other).initiation)
    assert simulated.dry_run
    in_dry_instance = reg.prepare(initiation("c", job, instance="i2").initiation)
    assert in_dry_instance.dry_run
    assert in_dry_instance.dry_run_parameters.fixed_execution_time_millis == 5


def test_sync_reports_added_and_removed_instances() -> None:
    reg = Registry(AGENT)
    for iid in ("i1", "i2"):
        reg.apply(activate(iid))
    change = reg.apply(
        Msg(sync_instances=agent_pb2.SyncInstances(instances=[activation("i2"), activation("i3")]))
    )
    assert change.instances_removed == ("i1",) and change.instances_added == ("i3",)
    assert sorted(reg.instances) == ["i2", "i3"]
    assert reg.apply(Msg(remove_instance=agent_pb2.RemoveInstance(context_instance_id="i2")))
    assert sorted(reg.instances) == ["i3"]
    gone = reg.apply(Msg(remove_plan_jobs=agent_pb2.RemovePlanJobs(context_name="nothing")))
    assert gone.plans_removed == ()


def test_log_replays_and_compacts_to_the_same_state(tmp_path: Path) -> None:
    reg = Registry(AGENT)
    journal = DiskJournal(tmp_path / "store", prefix="registry")
    log = RegistryLog(journal)
    messages: list[Msg] = []
    for n in range(40):
        messages.append(provision(command_job(f"j{n % 3}", f"echo {n}"), plan=f"p{n % 5}"))
        messages.append(activate(f"i{n}", plan=f"p{n % 5}"))
        if n % 4 == 0:
            messages.append(
                Msg(remove_instance=agent_pb2.RemoveInstance(context_instance_id=f"i{n}"))
            )
        if n % 7 == 0:
            messages.append(
                Msg(remove_plan_jobs=agent_pb2.RemovePlanJobs(context_name=f"p{n % 5}"))
            )
    messages.append(Msg(set_dry_run_mode=agent_pb2.SetDryRunMode(job_dry_run={"j1": True})))
    for message in messages:
        reg.apply(message)
    log.record(messages)

    replayed = Registry(AGENT)
    assert RegistryLog(DiskJournal(tmp_path / "store", prefix="registry")).load(replayed) == len(
        messages
    )
    assert _state(replayed) == _state(reg)

    snapshot = reg.snapshot()
    log.compact(snapshot)
    assert len(journal) == len(snapshot) < len(messages)
    compacted = Registry(AGENT)
    RegistryLog(journal).load(compacted)
    assert _state(compacted) == _state(reg)
    assert not log.needs_compaction(len(snapshot))
    # a log grown past the slack asks for compaction
    grown = RegistryLog(MemoryJournal())
    grown.record([activate("i1")] * (registry_module.COMPACT_SLACK + 4))
    assert grown.needs_compaction(3) and not grown.needs_compaction(10)


def test_held_initiations_survive_reopen_and_drop_duplicates(tmp_path: Path) -> None:
    job = command_job("j")
    journal = DiskJournal(tmp_path / "store", prefix="held")
    held = HeldInitiations(journal)
    first = [initiation(f"n{i}", job).initiation for i in range(5)]
    assert [i.id for i in held.add(first)] == [f"n{i}" for i in range(5)]
    assert held.add(first[:2]) == []  # already held
    assert held.release(["n1", "n3", "nope"]) == 2
    # a crash between a hold and its release can leave a second copy of an id behind
    journal.append([first[0].SerializeToString()])

    again = HeldInitiations(DiskJournal(tmp_path / "store", prefix="held"))
    assert [i.id for i in again.load()] == ["n0", "n2", "n4"]
    assert len(journal) == 3
    assert again.of_instance("i1") == ["n0", "n2", "n4"] and again.of_instance("i2") == []
    got = again.get("n2")
    assert got is not None and got.internal_event_driven_job.command_line == "true"
    assert "n4" in again and "n1" not in again


def test_hold_and_take_is_one_transaction_and_a_failed_one_leaves_nothing_held(
    tmp_path: Path,
) -> None:
    """The consumer holds initiations, records registry changes and removes their inbox items
    together; when that transaction fails, neither the disk nor the in-memory index keeps the
    hold (else the replay would skip the initiation and it would never run)."""
    from ikasched_agent.journals import AgentJournals

    store = DiskJournal(tmp_path / "journal", prefix="inbox")
    outbox = DiskJournal(tmp_path / "outbox", prefix="outbox")
    try:
        journals = AgentJournals(store, outbox)
        job = command_job("j")
        first, second = initiation("i-1", job).initiation, initiation("i-2", job).initiation
        keys = store.append([b"provision", first.SerializeToString(), second.SerializeToString()])

        def broken_remove(_keys: object, _meta: object = None) -> int:
            raise OSError("disk gone")

        real_remove = store.remove
        store.remove = broken_remove  # type: ignore[method-assign,assignment]
        try:
            journals.hold_and_take([first], keys[:2], [provision(job)])
        except OSError:
            pass
        else:
            raise AssertionError("the failure must propagate")
        store.remove = real_remove  # type: ignore[method-assign]
        assert "i-1" not in journals.held
        assert HeldInitiations(journals.held_journal).load() == []
        assert len(journals.registry_journal) == 0
        assert len(store) == 3

        new = journals.hold_and_take([first, second], keys, [provision(job)])
        assert [i.id for i in new] == ["i-1", "i-2"]
        assert len(store) == 0
        assert len(journals.registry_journal) == 1
        assert sorted(i.id for i in HeldInitiations(journals.held_journal).load()) == ["i-1", "i-2"]
    finally:
        store.close()
        outbox.close()


def test_an_older_plan_version_never_replaces_a_newer_one() -> None:
    """A reconnect's provisioning can be read before a newer version was queued and land after
    it; the agent keeps the newer jobs."""
    reg = Registry(AGENT)
    newer = provision(command_job("j"), command_job("k"))
    newer.provision_jobs.plan_version = 3
    older = provision(command_job("j"))
    older.provision_jobs.plan_version = 2
    reg.apply(newer)
    reg.apply(older)
    assert reg.plans["plan1"].plan_version == 3
    assert sorted(reg.plans["plan1"].jobs) == ["a1-j", "a1-k"]
    newest = provision(command_job("j"))
    newest.provision_jobs.plan_version = 4
    reg.apply(newest)
    assert reg.plans["plan1"].plan_version == 4 and sorted(reg.plans["plan1"].jobs) == ["a1-j"]
