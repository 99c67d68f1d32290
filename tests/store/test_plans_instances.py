"""Plans, instances, job instances and snapshots."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from sqlalchemy import Engine, event

from ikasched_common.errors import NotFound
from ikasched_dashboard.store import instances as inst
from ikasched_dashboard.store import plans
from ikasched_dashboard.store.db import read_transaction, write_transaction


def _save(
    engine: Engine, name: str, body: bytes, now: int, actor: str = "ops"
) -> plans.SaveOutcome:
    with write_transaction(engine) as conn:
        return plans.save_plan_version(
            conn,
            name=name,
            plan=body,
            plan_json=json.dumps({"contextName": name}),
            plan_hash="h-" + body.hex(),
            agent_names=["agent-b", "agent-a", "agent-b"],
            now=now,
            actor=actor,
        )


def test_plan_versions_are_kept_and_one_is_current(engine: Engine) -> None:
    assert _save(engine, "p1", b"\x01", 1000) == plans.SaveOutcome(1, created=True, unchanged=False)
    # The same plan again: nothing new.
    assert _save(engine, "p1", b"\x01", 2000) == plans.SaveOutcome(1, created=False, unchanged=True)
    assert _save(engine, "p1", b"\x02", 3000, "alice") == plans.SaveOutcome(
        2, created=False, unchanged=False
    )
    with read_transaction(engine) as conn:
        current = plans.get_plan(conn, "p1")
        first = plans.get_plan(conn, "p1", 1)
        assert plans.plan_version_numbers(conn, "p1") == [1, 2]
        assert plans.get_plan(conn, "p1", 3) is None
        assert plans.get_plan(conn, "nope") is None
    assert current is not None and first is not None
    assert (current.version, current.current, current.plan, current.updated_by) == (
        2,
        True,
        b"\x02",
        "alice",
    )
    assert (current.created_time, current.updated_time) == (1000, 3000)
    assert current.agent_names == ("agent-a", "agent-b")
    assert current.enabled
    assert (first.version, first.current, first.plan, first.updated_by) == (
        1,
        False,
        b"\x01",
        "ops",
    )


def test_going_back_to_an_older_plan_makes_a_new_version(engine: Engine) -> None:
    _save(engine, "p1", b"\x01", 1)
    _save(engine, "p1", b"\x02", 2)
    assert _save(engine, "p1", b"\x01", 3).version == 3


def test_plans_on_agent_matches_the_whole_name_only(engine: Engine) -> None:
    # the store narrows by text before the exact check: near names, wildcard characters,
    # case and non-ASCII must neither match nor hide a match
    fleet = {
        "p-plain": ["a1"],
        "p-under": ["a_1"],
        "p-percent": ["a%1"],
        "p-upper": ["A1"],
        "p-longer": ["a10", "xa1"],
        "p-accent": ["agént"],
        "p-both": ["a1", "a_1"],
    }
    for name, agents in fleet.items():
        with write_transaction(engine) as conn:
            plans.save_plan_version(
                conn,
                name=name,
                plan=name.encode(),
                plan_json=json.dumps({"contextName": name}),
                plan_hash="h-" + name,
                agent_names=agents,
                now=1,
                actor="ops",
            )
    with read_transaction(engine) as conn:
        assert plans.plans_on_agent(conn, "a1") == ["p-both", "p-plain"]
        assert plans.plans_on_agent(conn, "a_1") == ["p-both", "p-under"]
        assert plans.plans_on_agent(conn, "a%1") == ["p-percent"]
        assert plans.plans_on_agent(conn, "A1") == ["p-upper"]
        assert plans.plans_on_agent(conn, "agént") == ["p-accent"]
        assert plans.plans_on_agent(conn, "a") == []


def test_list_enable_disable_and_delete(engine: Engine) -> None:
    for name in ("alpha", "beta", "gamma_1", "gamma%2"):
        _save(engine, name, name.encode(), 10)
    with write_transaction(engine) as conn:
        assert plans.set_plan_enabled(conn, "beta", False, now=20, actor="bob")
        assert not plans.set_plan_enabled(conn, "nope", False, now=20, actor="bob")
    with read_transaction(engine) as conn:
        names = [p.name for p in plans.list_plans(conn)]
        assert names == ["alpha", "beta", "gamma%2", "gamma_1"]
        assert [p.name for p in plans.list_plans(conn, after_name="beta", limit=1)] == ["gamma%2"]
        # The filter is literal text: '%' and '_' are not wildcards.
        assert [p.name for p in plans.list_plans(conn, name_contains="a%")] == ["gamma%2"]
        beta = plans.get_plan(conn, "beta")
        assert beta is not None and not beta.enabled
        assert plans.plans_on_agent(conn, "agent-a") == names
        assert plans.plans_on_agent(conn, "agent-z") == []

    with write_transaction(engine) as conn:
        assert plans.delete_plan(conn, "alpha")
        assert not plans.delete_plan(conn, "alpha")
    with read_transaction(engine) as conn:
        assert plans.get_plan(conn, "alpha") is None
        assert plans.plan_version_numbers(conn, "alpha") == [1]
    # Provisioned again after the delete: a new plan, numbering continues.
    assert _save(engine, "alpha", b"again", 30) == plans.SaveOutcome(
        2, created=True, unchanged=False
    )


def _instance(i: int, plan: str = "p1", status: str = "WAITING") -> inst.InstanceRow:
    return inst.InstanceRow(
        id=f"inst-{i:03d}",
        plan_name=plan,
        plan_version=1,
        status=status,
        created_time=1000 + i,
        start_time=2000 + i,
        timezone="Europe/London",
        environment_group="prod",
        created_by="schedule",
    )


def _jobs(instance_id: str, n: int) -> list[inst.JobInstanceRow]:
    return [
        inst.JobInstanceRow(
            instance_id=instance_id,
            child_context="root",
            job_identifier=f"agent-a-job{j}",
            job_name=f"job{j}",
            agent_name="agent-a",
            job_type="COMMAND_EXECUTION",
            status="WAITING",
        )
        for j in range(n)
    ]


def test_instances_round_trip_and_bulk_update(engine: Engine) -> None:
    rows = [_instance(i) for i in range(5)]
    with write_transaction(engine) as conn:
        inst.insert_instances(conn, rows)
    changed = [
        dataclasses.replace(r, status="RUNNING", updated_time=5000, run_until_manually_ended=True)
        for r in rows[:3]
    ]
    with write_transaction(engine) as conn:
        inst.update_instances(conn, changed)
    with read_transaction(engine) as conn:
        assert inst.get_instance(conn, "inst-000") == changed[0]
        assert inst.get_instance(conn, "inst-004") == rows[4]
        assert inst.get_instance(conn, "missing") is None
    with pytest.raises(NotFound), write_transaction(engine) as conn:
        inst.update_instances(conn, [_instance(99)])


def test_list_instances_filters_and_pages_newest_first(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        inst.insert_instances(
            conn,
            [
                _instance(i, plan="p1" if i % 2 else "p2", status="ENDED" if i < 2 else "WAITING")
                for i in range(8)
            ],
        )
    with read_transaction(engine) as conn:
        ids = [r.id for r in inst.list_instances(conn)]
        assert ids == [f"inst-{i:03d}" for i in reversed(range(8))]
        assert [r.id for r in inst.list_instances(conn, plan_name="p1")] == [
            "inst-007",
            "inst-005",
            "inst-003",
            "inst-001",
        ]
        assert [r.id for r in inst.list_instances(conn, statuses=["ENDED"])] == [
            "inst-001",
            "inst-000",
        ]
        assert len(inst.list_instances(conn, excluding_statuses=["ENDED"])) == 6
        assert [
            r.id for r in inst.list_instances(conn, started_after=2003, started_before=2005)
        ] == ["inst-004", "inst-003"]
        first = inst.list_instances(conn, limit=3)
        last = first[-1]
        second = inst.list_instances(conn, limit=3, before=(last.created_time, last.id))
        assert [r.id for r in second] == ["inst-004", "inst-003", "inst-002"]
        assert inst.count_instances(conn) == {"p1": 3, "p2": 3}


def test_snapshots_are_versioned_and_loaded_for_live_instances(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        inst.insert_instances(conn, [_instance(1), _instance(2), _instance(3, status="ENDED")])
        inst.write_snapshots(conn, [("inst-001", b"s1"), ("inst-003", b"s3")])
    with write_transaction(engine) as conn:
        inst.write_snapshots(conn, [("inst-001", b"s1-later")])
    with read_transaction(engine) as conn:
        live = inst.load_snapshots(conn)
        everything = inst.load_snapshots(conn, excluding_statuses=())
        one = inst.get_snapshot(conn, "inst-001")
    # inst-002 has no snapshot yet; inst-003 has ended.
    assert [(s.id, s.snapshot, s.snapshot_version) for s in live] == [("inst-001", b"s1-later", 2)]
    assert [s.id for s in everything] == ["inst-001", "inst-003"]
    assert one is not None and one.snapshot == b"s1-later" and one.status == "WAITING"
    with pytest.raises(NotFound), write_transaction(engine) as conn:
        inst.write_snapshots(conn, [("missing", b"x")])


def test_job_instances_bulk_insert_update_and_queries(engine: Engine) -> None:
    jobs = _jobs("inst-001", 4)
    with write_transaction(engine) as conn:
        inst.insert_instances(conn, [_instance(1)])
        inst.insert_job_instances(conn, jobs)
    running = dataclasses.replace(
        jobs[1],
        status="RUNNING",
        initiation_raised=True,
        initiation_id="init-1",
        pid=4242,
        start_time=3000,
        attempts=1,
        status_reason="started",
    )
    errored = dataclasses.replace(
        jobs[2],
        status="ERROR_ACKNOWLEDGED",
        return_code=3,
        error_acknowledged=True,
        error_ack_message="known",
        error_ack_ticket="T-1",
        error_ack_user="alice",
        error_ack_time=4000,
    )
    with write_transaction(engine) as conn:
        inst.update_job_instances(conn, [running, errored])
    with read_transaction(engine) as conn:
        stored = inst.jobs_of_instance(conn, "inst-001")
        assert stored == sorted(
            [jobs[0], running, errored, jobs[3]], key=lambda j: j.job_identifier
        )
        assert inst.job_by_initiation(conn, "init-1") == running
        assert inst.job_by_initiation(conn, "init-404") is None
        assert inst.jobs_on_agent(conn, "agent-a", ["RUNNING"]) == [running]
        assert len(inst.jobs_on_agent(conn, "agent-a")) == 4
    with pytest.raises(NotFound), write_transaction(engine) as conn:
        inst.update_job_instances(conn, _jobs("inst-001", 5)[4:])


def test_deleting_an_instance_removes_its_jobs(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        inst.insert_instances(conn, [_instance(1), _instance(2)])
        inst.insert_job_instances(conn, _jobs("inst-001", 3) + _jobs("inst-002", 2))
    with write_transaction(engine) as conn:
        assert inst.delete_instances(conn, ["inst-001", "missing"]) == 1
    with read_transaction(engine) as conn:
        assert inst.jobs_of_instance(conn, "inst-001") == []
        assert len(inst.jobs_of_instance(conn, "inst-002")) == 2


def _save_on(engine: Engine, name: str, body: bytes, agents: list[str]) -> None:
    with write_transaction(engine) as conn:
        plans.save_plan_version(
            conn,
            name=name,
            plan=body * 4000,  # a plan blob of realistic size beside the agent list
            plan_json=json.dumps({"contextName": name}),
            plan_hash="h-" + body.hex(),
            agent_names=agents,
            now=1,
            actor="ops",
        )


def test_plans_on_agent_reads_the_covering_index_and_only_current_versions(
    engine: Engine,
) -> None:
    # an agent's hello asks this; on SQLite the primary key made it read every version's
    # row, blobs included (docs/benchmarks.md §4.4)
    _save_on(engine, "moved", b"\x01", ["agent-a"])
    _save_on(engine, "moved", b"\x02", ["agent-b"])  # current version: not on agent-a now
    _save_on(engine, "kept", b"\x03", ["agent-a"])
    statements: list[tuple[str, Any]] = []

    def seen(_c: object, _cur: object, stmt: str, params: Any, *_rest: object) -> None:
        statements.append((stmt, params))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with read_transaction(engine) as conn:
            assert plans.plans_on_agent(conn, "agent-a") == ["kept"]
            assert plans.plans_on_agent(conn, "agent-b") == ["moved"]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    if engine.dialect.name != "sqlite":
        return
    query, params = next(s for s in statements if "agent_names LIKE" in s[0])
    with engine.connect() as conn:
        steps = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", params).all()
    detail = " ".join(str(row[-1]) for row in steps)
    assert f"COVERING INDEX {plans.AGENTS_INDEX}" in detail, detail
