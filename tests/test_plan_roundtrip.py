"""Plans round-trip through the proto model unchanged: load -> dump -> load, in JSON and YAML."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from ikasched.v1 import plan_pb2
from ikasched_dashboard.plans.loader import (
    Format,
    dump_plan,
    dump_plan_json,
    load_plan_text,
    normalise_plan_dict,
    parse_plan_document,
    plan_to_dict,
)
from ikasched_dashboard.plans.problems import Severity
from ikasched_dashboard.plans.validation import validate_plan

JOB_TYPES = {f.name for f in plan_pb2.SchedulerJob.DESCRIPTOR.oneofs_by_name["job_type"].fields}

# Written in the canonical form (JSON names, defaults left out), so the dump must equal it.
JSON_PLAN = """
{
  "name": "settlement",
  "description": "End-of-day settlement in three levels of contexts.",
  "timeWindowStart": "0 30 18 ? * MON-FRI *",
  "contextTtlMilliseconds": 43200000,
  "timezone": "America/New_York",
  "blackoutWindowCronExpressions": ["* * * 4 JUL ? *"],
  "blackoutWindowDateTimeRanges": [{"start": 1767225600000, "end": 1767312000000}],
  "environmentGroup": "prod",
  "ableToRunConcurrently": true,
  "endJobPlanUponCompletion": true,
  "misfireGraceSeconds": 600,
  "owner": "settlement-team",
  "labels": {"tier": "gold", "region": "us"},
  "contextParameters": [
    {"name": "TRADE_DATE", "description": "Trade date", "type": "String"},
    {"name": "DB_PASSWORD", "defaultValue": "changeme", "secret": true}
  ],
  "scheduledJobs": [
    {"agentName": "ny1", "jobName": "eod-timer", "ordinal": 1,
     "quartzScheduleDrivenJob": {
       "cronExpression": "0 35 18 ? * MON-FRI *", "jobGroup": "eod", "timeZone": "America/New_York",
       "passthroughProperties": {"desk": "rates"}, "ignoreMisfire": true,
       "blackoutWindowCronExpressions": ["0 0 0 25 DEC ? *"],
       "blackoutWindowDateTimeRanges": [{"start": 1000, "end": 2000}],
       "dropEventOnBlackout": true, "misfireGraceSeconds": 120,
       "daysOfWeekToRun": ["MON", "TUE", "WED", "THU", "FRI"]}},
    {"agentName": "ny1", "jobName": "trades-file",
     "fileEventDrivenJob": {
       "cronExpression": "0 * * ? * * *", "filePath": "/data/in", "filenames": ["trades-*.csv"],
       "moveDirectory": "/data/done", "minFileAgeSeconds": 5, "directoryDepth": 2,
       "slaCronExpression": "0 0 20 ? * MON-FRI *", "sortByModifiedDateTime": true,
       "sortAscending": true, "logMatchedFilenames": true,
       "replacementPairs": [{"replacementToken": "{DATE}", "jobPlanParameterName": "TRADE_DATE"}]}},
    {"identifier": "CONTEXT_START_JOB-books", "agentName": "CONTEXT_START_JOB",
     "jobName": "books", "contextStartJob": {}},
    {"identifier": "CONTEXT_TERMINAL_JOB-books"},
    {"agentName": "GLOBAL_EVENT", "jobName": "settled",
     "globalEventJob": {"ignoreEnvironmentGroup": true}}
  ],
  "jobDependencies": [
    {"jobIdentifier": "ny1-eod-timer"},
    {"jobIdentifier": "ny1-trades-file"},
    {"jobIdentifier": "CONTEXT_START_JOB-books",
     "logicalGrouping": {"and": [{"identifier": "ny1-eod-timer"}],
                         "or": [{"identifier": "ny1-trades-file"}]}},
    {"jobIdentifier": "GLOBAL_EVENT-settled",
     "logicalGrouping": {"and": [{"identifier": "CONTEXT_TERMINAL_JOB-books"}]}}
  ],
  "jobLocks": [
    {"name": "ledger", "lockCount": 2, "exclusiveJobLock": true,
     "jobs": [{"identifier": "ny1-post-ledger", "childContextName": "posting", "lockCount": 2},
              {"identifier": "ny1-rebuild", "childContextName": "books"}]}
  ],
  "contexts": [
    {"name": "books", "ordinal": 1, "owner": "books-team",
     "contextParameters": [{"name": "TRADE_DATE", "defaultValue": "today"}],
     "scheduledJobs": [
       {"identifier": "CONTEXT_START_JOB-books"},
       {"identifier": "ny1-post-ledger"},
       {"agentName": "ny1", "jobName": "rebuild", "displayName": "Rebuild books",
        "jobDescription": "Rebuilds the books", "startupControlType": "MANUAL",
        "skippedContexts": {"posting": true}, "heldContexts": {"books": false},
        "priority": 5, "owner": "ops",
        "internalEventDrivenJob": {
          "commandLine": "rebuild --date \\"$TRADE_DATE\\"\\nrefresh-cache\\n",
          "workingDirectory": "/srv/books", "successfulReturnCodes": [0, 2],
          "minExecutionTime": 1000, "maxExecutionTime": 600000,
          "contextParameters": [{"name": "TRADE_DATE"}], "daysOfWeekToRun": ["MON", "FRI"],
          "targetResidingContextOnly": true, "participatesInLock": true,
          "executionEnvironmentProperties": "/bin/bash|-c", "jobRepeatable": true,
          "timeoutSeconds": 900, "retry": {"count": 3, "delaySeconds": 30},
          "runAsUser": "books"}},
       {"identifier": "LOCAL_EVENT_JOB-books-ready", "agentName": "LOCAL_EVENT_JOB",
        "jobName": "books-ready", "localEventJob": {}},
       {"identifier": "CONTEXT_TERMINAL_JOB-books", "agentName": "CONTEXT_TERMINAL_JOB",
        "jobName": "books", "contextTerminalJob": {}}
     ],
     "jobDependencies": [
       {"jobIdentifier": "ny1-rebuild",
        "logicalGrouping": {"and": [{"identifier": "CONTEXT_START_JOB-books"}]}},
       {"jobIdentifier": "LOCAL_EVENT_JOB-books-ready",
        "logicalGrouping": {"and": [{"identifier": "ny1-rebuild"}]}},
       {"jobIdentifier": "CONTEXT_TERMINAL_JOB-books",
        "logicalGrouping": {
          "and": [{"identifier": "LOCAL_EVENT_JOB-books-ready"}],
          "not": [{"identifier": "ny1-post-ledger"}],
          "logicalGrouping": {"or": [{"logicalGrouping": {"and": [
            {"identifier": "ny1-rebuild"}]}}]}}}
     ],
     "contexts": [
       {"name": "posting",
        "scheduledJobs": [
          {"identifier": "LOCAL_EVENT_JOB-books-ready"},
          {"identifier": "BRIDGING_JOB-post", "agentName": "BRIDGING_JOB", "jobName": "post",
           "bridgingJob": {}},
          {"agentName": "ny1", "jobName": "post-ledger",
           "internalEventDrivenJob": {"commandLine": "post-ledger"}}
        ],
        "jobDependencies": [
          {"jobIdentifier": "BRIDGING_JOB-post",
           "logicalGrouping": {"and": [{"identifier": "LOCAL_EVENT_JOB-books-ready"}]}},
          {"jobIdentifier": "ny1-post-ledger",
           "logicalGrouping": {"and": [{"identifier": "BRIDGING_JOB-post"}]}}
        ],
        "contextDependencies": [
          {"contextIdentifier": "posting", "contextDependencyName": "books",
           "logicalGrouping": {"and": [{"identifier": "books"}]}}
        ]}
     ]}
  ]
}
"""

# Written as people write: proto names, bare operands, day names, numbers as text, defaults.
YAML_PLAN = """
name: hello-levels
time_window_start: "0 0 6 ? * * *"
context_ttl_milliseconds: "82800000"
timezone: Europe/London
disabled: false
blackout_window_cron_expressions: ["* * * 1 JAN ? *"]
blackout_window_date_time_ranges:
  - {start: 2026-12-24, end: "2026-12-27T00:00:00+00:00"}
context_parameters:
  - {name: GREETING, default_value: hello}
scheduled_jobs:
  - agent_name: local
    job_name: morning
    quartz_schedule_driven_job:
      cron_expression: "30 0 6 ? * * *"
      days_of_week_to_run: [monday, tue, 4, "5", FRIDAY]
  - agent_name: local
    job_name: inbox
    file_event_driven_job:
      cron_expression: "0 * * ? * * *"
      file_path: /tmp/in
      filenames: "*.txt"
  - identifier: CONTEXT_START_JOB-outer
    agent_name: CONTEXT_START_JOB
    job_name: outer
    context_start_job:
  - agent_name: GLOBAL_EVENT
    job_name: greeted
    global_event_job:
job_dependencies:
  - job_identifier: local-morning
  - job_identifier: local-inbox
  - job_identifier: CONTEXT_START_JOB-outer
    logical_grouping: {or: [local-morning, local-inbox]}
  - job_identifier: GLOBAL_EVENT-greeted
    logical_grouping: {and: [CONTEXT_START_JOB-outer]}
job_locks:
  - name: console
    lock_count: 1
    jobs: [{identifier: local-say, child_context_name: inner, lock_count: 1}]
contexts:
  - name: outer
    ordinal: 0
    scheduled_jobs:
      - identifier: CONTEXT_START_JOB-outer
      - identifier: LOCAL_EVENT_JOB-go
        agent_name: LOCAL_EVENT_JOB
        job_name: go
        local_event_job: {}
      - identifier: CONTEXT_TERMINAL_JOB-outer
        agent_name: CONTEXT_TERMINAL_JOB
        job_name: outer
        context_terminal_job: {}
    job_dependencies:
      - job_identifier: LOCAL_EVENT_JOB-go
        logical_grouping: {and: [CONTEXT_START_JOB-outer]}
      - job_identifier: CONTEXT_TERMINAL_JOB-outer
        logical_grouping: {and: [LOCAL_EVENT_JOB-go]}
    contexts:
      - name: inner
        context_parameters: [{name: GREETING, default_value: hi, secret: false}]
        scheduled_jobs:
          - identifier: LOCAL_EVENT_JOB-go
          - identifier: GLOBAL_EVENT-greeted
          - identifier: BRIDGING_JOB-inner
            agent_name: BRIDGING_JOB
            job_name: inner
            bridging_job:
          - agent_name: local
            job_name: say
            priority: 7
            owner: greeters
            startup_control_type: automatic
            internal_event_driven_job:
              command_line: |
                echo "$GREETING"
              context_parameters: [{name: GREETING}]
              successful_return_codes: 0
              timeout_seconds: 30
              retry: {count: 1, delay_seconds: "5"}
              run_as_user: nobody
        job_dependencies:
          - job_identifier: BRIDGING_JOB-inner
            logical_grouping: {and: [LOCAL_EVENT_JOB-go]}
          - job_identifier: local-say
            logical_grouping:
              and: [BRIDGING_JOB-inner]
              not: [{logical_grouping: {and: [GLOBAL_EVENT-greeted]}}]
"""

SOURCES = {"json": JSON_PLAN, "yaml": YAML_PLAN}


def all_jobs(ctx: plan_pb2.Context) -> list[plan_pb2.SchedulerJob]:
    return [*ctx.scheduled_jobs, *(j for child in ctx.contexts for j in all_jobs(child))]


def all_contexts(ctx: plan_pb2.Context) -> list[plan_pb2.Context]:
    return [ctx, *(c for child in ctx.contexts for c in all_contexts(child))]


def depth(ctx: plan_pb2.Context) -> int:
    return 1 + max((depth(child) for child in ctx.contexts), default=0)


@pytest.mark.parametrize("source", SOURCES, ids=str)
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_load_dump_load_is_unchanged(source: str, fmt: Format) -> None:
    plan = load_plan_text(SOURCES[source])
    assert load_plan_text(dump_plan(plan, fmt), fmt=fmt) == plan


@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_the_dump_equals_the_normalised_source(source: str) -> None:
    plan = load_plan_text(SOURCES[source])
    assert plan_to_dict(plan) == normalise_plan_dict(parse_plan_document(SOURCES[source]))


def test_a_canonical_json_source_dumps_to_itself() -> None:
    plan = load_plan_text(JSON_PLAN)
    assert json.loads(dump_plan_json(plan)) == json.loads(JSON_PLAN)


def test_the_yaml_source_normalises_friendly_forms() -> None:
    canonical = plan_to_dict(load_plan_text(YAML_PLAN))
    assert canonical["contextTtlMilliseconds"] == 82_800_000
    assert "disabled" not in canonical
    assert canonical["scheduledJobs"][0]["quartzScheduleDrivenJob"]["daysOfWeekToRun"] == [
        "MON",
        "TUE",
        "WED",
        "THU",
        "FRI",
    ]
    assert canonical["scheduledJobs"][2]["contextStartJob"] == {}
    assert canonical["jobDependencies"][2]["logicalGrouping"] == {
        "or": [{"identifier": "local-morning"}, {"identifier": "local-inbox"}]
    }
    assert canonical["blackoutWindowDateTimeRanges"] == [
        {"start": 1_798_070_400_000, "end": 1_798_329_600_000}
    ]


@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_the_plans_cover_the_model(source: str) -> None:
    plan = load_plan_text(SOURCES[source])
    assert depth(plan) == 3
    assert {job.WhichOneof("job_type") for job in all_jobs(plan)} - {None} == JOB_TYPES
    commands = [
        j.internal_event_driven_job
        for j in all_jobs(plan)
        if j.WhichOneof("job_type") == "internal_event_driven_job"
    ]
    assert any(c.timeout_seconds and c.retry.count and c.run_as_user for c in commands)
    assert any(j.priority and j.owner for j in all_jobs(plan))
    assert plan.job_locks and plan.context_parameters and plan.blackout_window_date_time_ranges
    # The Ikasan export sets two fields ikasched does not act on: they load (and round-trip),
    # and validation refuses them by name instead of ignoring them.
    errors = [p.path for p in validate_plan(plan) if p.severity is Severity.ERROR]
    assert errors == (
        [
            "scheduledJobs[0].quartzScheduleDrivenJob.ignoreMisfire",
            "contexts[0].scheduledJobs[2].startupControlType",
        ]
        if source == "json"
        else []
    ), errors


@pytest.mark.parametrize("source", SOURCES, ids=str)
def test_groupings_dump_as_and_or_not(source: str) -> None:
    plan = load_plan_text(SOURCES[source])
    for text in (dump_plan_json(plan), json_format.MessageToJson(plan)):
        assert '"and": [' in text and '"not": [' in text
        assert "allOf" not in text and "noneOf" not in text and "all_of" not in text
    assert '"or": [' in dump_plan_json(plan)
    dumped_yaml = yaml.safe_load(dump_plan(plan, "yaml"))
    assert "or" in dumped_yaml["jobDependencies"][2]["logicalGrouping"]


# --------------------------------------------------------------------------- every field


def _populate(message: Message, levels: int, seed: list[int]) -> None:
    """Set every field of message (first member of each oneof) to a distinct non-default value."""
    descriptor = cast(Descriptor, message.DESCRIPTOR)
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.fields[0] is not field:
            continue
        seed[0] += 1
        if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            assert field.message_type is not None
            if field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                getattr(message, field.name)[f"k{seed[0]}"] = _scalar(value_field, seed[0])
            elif levels > 0:
                target = getattr(message, field.name)
                for _ in range(2 if field.is_repeated else 1):
                    child = target.add() if field.is_repeated else target
                    _populate(child, levels - 1, seed)
                    if not field.is_repeated:
                        child.SetInParent()
        elif field.is_repeated:
            getattr(message, field.name).extend(
                [_scalar(field, seed[0]), _scalar(field, seed[0] + 1)]
            )
        else:
            setattr(message, field.name, _scalar(field, seed[0]))


def _scalar(field: FieldDescriptor, n: int) -> Any:
    cpp = field.cpp_type
    if cpp == FieldDescriptor.CPPTYPE_STRING:
        return f"v{n}"
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return True
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        assert field.enum_type is not None
        numbers = [v.number for v in field.enum_type.values if v.number != 0]
        return numbers[n % len(numbers)]
    if cpp in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return n + 0.5
    if cpp in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64):
        return 2**40 + n  # beyond 2**32: 64-bit values survive as numbers
    return n


@pytest.mark.parametrize("job_type", sorted(JOB_TYPES))
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_every_field_of_the_model_round_trips(job_type: str, fmt: Format) -> None:
    plan = plan_pb2.Context()
    _populate(plan, 4, [0])
    for ctx in all_contexts(plan):
        for job in ctx.scheduled_jobs:
            getattr(job, job_type).SetInParent()
            _populate(getattr(job, job_type), 2, [100])
    assert {j.WhichOneof("job_type") for j in all_jobs(plan)} == {job_type}
    assert load_plan_text(dump_plan(plan, fmt), fmt=fmt) == plan


@given(
    st.text() | st.sampled_from(["\x85", "a\r\nb", "\u2028", " lead", "trail \n", "yes", "0x1F"]),
    st.sampled_from(["json", "yaml"]),
)
def test_any_text_survives_a_dump(text: str, fmt: Format) -> None:
    plan = plan_pb2.Context(name=text or "x", description=text)
    plan.labels[text] = text
    job = plan.scheduled_jobs.add(agent_name="a", job_name="b")
    job.internal_event_driven_job.command_line = text
    assert load_plan_text(dump_plan(plan, fmt), fmt=fmt) == plan
