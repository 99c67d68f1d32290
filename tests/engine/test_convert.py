"""plans/convert.py: proto plan -> domain plan, and the event/initiation mappings."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from ikasched.v1 import common_pb2, events_pb2, plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.engine.inputs import DryRunParams, SetDryRun
from ikasched_dashboard.engine.model import JobKind, Status
from ikasched_dashboard.plans.convert import (
    event_from_proto,
    event_to_proto,
    initiation_to_proto,
    plan_from_proto,
    status_from_proto,
    status_to_proto,
)

from .builder import Run, raised

PLAN: dict[str, Any] = {
    "name": "nightly",
    "environmentGroup": "blue",
    "endJobPlanUponCompletion": True,
    "contextParameters": [{"name": "DAY", "defaultValue": "mon"}],
    "scheduledJobs": [
        {
            "agentName": "a1",
            "jobName": "tick",
            "quartzScheduleDrivenJob": {"cronExpression": "0 * * * * ?"},
        },
        {"jobName": "go", "localEventJob": {}},
    ],
    "jobDependencies": [
        {"jobIdentifier": "a1-tick"},
        {
            "jobIdentifier": "LOCAL_EVENT_JOB-go",
            "logicalGrouping": {"and": [{"identifier": "a1-tick"}]},
        },
    ],
    "contexts": [
        {
            "name": "load",
            "contextParameters": [{"name": "DAY", "defaultValue": "tue"}],
            "scheduledJobs": [
                {"identifier": "LOCAL_EVENT_JOB-go"},
                {
                    "agentName": "a1",
                    "jobName": "extract",
                    "priority": 5,
                    "internalEventDrivenJob": {
                        "commandLine": "echo $DAY",
                        "contextParameters": [
                            {"name": "DAY"},
                            {"name": "MODE", "defaultValue": "full"},
                        ],
                        "daysOfWeekToRun": ["MON", "FRI"],
                        "timeoutSeconds": 60,
                        "retry": {"count": 2, "delaySeconds": 5},
                        "runAsUser": "etl",
                    },
                },
                {
                    "agentName": "a1",
                    "jobName": "report",
                    "internalEventDrivenJob": {"commandLine": "r"},
                },
            ],
            "jobDependencies": [
                {
                    "jobIdentifier": "a1-extract",
                    "logicalGrouping": {
                        "and": [{"identifier": "LOCAL_EVENT_JOB-go"}],
                        "not": [{"identifier": "a1-report"}],
                    },
                },
                {
                    "jobIdentifier": "a1-report",
                    "logicalGrouping": {
                        "or": [{"logicalGrouping": {"and": [{"identifier": "a1-extract"}]}}]
                    },
                },
            ],
            "jobLocks": [
                {
                    "name": "db",
                    "lockCount": 2,
                    "jobs": [{"identifier": "a1-report", "childContextName": "load"}],
                }
            ],
        }
    ],
}


def proto(doc: dict[str, Any]) -> plan_pb2.Context:
    return json_format.ParseDict(doc, plan_pb2.Context())


def test_plan_compiles_with_defaults_bare_occurrences_and_indexes() -> None:
    plan = plan_from_proto(proto(PLAN), version="7")
    assert plan.name == "nightly" and plan.version == "7"
    assert plan.flags.environment_group == "blue" and plan.flags.end_upon_completion
    assert plan.job_contexts["LOCAL_EVENT_JOB-go"] == ("nightly", "load")
    go = plan.jobs["LOCAL_EVENT_JOB-go"]
    assert go.kind is JobKind.LOCAL and go.agent_name == "LOCAL_EVENT_JOB"
    extract = plan.jobs["a1-extract"]
    assert extract.command is not None
    assert (extract.command.retry_count, extract.command.retry_delay_seconds) == (2, 5)
    assert extract.command.days_of_week_to_run == (2, 6)
    assert extract.priority == 5 and extract.command.run_as_user == "etl"
    load = plan.contexts["load"]
    assert load.mentioned_by["a1-report"] == (0,)  # inside the `not` of extract's grouping
    assert "LOCAL_EVENT_JOB-go" in load.external_jobs
    assert plan.claims_for("a1-report", "load")[0].capacity == 2


def test_converted_plan_runs_with_child_first_parameters() -> None:
    plan = plan_from_proto(proto(PLAN))
    run = Run(plan)
    run(SetDryRun(True, DryRunParams(error=True)))
    tick = events_pb2.ContextualisedScheduledProcessEvent(
        id="t1", agent_name="a1", job_name="tick", successful=True, fire_time=1000
    )
    effects = run(event_from_proto(tick))
    inits = raised(effects)
    assert [i.job_identifier for i in inits] == ["a1-extract"]
    assert run.status("LOCAL_EVENT_JOB-go", "load") is Status.COMPLETE
    msg = initiation_to_proto(inits[0])
    assert msg.job_identifier == "a1-extract" and msg.agent_name == "a1" and msg.priority == 5
    assert {p.name: p.value for p in msg.context_parameters} == {"DAY": "tue", "MODE": "full"}
    assert msg.internal_event_driven_job.timeout_seconds == 60
    assert msg.internal_event_driven_job.retry.count == 2
    assert list(msg.internal_event_driven_job.days_of_week_to_run) == [
        common_pb2.MON,
        common_pb2.FRI,
    ]
    assert msg.dry_run and msg.dry_run_parameters.error
    assert msg.context_instance_id == "i1" and msg.context_name == "nightly"
    assert list(msg.child_context_names) == ["load"]
    # the catalyst is the local event job's self-event, which the tick raised
    assert (msg.catalyst_event.agent_name, msg.catalyst_event.job_name) == ("LOCAL_EVENT_JOB", "go")


def test_event_round_trip_and_statuses() -> None:
    msg = events_pb2.ContextualisedScheduledProcessEvent(
        id="x",
        agent_name="a1",
        job_name="extract",
        successful=True,
        outcome=common_pb2.EXECUTION_INVOKED_IGNORED_DAY_OF_WEEK,
        child_context_names=["load"],
        job_execution_output_parameters={"B": "2", "A": "1"},
        initiation_id="i:1",
        attempt=2,
        completion_time=5,
    )
    ev = event_from_proto(msg)
    assert ev.outcome == "EXECUTION_INVOKED_IGNORED_DAY_OF_WEEK"
    assert ev.output_parameters == (("A", "1"), ("B", "2")) and ev.time_ms == 5
    back = event_to_proto(ev, context_name="nightly", context_instance_id="i")
    assert back.outcome == msg.outcome and dict(back.job_execution_output_parameters) == {
        "A": "1",
        "B": "2",
    }
    for status in Status:
        assert status_from_proto(status_to_proto(status)) is status


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda d: d["contexts"][0]["scheduledJobs"].append({"identifier": "nope"}),
            "scheduled_jobs",
        ),
        (lambda d: d["jobDependencies"].append({"jobIdentifier": "ghost"}), "job_dependencies"),
        (
            lambda d: d["contexts"][0]["scheduledJobs"].append(
                {
                    "agentName": "a1",
                    "jobName": "report",
                    "internalEventDrivenJob": {"commandLine": "other"},
                }
            ),
            "contexts[0].scheduled_jobs[3]",
        ),
        (lambda d: d["contexts"].append({"name": "load"}), "contexts"),
    ],
)
def test_bad_plans_name_the_field(mutate: Any, field: str) -> None:
    import copy

    doc = copy.deepcopy(PLAN)
    mutate(doc)
    with pytest.raises(InvalidArgument) as err:
        plan_from_proto(proto(doc))
    assert field in err.value.field
