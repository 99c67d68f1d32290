"""What an operator may put in parameters and plans is bounded, and an admin can empty a stuck
agent outbox (docs/architecture.md §4.9), through the generated SDK on a live server."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine, select

from ikasched.v1 import admin_service_pb2 as A
from ikasched.v1 import common_pb2, instance_service_pb2, job_service_pb2, plan_service_pb2
from ikasched_dashboard.plans.limits import (
    MAX_PARAMETER_BYTES,
    MAX_PARAMETER_VALUE_BYTES,
    MAX_PARAMETERS,
)
from ikasched_dashboard.store import changes, outbox_link
from ikasched_dashboard.store import messages as message_store
from ikasched_dashboard.store.db import read_transaction, write_transaction
from ikasched_dashboard.store.schema import agent_links

from .conftest import running
from .support import plan, refused

Code = grpc.StatusCode
Req = instance_service_pb2
P = common_pb2.ContextParameterInstance


async def test_parameter_values_over_the_limits_are_refused(engine: Engine) -> None:
    async with running(engine) as d:
        await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=plan()))
        big = "x" * (MAX_PARAMETER_VALUE_BYTES + 1)
        await refused(
            d.instances.CreateInstance(
                Req.CreateInstanceRequest(
                    context_name="daily",
                    context_parameters=[P(name="REGION", value="us"), P(name="BLOB", value=big)],
                )
            ),
            Code.INVALID_ARGUMENT,
            "context_parameters[1].value",
            str(MAX_PARAMETER_VALUE_BYTES),
        )
        many = [P(name=f"P{n}", value="v") for n in range(MAX_PARAMETERS + 1)]
        await refused(
            d.instances.CreateInstance(
                Req.CreateInstanceRequest(context_name="daily", context_parameters=many)
            ),
            Code.INVALID_ARGUMENT,
            "context_parameters",
            f"at most {MAX_PARAMETERS}",
        )
        chunk = "y" * MAX_PARAMETER_VALUE_BYTES
        heavy = [P(name=f"P{n}", value=chunk) for n in range(MAX_PARAMETER_BYTES // len(chunk) + 1)]
        await refused(
            d.instances.CreateInstance(
                Req.CreateInstanceRequest(context_name="daily", context_parameters=heavy)
            ),
            Code.INVALID_ARGUMENT,
            "MAX_PARAMETER_BYTES",
        )
        created = await d.instances.CreateInstance(
            Req.CreateInstanceRequest(
                context_name="daily", context_parameters=[P(name="REGION", value="us")]
            )
        )
        await refused(
            d.instances.UpdateContextParameters(
                Req.UpdateContextParametersRequest(
                    context_instance_id=created.id,
                    context_parameters=[P(name="REGION", value=big)],
                )
            ),
            Code.INVALID_ARGUMENT,
            "context_parameters[0].value",
        )
        one = created.jobs[0]
        await refused(
            d.jobs.RunJob(
                job_service_pb2.RunJobRequest(
                    job=common_pb2.JobRef(
                        context_instance_id=created.id, job_identifier=one.identifier
                    ),
                    context_parameters=[P(name="REGION", value=big)],
                )
            ),
            Code.INVALID_ARGUMENT,
            "context_parameters[0].value",
        )


async def test_plans_with_oversized_parameter_defaults_are_refused(engine: Engine) -> None:
    async with running(engine) as d:
        bad = plan()
        bad.context_parameters.add(name="BLOB", default_value="z" * (MAX_PARAMETER_VALUE_BYTES + 1))
        await refused(
            d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=bad)),
            Code.INVALID_ARGUMENT,
            "defaultValue",
            "MAX_PARAMETER_VALUE_BYTES",
        )


async def test_an_admin_empties_a_stuck_outbox_forced_and_audited(engine: Engine) -> None:
    disconnected: list[str] = []

    def disconnect(name: str) -> bool:
        disconnected.append(name)
        return True

    async with running(engine, actor="root", disconnect_agent=disconnect) as d:
        with write_transaction(engine) as conn:
            message_store.insert_outbox(
                conn,
                [
                    message_store.OutboxMessage("a", b"\x0a\x02m1", message_id="m1"),
                    message_store.OutboxMessage("a", b"\x0a\x02m2", message_id="m2"),
                    message_store.OutboxMessage("b", b"\x0a\x02m3", message_id="m3"),
                ],
            )
            outbox_link.ensure_link_row(conn, "a")
            outbox_link.claim_unsent(conn, "a", 1)  # m1 sent, never acknowledged
        await refused(
            d.queues.DeleteAllMessages(A.DeleteAllMessagesRequest(queue="outbox/a")),
            Code.FAILED_PRECONDITION,
            "force",
        )
        assert disconnected == []
        done = await d.queues.DeleteAllMessages(
            A.DeleteAllMessagesRequest(queue="outbox/a", force=True)
        )
        assert done.deleted == 2
        assert disconnected == ["a"]  # it reconnects and gets a fresh sync
        with read_transaction(engine) as conn:
            left = [r.message_id for r in message_store.peek_outbox(conn, "", 100)]
            last = conn.execute(
                select(agent_links.c.last_assigned_seq).where(agent_links.c.agent_name == "a")
            ).scalar_one()
            audit = [c.entry for c in changes.changes_after(conn, 0, limit=100)]
        assert left == ["m3"]
        assert last == 0  # the deleted m1's seq is handed out again: no gap on the link
        assert [(e.cause, e.actor) for e in audit] == [("queue delete outbox/a", "root")]
        assert "2 outbox message(s)" in audit[0].detail
