"""Export to an Ikasan bundle and back: the round trip keeps the plan, ikasched-only fields are
left out with a note each, and the relay fixtures (a context JSON with local and bridging
jobs, and the same as a stored bundle zip) import to the same plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ikasched.v1 import plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.ikasan_export import export_ikasan, glob_to_regex
from ikasched_dashboard.plans.ikasan_format import NoteKind, check_strict, regex_to_glob
from ikasched_dashboard.plans.ikasan_import import files_of_zip, import_ikasan
from ikasched_dashboard.plans.loader import plan_from_dict
from ikasched_dashboard.plans.plan_index import job_identifier

from .test_import import _files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ikasan"
RELAY = FIXTURES / "contexts" / "relay.json"
RELAY_ZIP = FIXTURES / "relay-bundle.zip"


def _relay(path: Path = RELAY) -> plan_pb2.Context:
    files = (
        files_of_zip(path.read_bytes(), path.name)
        if path.suffix == ".zip"
        else [(path.name, path.read_bytes())]
    )
    (imported,) = import_ikasan(files, agent_map={"relay-host": "local"})
    return imported.plan


def _round_trip(plan: plan_pb2.Context) -> plan_pb2.Context:
    files, _ = export_ikasan(plan)
    (again,) = import_ikasan(files)
    return again.plan


def test_bundle_round_trip_gives_the_same_plan() -> None:
    (imported,) = import_ikasan(_files(), agent_map={"ikasan-host": "local"})
    files, notes = export_ikasan(imported.plan)
    names = [name for name, _ in files]
    assert names[0] == "templates/ikasan-nightly.json"
    assert "jobs/internal/local-first.json" in names and "jobs/quartz/local-trigger.json" in names
    template = json.loads(files[0][1])
    assert template["blackoutWindowDateTimeRanges"] == {"1798761600000": 1798848000000}
    assert template["contexts"][0]["jobLocks"][0]["jobs"] == {
        "batch": [
            {"identifier": "local-left", "agentName": "local", "jobName": "left"},
            {"identifier": "local-right", "agentName": "local", "jobName": "right"},
        ]
    }
    trigger = template["scheduledJobs"][0]
    assert trigger["jobType"] == "QuartzScheduleDrivenJob"
    assert trigger["recoveryTolerance"] == 60000 and "misfireGraceSeconds" not in trigger
    assert template["contextTtlMilliseconds"] == 3600000  # longs as numbers, as Ikasan writes
    assert template["scheduledJobs"][1]["maxExecutionTime"] == -1
    first = json.loads(dict(files)["jobs/internal/local-first.json"])
    assert first["successfulReturnCodes"] == ["0"] and first["contextName"] == "ikasan-nightly"
    incoming = template["scheduledJobs"][5]
    assert incoming["filenames"] == [r"data_[0-9][0-9][0-9][0-9]\.csv"]
    assert [n.kind for n in notes] == [NoteKind.CHANGED]  # grace seconds -> tolerance ms
    (again,) = import_ikasan(files)
    assert again.plan == imported.plan


def test_relay_round_trip_and_local_bridging_jobs() -> None:
    plan = _relay()
    kinds = {
        job_identifier(j): j.WhichOneof("job_type")
        for c in plan.contexts
        for j in c.scheduled_jobs
        if j.WhichOneof("job_type")
    }
    assert kinds["LOCAL_EVENT-extracted"] == "local_event_job"
    assert kinds["BRIDGING-loaded"] == "bridging_job"
    pull = next(j for j in plan.contexts[0].scheduled_jobs if j.job_name == "pull")
    params = pull.internal_event_driven_job.context_parameters
    assert [(p.name, p.default_value) for p in params] == [("MARKS", ""), ("STAGE", "raw")]
    assert _round_trip(plan) == plan


def _shape(plan: plan_pb2.Context) -> tuple[dict[str, bytes], list[tuple[str, str]], bytes]:
    """(every job's definition, every (context, occurrence), the plan without its jobs):
    equal for plans that differ only in which occurrence carries a job's definition."""
    defs: dict[str, bytes] = {}
    where: list[tuple[str, str]] = []
    bare = plan_pb2.Context()
    bare.CopyFrom(plan)

    def walk(ctx: plan_pb2.Context) -> None:
        for job in ctx.scheduled_jobs:
            ident = job_identifier(job)
            where.append((ctx.name, ident))
            if job.WhichOneof("job_type"):
                defs[ident] = job.SerializeToString(deterministic=True)
        ctx.ClearField("scheduled_jobs")
        for child in ctx.contexts:
            walk(child)

    walk(bare)
    return defs, where, bare.SerializeToString(deterministic=True)


def test_stored_zip_imports_to_the_same_plan_as_the_context_json() -> None:
    """The zip defines every job in jobs/<kind>/ (kind from the directory, no jobType): a job
    is defined at its first occurrence, the same plan otherwise."""
    assert _shape(_relay(RELAY_ZIP)) == _shape(_relay())


def test_ikasched_only_fields_are_left_out_each_with_a_note() -> None:
    plan = plan_from_dict(
        {
            "name": "ours",
            "owner": "team-a",
            "labels": {"tier": "1"},
            "contextParameters": [{"name": "PW", "defaultValue": "s3cret", "secret": True}],
            "scheduledJobs": [
                {
                    "agentName": "a1",
                    "jobName": "run",
                    "priority": 5,
                    "internalEventDrivenJob": {
                        "commandLine": "true",
                        "timeoutSeconds": 30,
                        "retry": {"count": 2, "delaySeconds": 1},
                        "runAsUser": "batch",
                    },
                }
            ],
            "jobDependencies": [{"jobIdentifier": "a1-run"}],
            "jobLocks": [
                {"name": "l", "lockCount": 2, "jobs": [{"identifier": "a1-run", "lockCount": 2}]}
            ],
        }
    )
    files, notes = export_ikasan(plan)
    dropped = {n.path for n in notes if n.kind is NoteKind.DROPPED}
    assert dropped == {
        "owner",
        "labels",
        "contextParameters[0].secret",
        "scheduledJobs[0].priority",
        "scheduledJobs[0].timeoutSeconds",
        "scheduledJobs[0].retry",
        "scheduledJobs[0].runAsUser",
        "jobLocks[0].jobs[0].lockCount",
    }
    text = files[0][1].decode()
    for word in ("retry", "timeoutSeconds", "runAsUser", "priority", "labels", "secret"):
        assert word not in text
    (again,) = import_ikasan(files)  # what is left still imports and validates
    assert again.plan.job_locks[0].jobs[0].child_context_name == "ours"
    assert not again.plan.scheduled_jobs[0].internal_event_driven_job.HasField("retry")


@pytest.mark.parametrize(
    "glob", ["*.csv", "data_[0-9]?.txt", "[!x]y*", "a+b(c).txt", "report-{x}|$.dat"]
)
def test_glob_to_regex_reads_back_as_the_same_glob(glob: str) -> None:
    assert regex_to_glob(glob_to_regex(glob)) == glob


def test_an_error_names_the_file_first_then_the_json_path() -> None:
    files = [f for f in _files() if not f[0].endswith("last.json")]
    with pytest.raises(InvalidArgument) as err:
        import_ikasan(files)
    assert str(err.value).startswith("templates/nightly.json: scheduledJobs[6]: job ")
    assert err.value.field == "scheduledJobs[6]"


def test_a_plan_that_does_not_validate_names_the_file_and_path() -> None:
    doc = json.loads(RELAY.read_bytes())
    del doc["contexts"][0]["scheduledJobs"][1]  # kick is no longer listed in "extract"
    with pytest.raises(InvalidArgument) as err:
        import_ikasan([("relay.json", json.dumps(doc).encode())])
    text = str(err.value)
    assert text.startswith("relay.json: contexts[0].jobDependencies[0].logicalGrouping.and[0]: ")
    assert "does not validate" in text and "relay-host-kick" in text


def test_truncated_json_names_the_file() -> None:
    files = dict(_files())
    files["jobs/internal/left.json"] = files["jobs/internal/left.json"][:40]
    with pytest.raises(InvalidArgument, match=r"^jobs/internal/left.json: "):
        import_ikasan(list(files.items()))


def test_strict_refuses_any_dropped_or_changed_field() -> None:
    (imported,) = import_ikasan(_files())
    with pytest.raises(InvalidArgument) as err:
        check_strict([imported.report])
    assert err.value.field == "strict"
    assert "4 field(s) dropped or changed" in str(err.value)
    assert "templates/nightly.json: treeViewExpandLevel" in str(err.value)
    check_strict([r.report for r in import_ikasan([(RELAY.name, _no_layout(RELAY))])])


def _no_layout(path: Path) -> bytes:
    doc = json.loads(path.read_bytes())
    del doc["useDisplayName"]
    return json.dumps(doc).encode()


def test_deep_nesting_repeatable_manual_and_exclusive_lock() -> None:
    """contexts/deep.json: a grandchild context, a repeatable job acting only where it resides,
    a MANUAL job (held where it resides; before the fix its marker failed the field check), an
    exclusive lock, a nested grouping with or/not, and a cron job's own blackout windows."""
    doc = (FIXTURES / "contexts" / "deep.json").read_bytes()
    (imported,) = import_ikasan([("deep.json", doc)], agent_map={"deep-host": "local"})
    plan = imported.plan
    inner = plan.contexts[0].contexts[0]
    assert (plan.contexts[0].name, inner.name) == ("outer", "inner")
    work = next(j for j in inner.scheduled_jobs if j.job_name == "work")
    assert work.internal_event_driven_job.job_repeatable
    assert work.internal_event_driven_job.target_residing_context_only
    gate = next(j for j in plan.scheduled_jobs if j.job_name == "gate")
    assert dict(gate.held_contexts) == {"ikasan-deep": True}
    assert gate.startup_control_type == 0  # replaced by the held map
    tick = next(j for j in plan.scheduled_jobs if j.job_name == "tick").quartz_schedule_driven_job
    assert [(r.start, r.end) for r in tick.blackout_window_date_time_ranges] == [
        (1798761600000, 1798848000000)
    ]
    assert tick.drop_event_on_blackout and list(tick.blackout_window_cron_expressions)
    lock = plan.job_locks[0]
    assert lock.exclusive_job_lock and [
        (p.identifier, p.child_context_name) for p in lock.jobs
    ] == [("local-work", "inner")]
    finish = next(d for d in plan.job_dependencies if d.job_identifier == "local-finish")
    nested = finish.logical_grouping.logical_grouping
    assert [o.identifier for o in nested.any_of] == ["local-tick"]
    assert [o.identifier for o in nested.none_of] == ["GLOBAL_EVENT-abort"]
    changed = [n.path for n in imported.report.notes if n.kind is NoteKind.CHANGED]
    assert changed == ["scheduledJobs[1].startupControlType"]
    assert _round_trip(plan) == plan


def test_a_job_store_field_is_reported_not_dropped_silently() -> None:
    files = dict(_files())
    doc = json.loads(files["jobs/internal/first.json"])
    doc.update(id="5f1c", modifiedBy="ann", timestamp=1700000000000)
    files["jobs/internal/first.json"] = json.dumps(doc).encode()
    (imported,) = import_ikasan(list(files.items()))
    dropped = {
        (n.source, n.path)
        for n in imported.report.notes
        if n.kind is NoteKind.DROPPED and n.source == "jobs/internal/first.json"
    }
    assert dropped == {
        ("jobs/internal/first.json", "id"),
        ("jobs/internal/first.json", "modifiedBy"),
        ("jobs/internal/first.json", "timestamp"),
    }
