"""`plan apply` says what a new version changes: the differing fields of a changed job and of a
changed dependency, parameters added and removed, not just "changed"."""

from __future__ import annotations

from pathlib import Path

from ikasched_dashboard.plans.loader import load_plan_file
from ikasched_dashboard.services.plan_diff import plan_changes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_changed_job_dependency_and_parameters_name_what_changed() -> None:
    old = load_plan_file(EXAMPLES / "hello.yaml")
    new = load_plan_file(EXAMPLES / "hello.yaml")
    job = next(j for j in new.scheduled_jobs if j.job_name == "say-world")
    job.internal_event_driven_job.command_line = "echo WORLD"
    dep = next(d for d in new.job_dependencies if d.job_identifier == "local-say-done")
    dep.logical_grouping.all_of.add(identifier="local-say-hello")
    new.context_parameters.add(name="REGION", default_value="eu")
    new.context_ttl_milliseconds = 3_600_000
    changes = plan_changes(old, new)
    assert (
        "job local-say-world changed: internalEventDrivenJob.commandLine: 'echo world' -> "
        "'echo WORLD'"
    ) in changes, changes
    assert any(
        c == "dependency of local-say-done in context hello changed: logicalGrouping: "
        "local-say-world -> local-say-world and local-say-hello"
        for c in changes
    ), changes
    assert "parameter REGION added" in changes
    assert "contextTtlMilliseconds: 82800000 -> 3600000" in changes
    assert not any(c.endswith(" changed") for c in changes), changes
