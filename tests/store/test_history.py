"""The execution-history table on SQLite and PostgreSQL: filters, keyset pages newest first,
plan scoping, and a purge that removes only what ended before its cutoff."""

from __future__ import annotations

from sqlalchemy import Engine

from ikasched_dashboard.store import history
from ikasched_dashboard.store.db import write_transaction
from ikasched_dashboard.store.history import HistoryQuery, JobRun


def _run(n: int, **over: object) -> JobRun:
    base: dict[str, object] = {
        "plan_name": "pa" if n % 2 else "pb",
        "instance_id": f"i{n % 3}",
        "job_identifier": f"j{n % 4}",
        "status": "ERROR" if n % 5 == 0 else "COMPLETE",
        "agent_name": "a1" if n < 10 else "a2",
        "owner": "ops",
        "attempt": 1,
        "start_time": 1_000 * n,
        "end_time": 1_000 * n + 250 + n,
        "return_code": 3 if n % 5 == 0 else 0,
        "outcome_reason": "failed with return code 3" if n % 5 == 0 else "",
    }
    base.update(over)
    return JobRun(**base)  # type: ignore[arg-type]


def _fill(engine: Engine, count: int) -> list[JobRun]:
    runs = [_run(n) for n in range(1, count + 1)]
    with write_transaction(engine) as conn:
        history.insert_runs(conn, runs)
    return runs


def _all(engine: Engine, query: HistoryQuery, size: int) -> list[JobRun]:
    out: list[JobRun] = []
    before = 0
    while True:
        with engine.connect() as conn:
            page = history.list_runs(conn, query, before_id=before, limit=size)
        out.extend(page)
        if len(page) < size:
            return out
        before = page[-1].id


def test_filters_and_pages_return_each_matching_run_once_newest_first(engine: Engine) -> None:
    runs = _fill(engine, 23)
    every = _all(engine, HistoryQuery(), size=4)
    assert [r.end_time for r in every] == [r.end_time for r in reversed(runs)]
    assert len({r.id for r in every}) == 23
    first = every[-1]
    assert first.duration_ms == 251 and first.plan_name == "pa" and first.owner == "ops"

    errors = _all(engine, HistoryQuery(statuses=["ERROR"], plan_names=["pb"]), size=2)
    assert [r.end_time for r in errors] == [
        r.end_time for r in reversed(runs) if r.status == "ERROR" and r.plan_name == "pb"
    ]
    assert all(r.outcome_reason == "failed with return code 3" for r in errors)

    window = HistoryQuery(agent_name="a1", ended_after=3_000, ended_before=7_000)
    got = _all(engine, window, size=3)
    assert sorted(r.start_time for r in got) == [3_000, 4_000, 5_000, 6_000]

    one = HistoryQuery(instance_id="i1", job_identifier="j1")
    assert {(r.instance_id, r.job_identifier) for r in _all(engine, one, 5)} == {("i1", "j1")}


def test_a_plan_scoped_query_sees_only_its_plans(engine: Engine) -> None:
    _fill(engine, 10)
    seen = _all(engine, HistoryQuery(plans_visible=frozenset({"pa"})), size=3)
    assert len(seen) == 5 and {r.plan_name for r in seen} == {"pa"}
    asked = HistoryQuery(plan_names=["pb"], plans_visible=frozenset({"pa"}))
    assert _all(engine, asked, size=3) == []
    assert _all(engine, HistoryQuery(plans_visible=frozenset()), size=3) == []


def test_purge_removes_only_what_ended_before_the_cutoff(engine: Engine) -> None:
    runs = _fill(engine, 12)
    cutoff = runs[5].end_time  # runs 1..5 ended before it, run 6 exactly at it
    with write_transaction(engine) as conn:
        assert history.purge_ended_before(conn, cutoff, frozenset({"pb"})) == 2  # runs 2, 4
    with write_transaction(engine) as conn:
        assert history.purge_ended_before(conn, cutoff) == 3
    left = _all(engine, HistoryQuery(), size=50)
    assert sorted(r.start_time for r in left) == [1_000 * n for n in range(6, 13)]
    with write_transaction(engine) as conn:
        assert history.purge_ended_before(conn, cutoff) == 0
