"""JobService through the generated SDK: every verb's happy path and its refusals."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine

from ikasched.v1 import (
    agent_pb2,
    common_pb2,
    instance_service_pb2,
    job_service_pb2,
    plan_service_pb2,
)
from ikasched_dashboard.engine.inputs import ProcessEvent

from .conftest import Dashboard, running
from .support import plan, refused

Code = grpc.StatusCode
J = job_service_pb2


async def setup(d: Dashboard) -> str:
    await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan()))
    created = await d.instances.CreateInstance(
        instance_service_pb2.CreateInstanceRequest(context_name="daily")
    )
    return str(created.id)


def ref(iid: str, ident: str, child: str = "") -> common_pb2.JobRef:
    return common_pb2.JobRef(
        context_instance_id=iid, job_identifier=ident, child_context_name=child
    )


def statuses(response: job_service_pb2.JobVerbResponse) -> dict[str, int]:
    return {j.identifier: j.status for j in response.jobs}


def start(d: Dashboard, iid: str, job: str, *, ok: bool | None = None) -> None:
    d.orch.deliver(
        iid,
        ProcessEvent(id=f"{job}-start", agent_name="a", job_name=job, job_starting=True, pid=42),
    )
    if ok is not None:
        d.orch.deliver(
            iid,
            ProcessEvent(
                id=f"{job}-end",
                agent_name="a",
                job_name=job,
                successful=ok,
                return_code=0 if ok else 3,
            ),
        )


async def test_hold_release(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        held = await d.jobs.HoldJob(J.JobVerbRequest(job=ref(iid, "a-two", "daily")))
        assert statuses(held) == {"a-two": common_pb2.ON_HOLD} and held.jobs[0].held
        assert held.jobs[0].status_reason == "held by an operator"
        released = await d.jobs.ReleaseJob(J.JobVerbRequest(job=ref(iid, "a-two")))
        assert statuses(released) == {"a-two": common_pb2.WAITING}
        # a job that is not held (here: released already) is refused, never answered OK
        await refused(
            d.jobs.ReleaseJob(J.JobVerbRequest(job=ref(iid, "a-two"))),
            Code.FAILED_PRECONDITION,
            "job a-two in child context daily is not held (it is WAITING)",
        )
        start(d, iid, "one")
        await refused(
            d.jobs.HoldJob(J.JobVerbRequest(job=ref(iid, "a-one"))),
            Code.FAILED_PRECONDITION,
            "RUNNING",
        )
        await refused(
            d.jobs.HoldJob(J.JobVerbRequest(job=ref(iid, ""))),
            Code.INVALID_ARGUMENT,
            "job.job_identifier: required",
        )
        await refused(
            d.jobs.HoldJob(J.JobVerbRequest(job=ref("", "a-one"))),
            Code.INVALID_ARGUMENT,
            "job.context_instance_id: required",
        )
        await refused(
            d.jobs.HoldJob(J.JobVerbRequest(job=ref(iid, "a-nope"))), Code.NOT_FOUND, "a-nope"
        )
        await refused(
            d.jobs.HoldJob(J.JobVerbRequest(job=ref(iid, "a-two", "elsewhere"))),
            Code.NOT_FOUND,
            "elsewhere",
        )
        await refused(
            d.jobs.HoldJob(J.JobVerbRequest(job=ref("missing", "a-two"))), Code.NOT_FOUND, "missing"
        )


async def test_skip_unskip_reset(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        skipped = await d.jobs.SkipJob(J.JobVerbRequest(job=ref(iid, "a-two")))
        assert statuses(skipped) == {"a-two": common_pb2.SKIPPED} and skipped.jobs[0].skip
        back = await d.jobs.UnskipJob(J.JobVerbRequest(job=ref(iid, "a-two")))
        assert statuses(back) == {"a-two": common_pb2.WAITING}
        await refused(
            d.jobs.UnskipJob(J.JobVerbRequest(job=ref(iid, "a-two"))),
            Code.FAILED_PRECONDITION,
            "WAITING",
        )
        start(d, iid, "one", ok=True)
        reset = await d.jobs.ResetJob(J.JobVerbRequest(job=ref(iid, "a-one")))
        assert statuses(reset)["a-one"] == common_pb2.WAITING
        start(d, iid, "one")
        await refused(
            d.jobs.ResetJob(J.JobVerbRequest(job=ref(iid, "a-one"))),
            Code.FAILED_PRECONDITION,
            "RUNNING",
        )


async def test_acknowledge_and_resubmit(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        await refused(
            d.jobs.ResubmitJob(J.JobVerbRequest(job=ref(iid, "a-one"))),
            Code.FAILED_PRECONDITION,
            "ERROR",
        )
        start(d, iid, "one", ok=False)
        got = await d.instances.GetInstance(
            instance_service_pb2.GetInstanceRequest(context_instance_id=iid)
        )
        failed = next(j for j in got.jobs if j.identifier == "a-one")
        assert failed.status == common_pb2.ERROR
        resub = await d.jobs.ResubmitJob(J.JobVerbRequest(job=ref(iid, "a-one")))
        assert "a-two" in statuses(resub)
        two = next(j for j in resub.jobs if j.identifier == "a-two")
        assert two.initiation_event_raised
        ack = await d.jobs.AcknowledgeError(
            J.AcknowledgeErrorRequest(job=ref(iid, "a-one"), message="known issue", ticket_id="T-1")
        )
        assert [j.error_acknowledged for j in ack.jobs] == [True]
        await refused(
            d.jobs.AcknowledgeError(J.AcknowledgeErrorRequest(job=ref(iid, "zz"))), Code.NOT_FOUND
        )


async def test_kill_and_run(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        await refused(
            d.jobs.KillJob(J.KillJobRequest(job=ref(iid, "a-one"))),
            Code.FAILED_PRECONDITION,
            "WAITING",
        )
        start(d, iid, "one")
        killed = await d.jobs.KillJob(J.KillJobRequest(job=ref(iid, "a-one"), destroy=True))
        assert statuses(killed) == {"a-one": common_pb2.RUNNING}
        assert d.orch.killed == [(iid, "a-one", "daily", True, "alice")]
        run = await d.jobs.RunJob(
            J.RunJobRequest(
                job=ref(iid, "a-two"),
                context_parameters=[common_pb2.ContextParameterInstance(name="X", value="1")],
            )
        )
        assert run.jobs[0].identifier == "a-two" and run.jobs[0].initiation_event_raised
        fired = await d.jobs.RunJob(J.RunJobRequest(job=ref(iid, "b-tick")))
        assert statuses(fired)["b-tick"] == common_pb2.COMPLETE


async def test_bulk_verbs(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        held = await d.jobs.HoldAllJobs(
            J.ChildContextVerbRequest(context_instance_id=iid, child_context_name="daily")
        )
        assert set(statuses(held).values()) == {common_pb2.ON_HOLD}
        released = await d.jobs.ReleaseAllJobs(
            J.ChildContextVerbRequest(context_instance_id=iid, child_context_name="daily")
        )
        assert set(statuses(released).values()) == {common_pb2.WAITING}
        skipped = await d.jobs.SkipAllJobs(
            J.SkipAllJobsRequest(context_instance_id=iid, child_context_name="daily", skip=True)
        )
        # command jobs only; a-two follows a skipped-complete a-one, so it is complete too
        assert statuses(skipped) == {
            "a-one": common_pb2.SKIPPED_COMPLETE,
            "a-two": common_pb2.SKIPPED_COMPLETE,
        }
        await refused(
            d.jobs.HoldAllJobs(
                J.ChildContextVerbRequest(context_instance_id=iid, child_context_name="nowhere")
            ),
            Code.NOT_FOUND,
            "nowhere",
        )
        await refused(
            d.jobs.HoldAllJobs(J.ChildContextVerbRequest(context_instance_id=iid)),
            Code.INVALID_ARGUMENT,
            "child_context_name: required",
        )


async def test_instance_wide_verbs(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        off = await d.jobs.DisableCronJobs(J.InstanceVerbRequest(context_instance_id=iid))
        assert statuses(off) == {"b-tick": common_pb2.DISABLED}
        on = await d.jobs.EnableCronJobs(J.InstanceVerbRequest(context_instance_id=iid))
        assert statuses(on) == {"b-tick": common_pb2.WAITING}
        await d.jobs.ReleaseQueuedJobs(J.InstanceVerbRequest(context_instance_id=iid))
        start(d, iid, "one")
        await d.jobs.KillRunningJobs(J.InstanceVerbRequest(context_instance_id=iid))
        await refused(
            d.jobs.KillRunningJobs(J.InstanceVerbRequest()),
            Code.INVALID_ARGUMENT,
            "context_instance_id: required",
        )
        await d.instances.EndInstance(
            instance_service_pb2.EndInstanceRequest(context_instance_id=iid)
        )
        await refused(
            d.jobs.DisableCronJobs(J.InstanceVerbRequest(context_instance_id=iid)),
            Code.FAILED_PRECONDITION,
            "ENDED",
        )
        await refused(
            d.jobs.HoldJob(J.JobVerbRequest(job=ref(iid, "a-two"))),
            Code.FAILED_PRECONDITION,
            "ENDED",
        )


async def test_job_logs(engine: Engine) -> None:
    async with running(engine) as d:
        iid = await setup(d)
        request = J.GetJobLogsRequest(job=ref(iid, "a-one"))
        await refused(_read(d.jobs.GetJobLogs(request)), Code.NOT_FOUND, "has not run")
        run = await d.jobs.RunJob(J.RunJobRequest(job=ref(iid, "a-one")))
        initiation = run.jobs[0].initiation_id
        assert initiation
        d.logs.logs[initiation] = b"hello world\n"
        chunks = await _read(
            d.jobs.GetJobLogs(
                J.GetJobLogsRequest(job=ref(iid, "a-one"), offset=6, stream=agent_pb2.STDERR)
            )
        )
        assert b"".join(c.data for c in chunks) == b"world\n" and chunks[-1].eof
        assert (d.logs.requests[-1].agent_name, d.logs.requests[-1].stream) == (
            "a",
            agent_pb2.STDERR,
        )
        await refused(
            _read(d.jobs.GetJobLogs(J.GetJobLogsRequest(job=ref(iid, "a-one"), offset=-1))),
            Code.INVALID_ARGUMENT,
            "offset",
        )


async def _read(call: object) -> list[agent_pb2.LogChunk]:
    return [c async for c in call]  # type: ignore[attr-defined]
