"""`ikasched plan import-ikasan` and `plan export --format ikasan` against the live stack (a real
dashboard and a real agent "local", subprocesses): Ikasan fixtures applied with --agent-map run
to COMPLETE with real processes in the order Ikasan's semantics give; the exported bundle
imports back unchanged; bad input is one line naming the file and JSON path."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from .conftest import REPO, Cli, assert_one_line_error, clean_env, run

FIXTURES = REPO / "tests" / "fixtures" / "ikasan"
BUNDLE = FIXTURES / "bundle"
RELAY = FIXTURES / "contexts" / "relay.json"
RELAY_ZIP = FIXTURES / "relay-bundle.zip"


def _offline(*args: str, cwd: Path) -> tuple[int, str, str]:
    result = run(list(args), cwd=cwd, env=clean_env())
    return result.rc, result.out, result.err


def _complete(stack: Cli, iid: str) -> None:
    stack.wait_for(
        f"instance {iid} COMPLETE",
        lambda: stack.json("instance", "get", iid)["status"] == "COMPLETE",
    )


def test_dry_run_needs_no_dashboard_and_prints_the_report(tmp_path: Path) -> None:
    rc, out, err = _offline(
        "plan", "import-ikasan", str(BUNDLE), "--agent-map", "ikasan-host=local", cwd=tmp_path
    )
    assert rc == 0, err
    assert out.startswith("MIGRATION REPORT\nplan ikasan-nightly (from ")
    assert "dropped  " in out and "treeViewExpandLevel" in out
    assert "changed  " in out and "-> glob 'data_[0-9][0-9][0-9][0-9].csv'" in out
    assert "6 agents renamed" in out and "nothing was applied" in out
    rc, out, err = _offline(
        "plan", "import-ikasan", str(RELAY_ZIP), "--dry-run", "-o", "json", cwd=tmp_path
    )
    assert rc == 0, err
    (plan,) = json.loads(out)["plans"]
    assert plan["name"] == "ikasan-relay" and plan["converted"]["bridging jobs"] == 1


def test_bad_input_is_one_line_naming_the_file_and_path(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    left = bundle / "jobs" / "internal" / "left.json"
    doc = json.loads(left.read_text())
    doc["successfulReturnCodes"] = ["0", "zero"]
    left.write_text(json.dumps(doc))
    for extra in ((), ("--strict",)):
        result = run(["plan", "import-ikasan", str(bundle), *extra], cwd=tmp_path, env=clean_env())
        assert_one_line_error(result, contains=f"{left}: successfulReturnCodes[1]")
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x", "scheduledJobs": [')
    assert_one_line_error(
        run(["plan", "import-ikasan", str(broken)], cwd=tmp_path, env=clean_env()),
        contains=str(broken),
    )
    notzip = tmp_path / "bundle.zip"
    notzip.write_bytes(b"PK\x03\x04 not really")
    assert_one_line_error(
        run(["plan", "import-ikasan", str(notzip)], cwd=tmp_path, env=clean_env()),
        contains=f"{notzip}: $: not a zip archive",
    )
    assert_one_line_error(
        run(
            ["plan", "import-ikasan", str(RELAY), "--agent-map", "relay-host"],
            cwd=tmp_path,
            env=clean_env(),
        ),
        rc=2,
        contains="--agent-map: expected IKASAN_AGENT=AGENT",
    )
    strict = run(["plan", "import-ikasan", str(BUNDLE), "--strict"], cwd=tmp_path, env=clean_env())
    assert_one_line_error(strict, contains="strict import refused: 4 field(s) dropped or changed")


def test_nightly_bundle_applies_and_runs_to_complete(stack: Cli, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    applied = stack.ok(
        "plan", "import-ikasan", str(BUNDLE), "--apply", "--agent-map", "ikasan-host=local"
    )
    assert (
        "MIGRATION REPORT" in applied.out
        and "plan ikasan-nightly: created (version 1)" in applied.out
    )
    iid = stack.ok("instance", "create", "ikasan-nightly", "--param", f"MARKS={marks}").out.strip()
    stack.ok("job", "run", iid, "local-trigger")  # the quartz job fires by hand
    _complete(stack, iid)
    order = (marks / "order").read_text().split()
    # first, then the child context's two lock-sharing jobs (either order), then last
    assert order[0] == "first" and sorted(order[1:3]) == ["left", "right"] and order[3:] == ["last"]
    jobs = {j["identifier"]: j["status"] for j in stack.json("instance", "get", iid)["jobs"]}
    assert jobs["GLOBAL_EVENT-stop"] != "COMPLETE" and jobs["local-last"] == "COMPLETE"


def test_relay_zip_runs_and_its_export_imports_back_unchanged(stack: Cli, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    stack.ok("plan", "import-ikasan", str(RELAY_ZIP), "--apply", "--agent-map", "relay-host=local")
    iid = stack.ok("instance", "create", "ikasan-relay", "--param", f"MARKS={marks}").out.strip()
    stack.ok("job", "run", iid, "local-kick")
    _complete(stack, iid)
    # the local event hands extract over to load; the bridging job closes load; report last
    assert (marks / "order").read_text().split("\n") == ["kick", "pull raw", "push", "report", ""]

    out_zip = tmp_path / "relay-export.zip"
    exported = stack.ok(
        "plan", "export", "--format", "ikasan", "ikasan-relay", "--out", str(out_zip)
    )
    assert f"written to {out_zip}" in exported.out
    names = zipfile.ZipFile(out_zip).namelist()
    assert (
        names[0] == "templates/ikasan-relay.json"
        and "jobs/local/LOCAL_EVENT-extracted.json" in names
    )
    again = stack.json("plan", "import-ikasan", str(out_zip), "--apply")
    (plan,) = again["plans"]
    assert plan["unchanged"] is True, plan  # the round trip through Ikasan's format is lossless
    template = json.loads(stack.ok("plan", "export", "--format", "ikasan", "ikasan-relay").out)
    assert_one_line_error(
        stack.run("plan", "export", "ikasan-relay", "--out", str(tmp_path / "x")),
        rc=2,
        contains="--out writes an Ikasan bundle: use it with --format ikasan",
    )
    assert template["name"] == "ikasan-relay" and template["scheduledJobs"][0]["jobType"] == (
        "InternalEventDrivenJob"
    )


def test_deep_plan_holds_its_manual_job_until_released(stack: Cli, tmp_path: Path) -> None:
    """contexts/deep.json: a grandchild context, a MANUAL job held where it resides, an
    exclusive lock; the instance completes only once the held job is released."""
    marks = tmp_path / "marks"
    marks.mkdir()
    deep = FIXTURES / "contexts" / "deep.json"
    stack.ok("plan", "import-ikasan", str(deep), "--apply", "--agent-map", "deep-host=local")
    iid = stack.ok("instance", "create", "ikasan-deep", "--param", f"MARKS={marks}").out.strip()
    stack.ok("job", "run", iid, "local-tick")
    stack.wait_job(iid, "local-work", "COMPLETE", child="inner")
    stack.wait_job(iid, "local-gate", "ON_HOLD")
    assert stack.job_status(iid, "local-finish") == "WAITING"
    stack.ok("job", "release", iid, "local-gate")
    _complete(stack, iid)
    assert (marks / "order").read_text().split("\n") == ["work inner", "gate", "finish", ""]


def test_apply_refusals_through_the_api(stack: Cli, tmp_path: Path) -> None:
    limited = stack.json(
        "token", "create", "--subject", "pat", "--role", "admin", "--plan", "somewhere-else"
    )["secret"]
    assert_one_line_error(
        stack.run("plan", "import-ikasan", str(RELAY), "--apply", token=limited),
        contains="may not touch plan 'ikasan-relay'",
    )
    assert_one_line_error(
        stack.run("plan", "export", "--format", "ikasan", "ikasan-nightly", token=limited),
        contains="may not touch plan 'ikasan-nightly'",
    )
    broken = tmp_path / "relay.json"
    doc = json.loads(RELAY.read_text())
    doc["scheduledJobs"][0]["jobType"] = "SqlJob"
    broken.write_text(json.dumps(doc))
    assert_one_line_error(
        stack.run("plan", "import-ikasan", str(broken), "--apply"),
        contains=f"invalid: {broken}: scheduledJobs[0].jobType: unknown jobType 'SqlJob'",
    )
    assert_one_line_error(
        stack.run("plan", "import-ikasan", str(BUNDLE), "--apply", "--strict"),
        contains="strict import refused",
    )
    # two plans, the second does not validate: neither is stored
    both = tmp_path / "both"
    both.mkdir()
    good = json.loads(RELAY.read_text())
    good["name"] = "ikasan-alpha"
    (both / "alpha.json").write_text(json.dumps(good))
    bad = json.loads(RELAY.read_text())
    bad["name"] = "ikasan-beta"
    del bad["contexts"][0]["scheduledJobs"][1]
    (both / "beta.json").write_text(json.dumps(bad))
    assert_one_line_error(
        stack.run("plan", "import-ikasan", str(both), "--apply"),
        contains=f"{both}/beta.json: contexts[0].jobDependencies[0]",
    )
    assert_one_line_error(stack.run("plan", "get", "ikasan-alpha"), contains="not found")


def test_the_grpc_method_for_other_clients(stack: Cli, tmp_path: Path) -> None:
    """ImportIkasanPlans and ExportIkasanPlan called as any client would: a zip as bytes, the
    report as data, INVALID_ARGUMENT naming the file and JSON path; an export to a directory
    reads back through the CLI."""
    import grpc

    from ikasched.v1 import migration_service_pb2 as m
    from ikasched.v1 import migration_service_pb2_grpc
    from ikasched_common.auth import bearer_metadata

    md = bearer_metadata(stack.admin_token)
    with grpc.insecure_channel(stack.dashboard) as channel:
        stub = migration_service_pb2_grpc.MigrationServiceStub(channel)  # type: ignore[no-untyped-call]
        done = stub.ImportIkasanPlans(
            m.ImportIkasanPlansRequest(
                bundle_zip=RELAY_ZIP.read_bytes(), agent_map={"relay-host": "local"}
            ),
            metadata=md,
            timeout=30,
        )
        assert not done.applied and done.report.startswith("MIGRATION REPORT")
        (plan,) = done.plans
        assert plan.source == "bundle_zip:relay/templates/relay.json"
        assert dict(plan.converted)["local jobs"] == 1 and "blackout crons" not in plan.converted
        assert [(n.kind, n.path) for n in plan.notes if n.kind == m.DROPPED] == [
            (m.DROPPED, "useDisplayName")
        ]
        bad = m.ImportIkasanPlansRequest(
            files=[m.IkasanFile(path="t.json", content=b'{"name": "x", "contexts": 3}')]
        )
        for request, detail in (
            (bad, "t.json: contexts: expected a list"),
            (m.ImportIkasanPlansRequest(), "files: no files"),
            (
                m.ImportIkasanPlansRequest(bundle_zip=b"PK\x03\x04 not really"),
                "bundle_zip: $: not a zip archive",
            ),
        ):
            try:
                stub.ImportIkasanPlans(request, metadata=md, timeout=30)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc
                assert (exc.details() or "").startswith(detail), exc.details()
            else:
                raise AssertionError(f"accepted {request}")
    stack.ok("plan", "import-ikasan", str(BUNDLE), "--apply", "--agent-map", "ikasan-host=local")
    out_dir = tmp_path / "nightly"
    stack.ok("plan", "export", "--format", "ikasan", "ikasan-nightly", "--out", str(out_dir))
    assert (out_dir / "jobs" / "file" / "local-incoming.json").is_file()
    again = stack.json("plan", "import-ikasan", str(out_dir), "--apply")
    assert again["plans"][0]["unchanged"] is True
