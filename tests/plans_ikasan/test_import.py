"""Import of an Ikasan bundle (our own fixture): conversion, the report, and errors that name
the file and JSON path."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.ikasan_format import NoteKind, regex_to_glob, render_report
from ikasched_dashboard.plans.ikasan_import import files_of_zip, import_ikasan
from ikasched_dashboard.plans.plan_index import job_identifier

BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "ikasan" / "bundle"


def _files() -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(BUNDLE)), p.read_bytes()) for p in sorted(BUNDLE.rglob("*.json"))]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in _files():
            archive.writestr(name, data)
    return buf.getvalue()


def test_bundle_converts_every_kind_with_agent_map() -> None:
    (imported,) = import_ikasan(_files(), agent_map={"ikasan-host": "local"})
    plan = imported.plan
    assert plan.name == "ikasan-nightly"
    assert plan.timezone == "Europe/London" and plan.context_ttl_milliseconds == 3600000
    assert [(r.start, r.end) for r in plan.blackout_window_date_time_ranges] == [
        (1798761600000, 1798848000000)
    ]
    kinds = {job_identifier(j): j.WhichOneof("job_type") for j in plan.scheduled_jobs}
    assert kinds["local-trigger"] == "quartz_schedule_driven_job"
    assert kinds["local-incoming"] == "file_event_driven_job"
    assert kinds["GLOBAL_EVENT-stop"] == "global_event_job"
    assert kinds["CONTEXT_TERMINAL_JOB-batch"] is None  # defined in the child context
    child = plan.contexts[0]
    assert child.job_locks[0].lock_count == 1
    assert {(p.identifier, p.child_context_name) for p in child.job_locks[0].jobs} == {
        ("local-left", "batch"),
        ("local-right", "batch"),
    }
    last = next(d for d in plan.job_dependencies if d.job_identifier == "local-last")
    assert [o.identifier for o in last.logical_grouping.any_of] == [
        "CONTEXT_TERMINAL_JOB-batch",
        "local-incoming",
    ]
    assert [o.identifier for o in last.logical_grouping.none_of] == ["GLOBAL_EVENT-stop"]
    incoming = next(j for j in plan.scheduled_jobs if j.job_name == "incoming")
    assert list(incoming.file_event_driven_job.filenames) == ["data_[0-9][0-9][0-9][0-9].csv"]
    trigger = next(j for j in plan.scheduled_jobs if j.job_name == "trigger")
    assert trigger.quartz_schedule_driven_job.misfire_grace_seconds == 60
    dropped = {n.path for n in imported.report.notes if n.kind is NoteKind.DROPPED}
    assert dropped == {"treeViewExpandLevel", "encoding"}
    text = render_report([imported.report])
    assert text.startswith("MIGRATION REPORT") and "2 field(s) dropped" in text


def test_zip_bundle_gives_the_same_plan() -> None:
    (from_zip,) = import_ikasan(files_of_zip(_zip()), agent_map={"ikasan-host": "local"})
    (from_dir,) = import_ikasan(_files(), agent_map={"ikasan-host": "local"})
    assert from_zip.plan == from_dir.plan


def test_missing_job_file_names_the_file_and_path() -> None:
    files = [f for f in _files() if not f[0].endswith("last.json")]
    with pytest.raises(InvalidArgument) as err:
        import_ikasan(files)
    assert "templates/nightly.json: scheduledJobs[6]" in str(err.value)
    assert "ikasan-host-last" in str(err.value)


def test_bad_field_names_the_job_file() -> None:
    files = dict(_files())
    doc = json.loads(files["jobs/internal/first.json"])
    doc["successfulReturnCodes"] = ["zero"]
    files["jobs/internal/first.json"] = json.dumps(doc).encode()
    with pytest.raises(
        InvalidArgument, match=r"jobs/internal/first.json: successfulReturnCodes\[0\]"
    ):
        import_ikasan(list(files.items()))


@pytest.mark.parametrize(
    ("regex", "glob"),
    [
        (r".*\.csv", "*.csv"),
        (r"^data_\d{2}\.txt$", "data_[0-9][0-9].txt"),
        (r"[^x]y.", "[!x]y?"),
        (r"(a|b)\.csv", None),
        (r"a+", None),
    ],
)
def test_regex_to_glob(regex: str, glob: str | None) -> None:
    assert regex_to_glob(regex) == glob
