"""HistoryService over a real server and SQLite: listing pages newest first with a keyset
token, a plan-limited caller sees and purges only its plans' runs, and bad input is
INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine

from ikasched.v1 import common_pb2, history_service_pb2, history_service_pb2_grpc
from ikasched_common.errors import PermissionDenied
from ikasched_dashboard.store import history
from ikasched_dashboard.store.db import write_transaction
from ikasched_dashboard.store.history import JobRun

from .conftest import running
from .support import refused

Code = grpc.StatusCode
Req = history_service_pb2.ListJobRunsRequest


def _only_mine(plan_name: str) -> None:
    if plan_name != "mine":
        raise PermissionDenied(f"may not touch plan {plan_name!r}")


def _store(engine: Engine) -> None:
    runs = [
        JobRun(
            plan_name="mine" if n % 2 else "theirs",
            instance_id=f"i{n}",
            job_identifier="a-one",
            job_type="COMMAND",
            status="ERROR" if n == 3 else "COMPLETE",
            start_time=10_000 * n,
            end_time=10_000 * n + 1_500,
            return_code=3 if n == 3 else 0,
            outcome_reason="failed with return code 3" if n == 3 else "",
        )
        for n in range(1, 8)
    ]
    with write_transaction(engine) as conn:
        history.insert_runs(conn, runs)


async def test_pages_filters_and_bad_input(engine: Engine) -> None:
    _store(engine)
    async with running(engine) as d:
        stub = history_service_pb2_grpc.HistoryServiceStub(d.channel)  # type: ignore[no-untyped-call]
        seen: list[history_service_pb2.JobRun] = []
        request = Req(page=common_pb2.PageRequest(page_size=3))
        while True:
            page = await stub.ListJobRuns(request)
            seen.extend(page.runs)
            if not page.next_page_token:
                break
            request.page.page_token = page.next_page_token
        assert [r.context_instance_id for r in seen] == [f"i{n}" for n in range(7, 0, -1)]
        assert {r.duration_ms for r in seen} == {1_500}
        errors = await stub.ListJobRuns(Req(statuses=[common_pb2.ERROR]))
        assert [(r.context_instance_id, r.return_code) for r in errors.runs] == [("i3", 3)]
        assert errors.runs[0].outcome_reason == "failed with return code 3"
        assert errors.runs[0].job_type == common_pb2.INTERNAL_EVENT_DRIVEN
        await refused(
            stub.ListJobRuns(Req(statuses=[common_pb2.RUNNING])),
            Code.INVALID_ARGUMENT,
            "statuses[0]",
        )
        await refused(stub.ListJobRuns(Req(ended_after=-1)), Code.INVALID_ARGUMENT, "ended_after")
        await refused(
            stub.ListJobRuns(Req(ended_after=5, ended_before=5)),
            Code.INVALID_ARGUMENT,
            "ended_before",
        )
        await refused(
            stub.ListJobRuns(Req(page=common_pb2.PageRequest(page_token="bm9wZQ=="))),
            Code.INVALID_ARGUMENT,
            "page.page_token",
        )
        await refused(
            stub.PurgeHistory(history_service_pb2.PurgeHistoryRequest()),
            Code.INVALID_ARGUMENT,
            "ended_before",
        )


async def test_a_plan_limited_caller_sees_and_purges_only_its_plans(engine: Engine) -> None:
    _store(engine)
    async with running(
        engine, plan_access=_only_mine, visible_plans=lambda: frozenset({"mine"})
    ) as d:
        stub = history_service_pb2_grpc.HistoryServiceStub(d.channel)  # type: ignore[no-untyped-call]
        listed = await stub.ListJobRuns(Req())
        assert {r.context_name for r in listed.runs} == {"mine"} and len(listed.runs) == 4
        await refused(
            stub.ListJobRuns(Req(context_names=["theirs"])), Code.PERMISSION_DENIED, "theirs"
        )
        purged = await stub.PurgeHistory(
            history_service_pb2.PurgeHistoryRequest(ended_before=10**12)
        )
        assert purged.deleted == 4
    async with running(engine) as admin:
        stub = history_service_pb2_grpc.HistoryServiceStub(admin.channel)  # type: ignore[no-untyped-call]
        left = await stub.ListJobRuns(Req())
        assert {r.context_name for r in left.runs} == {"theirs"} and len(left.runs) == 3


async def test_job_stats_count_each_jobs_last_runs(engine: Engine) -> None:
    # job x: 20 runs of 100, 200, ... 2000 ms (the 7th failed); y: one run never seen starting
    runs = [
        JobRun(
            plan_name="mine",
            instance_id=f"x{n}",
            job_identifier="x",
            status="ERROR" if n == 7 else "COMPLETE",
            start_time=1_000_000 * n,
            end_time=1_000_000 * n + 100 * n,
        )
        for n in range(1, 21)
    ]
    runs.append(
        JobRun(
            plan_name="theirs", instance_id="y1", job_identifier="y", status="KILLED", end_time=5
        )
    )
    with write_transaction(engine) as conn:
        history.insert_runs(conn, runs)
    stats_req = history_service_pb2.GetJobStatsRequest
    async with running(engine) as d:
        stub = history_service_pb2_grpc.HistoryServiceStub(d.channel)  # type: ignore[no-untyped-call]
        every = (await stub.GetJobStats(stats_req())).stats
        assert [(s.context_name, s.job_identifier) for s in every] == [
            ("mine", "x"),
            ("theirs", "y"),
        ]
        x, y = every
        assert (x.runs, x.failures, x.timed_runs) == (20, 1, 20)
        assert (x.mean_ms, x.p50_ms, x.p95_ms, x.max_ms) == (1050, 1000, 1900, 2000)
        assert x.last_end_time == 20_000_000 + 2000
        assert (y.runs, y.failures, y.timed_runs, y.p95_ms) == (1, 1, 0, 0)
        last5 = (await stub.GetJobStats(stats_req(job_identifier="x", last_runs=5))).stats
        assert [(s.runs, s.failures, s.p50_ms, s.p95_ms) for s in last5] == [(5, 0, 1800, 2000)]
        assert len((await stub.GetJobStats(stats_req(context_name="theirs"))).stats) == 1
        await refused(stub.GetJobStats(stats_req(last_runs=-1)), Code.INVALID_ARGUMENT, "last_runs")
        await refused(
            stub.GetJobStats(stats_req(last_runs=10_001)), Code.INVALID_ARGUMENT, "last_runs"
        )
    async with running(
        engine, plan_access=_only_mine, visible_plans=lambda: frozenset({"mine"})
    ) as scoped:
        stub = history_service_pb2_grpc.HistoryServiceStub(scoped.channel)  # type: ignore[no-untyped-call]
        assert [s.context_name for s in (await stub.GetJobStats(stats_req())).stats] == ["mine"]
        await refused(
            stub.GetJobStats(stats_req(context_name="theirs")), Code.PERMISSION_DENIED, "theirs"
        )
