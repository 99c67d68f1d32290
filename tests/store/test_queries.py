"""The cross-instance queries (jobs over every instance, the audit trail) and migration 0003's
audit kinds, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine, text

from ikasched_dashboard.store import changes, db, queries
from ikasched_dashboard.store import instances as inst
from ikasched_dashboard.store.changes import AuditEntry
from ikasched_dashboard.store.db import read_transaction, write_transaction


def _instance(
    iid: str, plan: str, status: str, *, owner: str = "", start: int = 0
) -> inst.InstanceRow:
    return inst.InstanceRow(
        id=iid,
        plan_name=plan,
        plan_version=1,
        status=status,
        created_time=10,
        start_time=start,
        owner=owner,
    )


def _job(
    iid: str, ident: str, status: str, *, agent: str = "a", start: int = 0, end: int = 0
) -> inst.JobInstanceRow:
    return inst.JobInstanceRow(
        instance_id=iid,
        child_context="root",
        job_identifier=ident,
        job_type="COMMAND",
        status=status,
        agent_name=agent,
        start_time=start,
        end_time=end,
        outcome_reason="timed out after 1 s" if status == "ERROR" else "",
        last_event=b"\x01\x02",
    )


def _fill(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        inst.insert_instances(
            conn,
            [
                _instance("i1", "p1", "RUNNING", owner="ops", start=100),
                _instance("i2", "p2", "ERROR", owner="dev", start=200),
                _instance("i3", "p1", "ENDED", owner="ops", start=50),
                _instance("i4", "p1", "PREPARED", owner="ops"),
            ],
        )
        inst.insert_job_instances(
            conn,
            [
                _job("i1", "j-err", "ERROR", start=110, end=150),
                _job("i1", "j-run", "RUNNING", agent="b", start=120),
                _job("i1", "j-wait", "WAITING"),
                _job("i2", "j-err", "ERROR", start=210, end=300),
                _job("i3", "j-err", "ERROR", start=60, end=70),
                _job("i4", "j-err", "WAITING"),
            ],
        )


def _keys(rows: list[queries.JobListing]) -> list[tuple[str, str]]:
    return [(r.job.instance_id, r.job.job_identifier) for r in rows]


def test_jobs_across_instances_by_status_plan_agent_owner_and_time(engine: Engine) -> None:
    _fill(engine)
    with read_transaction(engine) as conn:
        q = queries.JobQuery
        errors = queries.list_jobs(conn, q(statuses=["ERROR"]))
        # newest "since" first: the end of the last run, else its start, else the instance's
        assert _keys(errors) == [("i2", "j-err"), ("i1", "j-err")]
        assert [r.since for r in errors] == [300, 150]
        assert errors[0].plan_name == "p2" and errors[0].instance_status == "ERROR"
        assert errors[0].job.outcome_reason == "timed out after 1 s"
        assert errors[0].job.last_event is None  # a listing never carries the event
        assert _keys(queries.list_jobs(conn, q(statuses=["ERROR"], include_ended=True)))[-1] == (
            "i3",
            "j-err",
        )
        assert _keys(queries.list_jobs(conn, q(agent_name="b"))) == [("i1", "j-run")]
        assert _keys(queries.list_jobs(conn, q(owner="dev"))) == [("i2", "j-err")]
        assert {k for k in _keys(queries.list_jobs(conn, q(plan_names=["p1"])))} == {
            ("i1", "j-err"),
            ("i1", "j-run"),
            ("i1", "j-wait"),
        }  # never the PREPARED one, nor ENDED unless asked
        waiting = queries.list_jobs(conn, q(statuses=["WAITING"]))
        assert [r.since for r in waiting] == [100]  # the instance's start
        assert _keys(queries.list_jobs(conn, q(since_after=120, since_before=300))) == [
            ("i1", "j-err"),
            ("i1", "j-run"),
        ]
        # a plan-limited token's plans are part of the query
        assert {r.plan_name for r in queries.list_jobs(conn, q(plans_visible=["p2"]))} == {"p2"}
        assert queries.list_jobs(conn, q(plans_visible=[])) == []


def test_job_pages_neither_repeat_nor_skip(engine: Engine) -> None:
    _fill(engine)
    with read_transaction(engine) as conn:
        query = queries.JobQuery(include_ended=True)
        everything = queries.list_jobs(conn, query, limit=100)
        seen: list[queries.JobListing] = []
        after = None
        while True:
            page = queries.list_jobs(conn, query, after=after, limit=2)
            if not page:
                break
            seen += page
            after = page[-1].key
    assert _keys(seen) == _keys(everything) and len(everything) == 5


def _entry(n: int, **kw: str) -> AuditEntry:
    values = {
        "time": 1000 + n,
        "instance_id": "i1",
        "plan_name": "p1",
        "from_status": "",
        "to_status": "",
        **kw,
    }
    return AuditEntry(**values)  # type: ignore[arg-type]


def test_audit_by_instance_job_actor_kind_and_time(engine: Engine) -> None:
    entries = [
        _entry(0, to_status="WAITING", cause="create", actor="alice", detail="instance created"),
        _entry(
            1,
            from_status="WAITING",
            to_status="RUNNING",
            job_identifier="j",
            cause="e1",
            actor="agent:a",
        ),
        _entry(2, job_identifier="j", cause="verb:kill", actor="bob", detail="kill"),
        _entry(
            3,
            job_identifier="j",
            cause="verb:acknowledge",
            actor="bob",
            detail="acknowledge-error ticket T-1: disk",
        ),
        _entry(
            4,
            instance_id="",
            plan_name="p1",
            cause="missed-run",
            actor="schedule",
            detail="missed window start",
        ),
        _entry(5, cause="m-1", actor="agent:a", detail="alert: overdue"),
        _entry(6, cause="e9", actor="agent:a", detail="event dropped: instance ENDED"),
        _entry(
            7, instance_id="i2", plan_name="p2", cause="verb:hold", actor="carol", detail="hold"
        ),
        _entry(
            8,
            instance_id="",
            plan_name="p1",
            cause="window",
            actor="schedule",
            detail="window start skipped",
        ),
    ]
    with write_transaction(engine) as conn:
        changes.append_audit(conn, entries)
    with read_transaction(engine) as conn:
        q = queries.AuditQuery
        every = queries.list_audit(conn, q())
        assert [c.entry.kind for c in every] == [
            "context",
            "job",
            "verb",
            "ack",
            "missed-run",
            "alert",
            "event-dropped",
            "verb",
            "note",
        ]
        assert [c.entry.time for c in queries.list_audit(conn, q(instance_id="i1"))] == [
            1000,
            1001,
            1002,
            1003,
            1005,
            1006,
        ]
        assert [c.entry.detail for c in queries.list_audit(conn, q(kinds=["ack"]))] == [
            "acknowledge-error ticket T-1: disk"
        ]
        assert [c.entry.actor for c in queries.list_audit(conn, q(actor="bob"))] == ["bob"] * 2
        assert len(queries.list_audit(conn, q(job_identifier="j"))) == 3
        assert [
            c.entry.time for c in queries.list_audit(conn, q(after_time=1004, before_time=1006))
        ] == [1004, 1005]
        assert {c.entry.plan_name for c in queries.list_audit(conn, q(plans_visible=["p2"]))} == {
            "p2"
        }
        assert queries.list_audit(conn, q(plans_visible=[])) == []
        # keyset pages over positions
        first = queries.list_audit(conn, q(), limit=4)
        rest = queries.list_audit(conn, q(), after=first[-1].position)
        assert [c.position for c in first + rest] == [c.position for c in every]


def test_migration_0003_tells_old_audit_rows_apart(empty_url: str) -> None:
    db.upgrade(empty_url, "0002")
    engine = db.create_engine_for(empty_url)
    try:
        rows = [
            ("WAITING", "RUNNING", "j", "e1", "agent:a", ""),
            ("", "WAITING", "", "create", "alice", "instance created"),
            ("", "", "j", "verb:kill", "bob", "kill"),
            ("", "", "j", "verb:acknowledge", "bob", "acknowledge-error T-1 disk"),
            ("", "", "", "missed-run", "schedule", "missed window start"),
            ("", "", "", "m-1", "agent:a", "alert: overdue"),
            ("", "", "", "e9", "agent:a", "event dropped: unknown instance"),
            ("", "", "", "window", "schedule", "skipped"),
        ]
        with engine.begin() as conn:
            for n, (f, t, j, cause, actor, detail) in enumerate(rows, start=1):
                conn.execute(
                    text(
                        "INSERT INTO audit (position, time, instance_id, plan_name, "
                        "job_identifier, child_context, from_status, to_status, cause, actor, "
                        "detail) VALUES (:p, 1, 'i', 'p', :j, '', :f, :t, :c, :a, :d)"
                    ),
                    {"p": n, "j": j, "f": f, "t": t, "c": cause, "a": actor, "d": detail},
                )
        db.upgrade(empty_url)
        with engine.connect() as conn:
            kinds = [k for (k,) in conn.execute(text("SELECT kind FROM audit ORDER BY position"))]
        assert kinds == [
            "job",
            "context",
            "verb",
            "ack",
            "missed-run",
            "alert",
            "event-dropped",
            "note",
        ]
        # the classification new rows get is the same
        back = [
            changes.audit_kind(
                AuditEntry(1, "i", "p", f, t, job_identifier=j, cause=c, actor=a, detail=d)
            )
            for f, t, j, c, a, d in rows
        ]
        assert back == kinds
    finally:
        engine.dispose()
