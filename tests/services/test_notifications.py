"""NotificationService over a real server and SQLite: rule documents refused naming the field,
rules stored and versioned, a TEST notification queued; and the clock-driven RUNNING_TIME
check on a manual clock: nothing before maxExecutionTime, one notification after it however
often it runs, none for a rule on other kinds; the notifier's backoff doubles to its cap."""

from __future__ import annotations

from datetime import timedelta

import grpc
from sqlalchemy import Engine, update

from ikasched.v1 import instance_service_pb2, plan_service_pb2
from ikasched.v1 import notification_service_pb2 as pb
from ikasched.v1 import notification_service_pb2_grpc as pb_grpc
from ikasched_common.clock import ManualClock
from ikasched_dashboard.notifier import MAX_BACKOFF_MS, Notifier, NotifierSettings
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store.db import read_transaction, write_transaction
from ikasched_dashboard.store.schema import job_instances

from .conftest import running
from .support import plan, refused

Code = grpc.StatusCode


def _doc(**fields: str) -> str:
    base = {"name": "r1", "on": "[ERROR]", "webhook": "http://127.0.0.1:9/x"}
    base.update(fields)
    return "\n".join(f"{k}: {v}" for k, v in base.items() if v != "-")


async def test_rules_are_validated_stored_and_tested(engine: Engine) -> None:
    async with running(engine) as d:
        stub = pb_grpc.NotificationServiceStub(d.channel)  # type: ignore[no-untyped-call]
        apply = stub.ApplyNotificationRule
        for doc, needle in (
            (_doc(on="[EXPLODED]"), "on[0]"),
            (_doc(on="[]"), "on"),
            (_doc(webhook="ftp://x/y"), "webhook"),
            (_doc(webhook="-"), "webhook"),
            (_doc(name="-"), "name"),
            (_doc(name="'bad name'"), "name"),
            (_doc(colour="red"), "colour"),
            ("- just\n- a list", "document"),
            (_doc(email="{to: [a@b.c]}"), "webhook"),  # both channels
            (_doc(webhook="-", email="{to: []}"), "email.to"),
            (_doc(webhook="-", email="{to: [a@b.c, nobody]}"), "email.to[1]"),
            (_doc(webhook="-", email="{to: [a@b.c], cc: ['x y@z']}"), "email.cc[0]"),
            (_doc(webhook="-", email="{to: [a@b.c], bcc: [d@e.f]}"), "email.bcc"),
            (_doc(webhook="-", email="ops@x.y"), "email"),
        ):
            await refused(
                apply(pb.ApplyNotificationRuleRequest(document=doc)), Code.INVALID_ARGUMENT, needle
            )
        first = await apply(pb.ApplyNotificationRuleRequest(document=_doc(plan="daily")))
        assert first.rule.version == 1 and list(first.rule.on) == ["ERROR"]
        again = await apply(pb.ApplyNotificationRuleRequest(document=_doc(on="[START, error]")))
        assert again.rule.version == 2 and list(again.rule.on) == ["START", "ERROR"]
        assert again.rule.context_name == "" and again.rule.updated_by == "alice"
        queued = await stub.TestNotificationRule(pb.TestNotificationRuleRequest(name="r1"))
        assert queued.notification.kind == "TEST" and queued.notification.status == "PENDING"
        assert queued.notification.url == "http://127.0.0.1:9/x"
        mail = await apply(
            pb.ApplyNotificationRuleRequest(
                document=_doc(name="m", webhook="-", email="{to: [a@b.c, d@e.f], cc: g@h.i}")
            )
        )
        assert mail.rule.webhook_url == "mailto:a@b.c,d@e.f?cc=g@h.i"
        await refused(
            stub.TestNotificationRule(pb.TestNotificationRuleRequest(name="nope")),
            Code.NOT_FOUND,
            "nope",
        )
        await refused(
            stub.ListNotifications(pb.ListNotificationsRequest(statuses=["LOST"])),
            Code.INVALID_ARGUMENT,
            "statuses[0]",
        )


async def test_running_time_on_a_manual_clock(engine: Engine) -> None:
    p = plan()
    p.scheduled_jobs[0].internal_event_driven_job.max_execution_time = 60_000  # a-one
    async with running(engine) as d:
        await d.plans.ProvisionPlan(plan_service_pb2.ProvisionPlanRequest(plan=p))
        made = await d.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(context_name="daily")
        )
    clock = ManualClock(d.clock.now())
    start = clock.now_ms()
    with write_transaction(engine) as conn:
        conn.execute(
            update(job_instances)
            .where(job_instances.c.instance_id == made.id)
            .values(status="RUNNING", start_time=start, attempts=1)
        )
        for name, kinds in (("slow", ("RUNNING_TIME",)), ("other", ("ERROR",))):
            store.put_rule(conn, store.Rule(name, kinds, "http://127.0.0.1:9/x"))
    notifier = Notifier(engine, clock, NotifierSettings())
    clock.advance(timedelta(seconds=60))
    assert notifier.check_clock() == 0  # exactly at the limit: not longer
    clock.advance(timedelta(seconds=1))
    assert notifier.check_clock() == 1
    for _ in range(3):  # later checks, and a new notifier as after a restart: nothing more
        clock.advance(timedelta(seconds=30))
        assert notifier.check_clock() == 0
    assert Notifier(engine, clock, NotifierSettings()).check_clock() == 0
    with read_transaction(engine) as conn:
        rows = store.list_notifications(conn)
    assert [(r.rule_name, r.kind) for r in rows] == [("slow", "RUNNING_TIME")]
    assert "a-one" in rows[0].body and "maxExecutionTime 60 s" in rows[0].body  # a-two: no limit

    backoff = Notifier(engine, clock, NotifierSettings(retry_ms=1_000)).backoff_ms
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1_000, 2_000, 4_000, 8_000]
    assert backoff(30) == MAX_BACKOFF_MS
