"""`ikasched plan ...` against a live dashboard."""

from __future__ import annotations

import yaml

from .conftest import REPO, Cli, assert_one_line_error, write_plan

PLAN = """
name: {name}
description: a plan of the CLI tests
timeWindowStart: "0 0 6 ? * * *"
timezone: UTC
scheduledJobs:
  - agentName: local
    jobName: tick
    quartzScheduleDrivenJob: {{cronExpression: "0 0 6 ? * * *"}}
  - agentName: local
    jobName: work
    internalEventDrivenJob: {{commandLine: "{command}", timeoutSeconds: 30}}
jobDependencies:
  - jobIdentifier: local-tick
  - jobIdentifier: local-work
    logicalGrouping: {{and: [local-tick]}}
"""


def test_apply_create_unchanged_update_with_summary(stack: Cli) -> None:
    path = write_plan(stack.cwd, "p-apply", PLAN.format(name="p-apply", command="echo one"))
    created = stack.ok("plan", "apply", "-f", str(path))
    assert "plan p-apply created (version 1)" in created.out
    again = stack.json("plan", "apply", "-f", str(path))
    assert again[0]["unchanged"] is True and again[0]["version"] == 1
    path.write_text(PLAN.format(name="p-apply", command="echo two"))
    dry = stack.ok("plan", "apply", "-f", str(path), "--dry-run")
    assert "would be updated" in dry.out
    updated = stack.ok("plan", "apply", "-f", str(path))
    assert "plan p-apply updated (version 2)" in updated.out
    # the changes of ProvisionPlanResponse, one per line under the plan
    change_lines = [line for line in updated.out.splitlines()[1:] if line.startswith("  ")]
    assert change_lines, updated.out
    got = stack.json("plan", "get", "p-apply")
    assert got["summary"]["version"] == "2"


def test_apply_directory_of_examples(stack: Cli) -> None:
    data = stack.json("plan", "apply", "-f", str(REPO / "examples"))
    assert sorted(d["name"] for d in data) == ["file-and-cron", "hello", "nightly-batch"]
    names = [p["name"] for p in stack.json("plan", "list")]
    assert {"file-and-cron", "hello", "nightly-batch"} <= set(names)
    table = stack.ok("plan", "list").out.splitlines()
    assert table[0].split()[:3] == ["NAME", "VERSION", "ENABLED"]
    assert any(line.startswith("hello ") for line in table)


def test_apply_broken_file_names_the_problem(stack: Cli) -> None:
    path = write_plan(stack.cwd, "p-broken", "name: p-broken\nscheduledJobs: 7\n")
    result = stack.run("plan", "apply", "-f", str(path))
    assert result.rc == 1
    assert "p-broken.yaml" in result.err and "scheduled" in result.err.lower()
    assert "Traceback" not in result.err


def test_apply_invalid_plan_is_refused_by_the_dashboard(stack: Cli) -> None:
    text = PLAN.format(name="p-invalid", command="true").replace(
        "and: [local-tick]", "and: [local-nowhere]"
    )
    path = write_plan(stack.cwd, "p-invalid", text)
    assert_one_line_error(stack.run("plan", "apply", "-f", str(path)), contains="invalid")


def test_get_export_round_trip(stack: Cli) -> None:
    path = write_plan(stack.cwd, "p-export", PLAN.format(name="p-export", command="echo x"))
    stack.ok("plan", "apply", "-f", str(path))
    shown = stack.ok("plan", "get", "p-export").out
    assert "p-export" in shown and "version" in shown
    exported = stack.ok("plan", "export", "p-export").out
    assert yaml.safe_load(exported)["name"] == "p-export"
    as_json = stack.ok("plan", "export", "p-export", "--format", "json").out
    assert '"name": "p-export"' in as_json
    again = stack.cwd / "exported.yaml"
    again.write_text(exported)
    assert stack.json("plan", "apply", "-f", str(again))[0]["unchanged"] is True
    assert_one_line_error(stack.run("plan", "get", "p-none"), contains="not found")


def test_enable_disable_delete(stack: Cli) -> None:
    path = write_plan(stack.cwd, "p-toggle", PLAN.format(name="p-toggle", command="true"))
    stack.ok("plan", "apply", "-f", str(path))
    assert "disabled" in stack.ok("plan", "disable", "p-toggle").out
    assert stack.json("plan", "get", "p-toggle")["summary"].get("enabled", False) is False
    assert "enabled" in stack.ok("plan", "enable", "p-toggle").out
    assert stack.json("plan", "get", "p-toggle")["summary"]["enabled"] is True
    assert "deleted" in stack.ok("plan", "delete", "p-toggle").out
    assert_one_line_error(stack.run("plan", "get", "p-toggle"), contains="not found")
    assert_one_line_error(stack.run("plan", "delete", "p-toggle"), contains="not found")


def test_graph_and_next_fires_from_the_dashboard(stack: Cli) -> None:
    path = write_plan(stack.cwd, "p-graph", PLAN.format(name="p-graph", command="true"))
    stack.ok("plan", "apply", "-f", str(path))
    dot = stack.ok("plan", "graph", "p-graph").out
    assert "n_local_tick -> n_local_work;" in dot
    mermaid = stack.ok("plan", "graph", "p-graph", "--format", "mermaid").out
    assert "n_local_tick --> n_local_work" in mermaid
    fires = stack.json("plan", "next-fires", "p-graph", "-n", "2")
    assert len(fires["fire_times"]) == 2
    assert_one_line_error(stack.run("plan", "next-fires", "p-missing"), contains="not found")


def test_viewer_token_may_read_but_not_apply(stack: Cli) -> None:
    created = stack.json("token", "create", "--subject", "vera", "--role", "viewer")
    viewer = created["secret"]
    assert stack.run("plan", "list", token=viewer).rc == 0
    path = write_plan(stack.cwd, "p-viewer", PLAN.format(name="p-viewer", command="true"))
    result = stack.run("plan", "apply", "-f", str(path), token=viewer)
    assert_one_line_error(result, contains="permission denied")
    bad = stack.run("plan", "list", token="iks_0123_notreal")
    assert_one_line_error(bad, contains="not authenticated")
