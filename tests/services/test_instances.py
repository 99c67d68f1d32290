"""InstanceService through the generated SDK on a live server, watch streams included."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import grpc
from sqlalchemy import Engine

from ikasched.v1 import (
    common_pb2,
    instance_service_pb2,
    job_service_pb2,
    plan_service_pb2,
)
from ikasched_common.blackout import epoch_ms
from ikasched_dashboard.engine.inputs import ProcessEvent
from ikasched_dashboard.store import missed_runs as missed_store
from ikasched_dashboard.store.db import write_transaction

from .conftest import Dashboard, running
from .support import plan, refused

Code = grpc.StatusCode
Req = instance_service_pb2


async def setup(d: Dashboard, **fields: object) -> str:
    await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan(**fields)))
    created = await d.instances.CreateInstance(
        Req.CreateInstanceRequest(
            context_name="daily",
            context_parameters=[common_pb2.ContextParameterInstance(name="REGION", value="us")],
        )
    )
    return str(created.id)


def job_ref(iid: str, ident: str, child: str = "") -> common_pb2.JobRef:
    return common_pb2.JobRef(
        context_instance_id=iid, job_identifier=ident, child_context_name=child
    )


async def test_create_and_get(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        got = await d.instances.GetInstance(Req.GetInstanceRequest(context_instance_id=iid))
        assert got.context_name == "daily" and got.status == common_pb2.WAITING
        assert got.created_by == "alice" and got.plan_version == 1
        assert got.timezone == "Europe/London"
        params = {p.name: (p.value, p.secret) for p in got.context_parameters}
        assert params == {"REGION": ("us", False), "PASSWORD": ("***", True)}
        assert [(c.context_name, c.depth, c.status) for c in got.contexts] == [
            ("daily", 0, common_pb2.WAITING)
        ]
        jobs = {j.identifier: j for j in got.jobs}
        assert set(jobs) == {"a-one", "a-two", "b-tick"}
        assert jobs["a-one"].job_type == common_pb2.INTERNAL_EVENT_DRIVEN
        assert jobs["b-tick"].job_type == common_pb2.QUARTZ_SCHEDULE_DRIVEN
        assert jobs["a-two"].status_reason == "waiting for: a-one"
        assert jobs["a-one"].status_reason.startswith("root job")
        # manual create, non-concurrent: ends before the next window start (06:00) - 1 min
        assert got.projected_end_time == epoch_ms(datetime(2026, 3, 2, 5, 59, tzinfo=UTC))


async def test_create_refusals(engine: Engine) -> None:
    async with running(engine) as d:
        await refused(
            d.instances.CreateInstance(Req.CreateInstanceRequest()),
            Code.INVALID_ARGUMENT,
            "context_name: required",
        )
        await refused(
            d.instances.CreateInstance(Req.CreateInstanceRequest(context_name="x")),
            Code.NOT_FOUND,
            "plan 'x'",
        )
        await setup(d)
        await refused(
            d.instances.CreateInstance(Req.CreateInstanceRequest(context_name="daily")),
            Code.FAILED_PRECONDITION,
            "not able to run concurrently",
        )
        await refused(
            d.instances.CreateInstance(
                Req.CreateInstanceRequest(
                    context_name="daily",
                    context_parameters=[common_pb2.ContextParameterInstance(value="x")],
                )
            ),
            Code.INVALID_ARGUMENT,
            "context_parameters[0].name: required",
        )
        await refused(
            d.instances.GetInstance(Req.GetInstanceRequest()),
            Code.INVALID_ARGUMENT,
            "context_instance_id: required",
        )
        await refused(
            d.instances.GetInstance(Req.GetInstanceRequest(context_instance_id="no")),
            Code.NOT_FOUND,
            "no",
        )


async def test_list_filters_and_pages(engine: Engine) -> None:
    async with running(engine) as d:
        ids = [await setup(d, able_to_run_concurrently=True)]
        for _ in range(2):
            d.clock.set(datetime(2026, 3, 2, 0, len(ids), tzinfo=UTC))
            created = await d.instances.CreateInstance(
                Req.CreateInstanceRequest(context_name="daily")
            )
            ids.append(created.id)
        await d.instances.EndInstance(Req.EndInstanceRequest(context_instance_id=ids[0]))
        live = await d.instances.ListInstances(Req.ListInstancesRequest())
        assert [i.id for i in live.instances] == [ids[2], ids[1]]
        assert all(not i.jobs for i in live.instances)
        every = await d.instances.ListInstances(
            Req.ListInstancesRequest(
                include_ended=True, include_prepared=True, page=common_pb2.PageRequest(page_size=2)
            )
        )
        assert [i.id for i in every.instances] == [ids[2], ids[1]] and every.next_page_token
        rest = await d.instances.ListInstances(
            Req.ListInstancesRequest(
                include_ended=True,
                include_prepared=True,
                page=common_pb2.PageRequest(page_size=2, page_token=every.next_page_token),
            )
        )
        assert ids[0] in [i.id for i in rest.instances]
        ended = await d.instances.ListInstances(
            Req.ListInstancesRequest(statuses=[common_pb2.ENDED])
        )
        assert [i.id for i in ended.instances] == [ids[0]]
        await refused(
            d.instances.ListInstances(
                Req.ListInstancesRequest(statuses=[common_pb2.INSTANCE_STATUS_UNSPECIFIED])
            ),
            Code.INVALID_ARGUMENT,
            "statuses[0]",
        )
        await refused(
            d.instances.ListInstances(
                Req.ListInstancesRequest(page=common_pb2.PageRequest(page_size=5000))
            ),
            Code.RESOURCE_EXHAUSTED,
        )


async def test_end_reset_and_instance_verbs(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        rum = await d.instances.RunUntilManuallyEnded(
            Req.RunUntilManuallyEndedRequest(context_instance_id=iid, enabled=True)
        )
        assert rum.run_context_until_manually_ended
        updated = await d.instances.UpdateContextParameters(
            Req.UpdateContextParametersRequest(
                context_instance_id=iid,
                context_parameters=[common_pb2.ContextParameterInstance(name="REGION", value="ap")],
            )
        )
        assert {p.name: p.value for p in updated.context_parameters}["REGION"] == "ap"
        await refused(
            d.instances.UpdateContextParameters(
                Req.UpdateContextParametersRequest(
                    context_instance_id=iid,
                    context_parameters=[
                        common_pb2.ContextParameterInstance(name="NOPE", value="1")
                    ],
                )
            ),
            Code.INVALID_ARGUMENT,
            "context_parameters[0].name",
            "NOPE",
        )
        dry = await d.instances.SetDryRun(
            Req.SetDryRunRequest(
                context_instance_id=iid,
                dry_run=True,
                dry_run_parameters=common_pb2.DryRunParameters(fixed_execution_time_millis=5),
            )
        )
        assert dry.dry_run and dry.dry_run_parameters.fixed_execution_time_millis == 5
        await refused(
            d.instances.SetDryRun(
                Req.SetDryRunRequest(
                    context_instance_id=iid,
                    dry_run=True,
                    dry_run_parameters=common_pb2.DryRunParameters(job_error_percentage=101),
                )
            ),
            Code.INVALID_ARGUMENT,
            "dry_run_parameters.job_error_percentage",
        )

        reset = await d.instances.ResetInstance(
            Req.ResetInstanceRequest(
                context_instance_id=iid, initiate_with_same_parameters=True, hold_command_jobs=True
            )
        )
        assert reset.id != iid and reset.reset_from_instance_id == iid
        assert {p.name: p.value for p in reset.context_parameters}["REGION"] == "ap"
        held = {j.identifier: j.held for j in reset.jobs}
        assert held == {"a-one": True, "a-two": True, "b-tick": False}
        old = await d.instances.GetInstance(Req.GetInstanceRequest(context_instance_id=iid))
        assert old.status == common_pb2.ENDED and old.end_time

        ended = await d.instances.EndInstance(
            Req.EndInstanceRequest(context_instance_id=reset.id, keep_running_jobs=True)
        )
        assert ended.status == common_pb2.ENDED
        assert d.orch.ended[-1].kill_running_jobs is False and d.orch.ended[-1].actor == "alice"
        await refused(
            d.instances.EndInstance(Req.EndInstanceRequest(context_instance_id=reset.id)),
            Code.FAILED_PRECONDITION,
            "ENDED",
        )
        await refused(
            d.instances.RunUntilManuallyEnded(
                Req.RunUntilManuallyEndedRequest(context_instance_id=reset.id)
            ),
            Code.FAILED_PRECONDITION,
            "ENDED",
        )
        await refused(
            d.instances.ResetInstance(Req.ResetInstanceRequest(context_instance_id="nope")),
            Code.NOT_FOUND,
        )


async def test_events_that_can_run(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        out = await d.instances.GetEventsThatCanRun(
            Req.GetEventsThatCanRunRequest(job=job_ref(iid, "a-one"))
        )
        assert [(i.agent_name, i.job_name, i.context_instance_id) for i in out.initiations] == [
            ("a", "two", iid)
        ]
        await refused(
            d.instances.GetEventsThatCanRun(Req.GetEventsThatCanRunRequest(job=job_ref(iid, ""))),
            Code.INVALID_ARGUMENT,
            "job.job_identifier: required",
        )
        await refused(
            d.instances.GetEventsThatCanRun(
                Req.GetEventsThatCanRunRequest(job=job_ref(iid, "a-zzz"))
            ),
            Code.NOT_FOUND,
            "a-zzz",
        )


async def test_missed_runs_newest_first_with_pages(engine: Engine) -> None:
    async with running(engine) as d:
        with write_transaction(engine) as conn:
            missed_store.record_missed_runs(
                conn,
                [
                    missed_store.MissedRunRecord("daily", t, t + 500, f"gone {t}")
                    for t in (1000, 2000, 3000)
                ],
            )
            missed_store.record_missed_runs(
                conn, [missed_store.MissedRunRecord("other", 4000, 4500, "x")]
            )
        first = await d.instances.ListMissedRuns(
            Req.ListMissedRunsRequest(
                context_name="daily", page=common_pb2.PageRequest(page_size=2)
            )
        )
        assert [m.scheduled_time for m in first.missed_runs] == [3000, 2000]
        assert first.missed_runs[0].reason == "gone 3000"
        rest = await d.instances.ListMissedRuns(
            Req.ListMissedRunsRequest(
                context_name="daily",
                page=common_pb2.PageRequest(page_size=2, page_token=first.next_page_token),
            )
        )
        assert [m.scheduled_time for m in rest.missed_runs] == [1000]
        assert not rest.next_page_token
        every = await d.instances.ListMissedRuns(Req.ListMissedRunsRequest())
        assert len(every.missed_runs) == 4


async def _collect(
    stream: object, n: int, into: list[instance_service_pb2.WatchInstancesResponse]
) -> None:
    async for item in stream:  # type: ignore[attr-defined]
        into.append(item)
        if len(into) >= n:
            return


async def _until(done: Callable[[], bool]) -> None:
    while not done():
        await asyncio.sleep(0.005)


def _job_changes(items: list[instance_service_pb2.WatchInstancesResponse]) -> list[tuple[str, int]]:
    return [
        (i.change.job.job_identifier, i.change.job.new_status)
        for i in items
        if i.HasField("change") and i.change.HasField("job")
    ]


async def test_watch_streams_changes_in_order_and_resumes(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        seen: list[instance_service_pb2.WatchInstancesResponse] = []
        call = d.instances.WatchInstances(
            Req.WatchInstancesRequest(context_instance_id=iid, send_initial=True)
        )
        task = asyncio.create_task(_collect(call, 3, seen))
        await _until(lambda: bool(seen))  # the snapshot: the stream's position is fixed
        await d.jobs.HoldJob(job_service_pb2.JobVerbRequest(job=job_ref(iid, "a-two")))
        await d.jobs.SkipJob(job_service_pb2.JobVerbRequest(job=job_ref(iid, "a-one")))
        await asyncio.wait_for(task, 10)
        call.cancel()
        assert seen[0].HasField("snapshot") and seen[0].snapshot.id == iid
        assert _job_changes(seen[1:]) == [
            ("a-two", common_pb2.ON_HOLD),
            ("a-one", common_pb2.SKIPPED_COMPLETE),
        ]
        positions = [i.change.position for i in seen[1:]]
        assert positions == sorted(positions)
        assert seen[1].change.job.actor == "alice" and seen[1].change.context_instance_id == iid

        # disconnected after the first change: a resumed watch gets exactly what followed
        await d.jobs.ReleaseJob(job_service_pb2.JobVerbRequest(job=job_ref(iid, "a-two")))
        resumed: list[instance_service_pb2.WatchInstancesResponse] = []
        call2 = d.instances.WatchInstances(
            Req.WatchInstancesRequest(context_name="daily", after_position=positions[0])
        )
        await asyncio.wait_for(_collect(call2, 2, resumed), 10)
        call2.cancel()
        assert _job_changes(resumed) == [
            ("a-one", common_pb2.SKIPPED_COMPLETE),
            ("a-two", common_pb2.WAITING),
        ]
        assert resumed[0].change.position == positions[1]


async def test_watch_sees_agent_events_and_context_changes(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        seen: list[instance_service_pb2.WatchInstancesResponse] = []
        call = d.instances.WatchInstances(Req.WatchInstancesRequest(send_initial=True))
        task = asyncio.create_task(_collect(call, 3, seen))
        await _until(lambda: bool(seen))
        d.orch.deliver(
            iid, ProcessEvent(id="e1", agent_name="a", job_name="one", job_starting=True)
        )
        await asyncio.wait_for(task, 10)
        call.cancel()
        assert seen[0].snapshot.id == iid
        seen = seen[1:]
        kinds = {i.change.WhichOneof("change") for i in seen}
        assert kinds == {"job", "context"}
        ctx = next(i.change.context for i in seen if i.change.HasField("context"))
        assert (ctx.context_name, ctx.previous_status, ctx.new_status) == (
            "daily",
            common_pb2.WAITING,
            common_pb2.RUNNING,
        )


async def test_watch_refuses_a_position_beyond_the_log(engine: Engine) -> None:
    async with running(engine) as d:
        await setup(d)
        call = d.instances.WatchInstances(Req.WatchInstancesRequest(after_position=10**9))
        await refused(_collect(call, 1, []), Code.OUT_OF_RANGE, "after_position")
