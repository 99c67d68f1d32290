"""Loading plans written by people: YAML and JSON, files and directories, path-named problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ikasched.v1 import common_pb2, plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.loader import (
    LoadProblem,
    PlanLoadError,
    dump_plan_json,
    dump_plan_yaml,
    load_plan_dir,
    load_plan_file,
    load_plan_text,
    normalise_plan_dict,
    plan_from_dict,
)

CHAIN_YAML = """
name: chain
time_window_start: "0 0 1 ? * * *"
contextTtlMilliseconds: 3600000
scheduled_jobs:
  - agent_name: local
    job_name: first
    internal_event_driven_job: {command_line: echo one, timeout_seconds: "30"}
  - agentName: local
    jobName: second
    internalEventDrivenJob: {commandLine: echo two}
job_dependencies:
  - job_identifier: local-second
    logical_grouping: {and: [local-first]}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(PlanLoadError) as caught:
        load_plan_text(text)
    return [str(p) for p in caught.value.problems]


def test_yaml_with_snake_and_camel_names_loads_into_the_proto_model() -> None:
    plan = load_plan_text(CHAIN_YAML)
    assert plan.name == "chain"
    assert plan.time_window_start == "0 0 1 ? * * *"
    assert plan.context_ttl_milliseconds == 3_600_000
    first, second = plan.scheduled_jobs
    assert first.internal_event_driven_job.command_line == "echo one"
    assert first.internal_event_driven_job.timeout_seconds == 30
    assert second.WhichOneof("job_type") == "internal_event_driven_job"
    operand = plan.job_dependencies[0].logical_grouping.all_of[0]
    assert operand.identifier == "local-first"  # a bare name stands for {identifier: ...}


def test_json_loads_the_same_plan_as_yaml() -> None:
    as_json = json.dumps(
        {
            "name": "chain",
            "timeWindowStart": "0 0 1 ? * * *",
            "context_ttl_milliseconds": "3600000",
            "scheduledJobs": [
                {
                    "agentName": "local",
                    "jobName": "first",
                    "internalEventDrivenJob": {"commandLine": "echo one", "timeoutSeconds": 30},
                },
                {
                    "agent_name": "local",
                    "job_name": "second",
                    "internal_event_driven_job": {"command_line": "echo two"},
                },
            ],
            "jobDependencies": [
                {
                    "jobIdentifier": "local-second",
                    "logicalGrouping": {"and": [{"identifier": "local-first"}]},
                }
            ],
        }
    )
    assert load_plan_text(as_json) == load_plan_text(CHAIN_YAML)
    assert load_plan_text(as_json, fmt="json") == load_plan_text(CHAIN_YAML, fmt="yaml")


def test_text_starting_with_a_brace_is_json_or_else_a_yaml_flow_mapping() -> None:
    assert load_plan_text("{name: p, owner: me}") == plan_pb2.Context(name="p", owner="me")
    assert load_plan_text('{"name": "p",}') == plan_pb2.Context(name="p")  # YAML allows it
    assert problems_of('{"name": ]}') == ["invalid JSON at line 1 column 10: Expecting value"]
    with pytest.raises(PlanLoadError):
        load_plan_text("{name: p}", fmt="json")


def test_day_names_in_any_case_and_quartz_numbers_become_enum_values() -> None:
    plan = load_plan_text("""
name: days
scheduled_jobs:
  - agent_name: a
    job_name: j
    startup_control_type: disabled
    internal_event_driven_job:
      command_line: "true"
      days_of_week_to_run: [mon, Monday, TUESDAY, wed, Thurs, 6, "7", sun]
""")
    job = plan.scheduled_jobs[0]
    days = [common_pb2.DayOfWeek.Name(d) for d in job.internal_event_driven_job.days_of_week_to_run]
    assert days == ["MON", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    assert job.startup_control_type == common_pb2.STARTUP_DISABLED


def test_a_single_value_stands_for_a_list_and_an_empty_job_type_is_chosen() -> None:
    plan = load_plan_text("""
name: p
scheduled_jobs:
  - identifier: CONTEXT_START_JOB-x
    context_start_job:
  - agent_name: a
    job_name: f
    file_event_driven_job: {cron_expression: "0 * * ? * *", file_path: /in, filenames: "*.csv"}
""")
    assert plan.scheduled_jobs[0].WhichOneof("job_type") == "context_start_job"
    assert list(plan.scheduled_jobs[1].file_event_driven_job.filenames) == ["*.csv"]


def test_blackout_ranges_accept_dates_and_iso_date_times() -> None:
    plan = load_plan_text("""
name: p
blackout_window_date_time_ranges:
  - {start: 2024-01-01, end: "2024-01-01T12:00:00+01:00"}
  - {start: 1000, end: "2000"}
""")
    first, second = plan.blackout_window_date_time_ranges
    assert (first.start, first.end) == (1_704_067_200_000, 1_704_106_800_000)
    assert (second.start, second.end) == (1000, 2000)


def test_wrong_type_is_reported_with_the_path_as_written() -> None:
    text = """
name: p
contexts:
  - name: c1
  - name: c2
    scheduled_jobs:
      - agent_name: a
        job_name: j
        internal_event_driven_job: {command_line: x, timeout_seconds: ten}
"""
    assert problems_of(text) == [
        "contexts[1].scheduled_jobs[0].internal_event_driven_job.timeout_seconds: "
        "expected an integer, got 'ten'"
    ]


def test_every_problem_is_reported_at_once_with_hints() -> None:
    text = """
name: p
nmae: q
jobDependancies: []
ttl: 5
contexts:
  - name: c
    ordinal: 99999999999
    scheduled_jobs:
      - agent_name: a
        command_line: echo
        internal_event_driven_job:
          days_of_week_to_run: [funday]
          successful_return_codes: {a: 1}
        quartz_schedule_driven_job: {}
        startup_control_type: sometimes
        job_name: yes
        jobName: j
"""
    assert problems_of(text) == [
        "nmae: unknown field 'nmae' in Context; did you mean 'name'?",
        "jobDependancies: unknown field 'jobDependancies' in Context; "
        "did you mean 'jobDependencies'?",
        "ttl: unknown field 'ttl' in Context",
        "contexts[0].ordinal: 99999999999 is out of range (-2147483648..2147483647)",
        "contexts[0].scheduled_jobs[0].command_line: unknown field 'command_line' in "
        "SchedulerJob; it belongs inside 'internal_event_driven_job'",
        "contexts[0].scheduled_jobs[0].internal_event_driven_job.days_of_week_to_run[0]: "
        "expected one of SUN, MON, TUE, WED, THU, FRI, SAT; got 'funday'; did you mean 'SUN'?",
        "contexts[0].scheduled_jobs[0].internal_event_driven_job.successful_return_codes[0]: "
        "expected an integer, got a mapping",
        "contexts[0].scheduled_jobs[0].startup_control_type: expected one of AUTOMATIC, MANUAL, "
        "STARTUP_DISABLED; got 'sometimes'",
        "contexts[0].scheduled_jobs[0].job_name: expected a string, got true (quote it: YAML "
        "reads yes/no/on/off/true/false as booleans)",
        "contexts[0].scheduled_jobs[0].jobName: repeats field 'job_name' (same field, "
        "other spelling)",
        "contexts[0].scheduled_jobs[0]: a job has several job types: "
        "'internal_event_driven_job', 'quartz_schedule_driven_job'; keep one",
    ]


def test_case_and_separator_slips_in_field_names_get_the_right_suggestion() -> None:
    assert problems_of("name: p\nTimeWindowStart: x\n") == [
        "TimeWindowStart: unknown field 'TimeWindowStart' in Context; "
        "did you mean 'timeWindowStart'?"
    ]


def test_an_operand_naming_both_a_job_and_a_grouping_is_refused() -> None:
    text = """
name: p
job_dependencies:
  - job_identifier: b
    logical_grouping:
      or: [{identifier: a, logical_grouping: {and: [c]}}]
"""
    assert problems_of(text) == [
        "job_dependencies[0].logical_grouping.or[0]: only one of the alternatives of 'operand' "
        "may be set: 'identifier', 'logical_grouping'; keep one"
    ]


def test_structure_errors_name_the_expected_shape() -> None:
    assert problems_of("name: p\nscheduled_jobs: {a: 1}\ncontexts: [5]\n") == [
        "scheduled_jobs: expected a list, got a mapping",
        "contexts[0]: expected a mapping (Context), got 5",
    ]
    assert problems_of("- a\n- b\n") == [
        "a plan is a mapping of fields (name, scheduled_jobs, ...), got a list"
    ]


def test_syntax_errors_and_duplicate_keys_carry_line_numbers() -> None:
    assert problems_of("name: p\nname: q\n") == ["line 2: key 'name' appears twice in one mapping"]
    assert problems_of('{"name": "p", "name": "q"}') == ["key 'name' appears twice in one object"]
    yaml_error = problems_of("name: p\ncontexts: [\n")
    assert yaml_error[0].startswith("invalid YAML at line 3 column 1")
    assert problems_of('{"name": "p",\n ]')[0].startswith("invalid JSON at line 2 column 2")
    assert problems_of("name: a\n---\nname: b\n") == [
        "holds 2 YAML documents; write one plan per file"
    ]


def test_the_error_is_an_invalid_argument_naming_the_first_path() -> None:
    with pytest.raises(InvalidArgument) as caught:
        load_plan_text("name: p\ncontexts: [{name: c, ordinal: x}]\n", source="plan.yaml")
    assert caught.value.field == "contexts[0].ordinal"
    assert "plan.yaml: contexts[0].ordinal: expected an integer, got 'x'" in str(caught.value)


def test_files_are_read_by_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(CHAIN_YAML)
    (tmp_path / "b.json").write_text(dump_plan_json(load_plan_text(CHAIN_YAML)))
    assert load_plan_file(tmp_path / "a.yml") == load_plan_file(tmp_path / "b.json")
    with pytest.raises(PlanLoadError) as caught:
        load_plan_file(tmp_path / "missing.yaml")
    assert caught.value.problems[0].source == str(tmp_path / "missing.yaml")
    assert caught.value.problems[0].message.startswith("cannot read")


def test_a_directory_loads_every_plan_file_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "b.yaml").write_text("name: beta\n")
    (tmp_path / "a.json").write_text('{"name": "alpha"}')
    (tmp_path / "sub" / "c.yml").write_text("name: gamma\n")
    (tmp_path / ".hidden" / "d.yaml").write_text("name: hidden\n")
    (tmp_path / "notes.txt").write_text("not a plan")
    loaded = load_plan_dir(tmp_path)
    assert [p.plan.name for p in loaded] == ["alpha", "beta", "gamma"]
    assert [Path(p.source).name for p in loaded] == ["a.json", "b.yaml", "c.yml"]


def test_a_directory_reports_problems_of_all_files_and_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: same\n")
    (tmp_path / "b.yaml").write_text("name: same\n")
    (tmp_path / "c.yaml").write_text("name: c\nowner: [x]\n")
    (tmp_path / "d.json").write_text("{")
    with pytest.raises(PlanLoadError) as caught:
        load_plan_dir(tmp_path)
    found = [(Path(p.source).name, p.path, p.message.split(":")[0]) for p in caught.value.problems]
    assert found == [
        ("b.yaml", "name", f"plan name 'same' is also used by {tmp_path / 'a.yaml'}"),
        ("c.yaml", "owner", "expected a string, got a list"),
        ("d.json", "", "invalid JSON at line 1 column 2"),
    ]
    with pytest.raises(PlanLoadError):
        load_plan_dir(tmp_path / "a.yaml")


def test_dumped_yaml_keeps_scripts_as_literal_blocks() -> None:
    plan = load_plan_text(
        "name: p\nscheduled_jobs:\n  - agent_name: a\n    job_name: j\n"
        "    internal_event_driven_job:\n      command_line: |\n        echo one\n"
        "        echo two\n"
    )
    text = dump_plan_yaml(plan)
    assert "commandLine: |\n      echo one\n      echo two\n" in text
    assert load_plan_text(text) == plan


def test_load_problem_text_joins_source_and_path() -> None:
    assert str(LoadProblem("a.b", "bad", "f.yaml")) == "f.yaml: a.b: bad"
    assert str(LoadProblem("", "bad", "")) == "bad"


def test_default_values_normalise_away() -> None:
    assert normalise_plan_dict(
        {
            "name": "p",
            "ordinal": 0,
            "disabled": False,
            "description": "",
            "contexts": [],
            "scheduled_jobs": [
                {
                    "startup_control_type": "STARTUP_CONTROL_TYPE_UNSPECIFIED",
                    "context_start_job": None,
                }
            ],
        }
    ) == {"name": "p", "scheduledJobs": [{"contextStartJob": {}}]}


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans())
def test_64_bit_integers_load_from_numbers_and_strings(value: int, as_text: bool) -> None:
    written = str(value) if as_text else value
    plan = plan_from_dict({"name": "p", "context_ttl_milliseconds": written})
    assert plan.context_ttl_milliseconds == value
    assert isinstance(plan, plan_pb2.Context)


_FIELD_NAMES = sorted(
    {
        n
        for d in (
            plan_pb2.Context.DESCRIPTOR,
            plan_pb2.SchedulerJob.DESCRIPTOR,
            plan_pb2.InternalEventDrivenJob.DESCRIPTOR,
            plan_pb2.LogicalGrouping.DESCRIPTOR,
            plan_pb2.JobDependency.DESCRIPTOR,
            plan_pb2.JobLock.DESCRIPTOR,
        )
        for f in d.fields
        for n in (f.name, f.json_name)
    }
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["mon", "7", "MANUAL", "x"]),
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=25,
)


@given(st.dictionaries(st.sampled_from(_FIELD_NAMES), _DOCUMENTS, max_size=5))
def test_any_document_either_loads_or_fails_with_named_problems(doc: dict[str, object]) -> None:
    try:
        plan = plan_from_dict(doc)
    except PlanLoadError as exc:
        assert exc.problems
        assert all(p.message for p in exc.problems)
    else:
        assert isinstance(plan, plan_pb2.Context)


def test_documents_nesting_too_deep_are_refused_with_a_path() -> None:
    doc: dict[str, object] = {"name": "p"}
    level = doc
    for i in range(100):
        child: dict[str, object] = {"name": f"c{i}"}
        level["contexts"] = [child]
        level = child
    with pytest.raises(PlanLoadError) as caught:
        plan_from_dict(doc)
    (problem,) = caught.value.problems
    assert problem.path == ".".join(["contexts[0]"] * 90)
    assert "limit MAX_DOCUMENT_DEPTH" in problem.message
    assert problems_of("[" * 100_000) == ["the document nests too deeply"]
