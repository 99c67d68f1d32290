"""A plan over both agents, driven through every job verb with `ikasched` only: a chain crossing
from "local" to "remote", a nested child context with and/or/not, a job failing on purpose, a
long job to kill and a job to hold. Side-effect files count the runs of every job."""

from __future__ import annotations

from pathlib import Path

from .conftest import (
    E2EStack,
    assert_one_line_error,
    assert_transitions_once,
    job_changes,
    run_count,
    write_plan,
)

# {marks}: the directory where each command job appends one line per run.
CROSS = """
name: {name}
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: start
    quartzScheduleDrivenJob: {{cronExpression: "0 0 0 1 1 ? 2099"}}
  - agentName: local
    jobName: extract
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/extract", timeoutSeconds: 30}}
  - agentName: remote
    jobName: transform
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/transform", timeoutSeconds: 30}}
  - agentName: local
    jobName: gated
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/gated", timeoutSeconds: 30}}
  - agentName: remote
    jobName: flaky
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/flaky; exit 3",
                              timeoutSeconds: 30}}
  - agentName: local
    jobName: after-flaky
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/after-flaky",
                              timeoutSeconds: 30}}
  - agentName: remote
    jobName: long
    internalEventDrivenJob: {{commandLine: "echo run >> {marks}/long; exec sleep 120",
                              timeoutSeconds: 300}}
  - identifier: CONTEXT_START_JOB-load
    agentName: CONTEXT_START_JOB
    jobName: load
    contextStartJob: {{}}
  - identifier: CONTEXT_TERMINAL_JOB-load
jobDependencies:
  - jobIdentifier: local-start
  - {{jobIdentifier: local-extract, logicalGrouping: {{and: [local-start]}}}}
  - {{jobIdentifier: remote-transform, logicalGrouping: {{and: [local-extract]}}}}
  - {{jobIdentifier: local-gated, logicalGrouping: {{and: [remote-transform]}}}}
  - {{jobIdentifier: remote-flaky, logicalGrouping: {{and: [local-start]}}}}
  - {{jobIdentifier: local-after-flaky, logicalGrouping: {{and: [remote-flaky]}}}}
  - {{jobIdentifier: remote-long, logicalGrouping: {{and: [local-start]}}}}
  - {{jobIdentifier: CONTEXT_START_JOB-load, logicalGrouping: {{and: [remote-transform]}}}}
contexts:
  - name: load
    scheduledJobs:
      - identifier: CONTEXT_START_JOB-load
      - agentName: local
        jobName: load-a
        internalEventDrivenJob: {{commandLine: "echo run >> {marks}/load-a", timeoutSeconds: 30}}
      - agentName: remote
        jobName: load-b
        internalEventDrivenJob: {{commandLine: "echo run >> {marks}/load-b", timeoutSeconds: 30}}
      - agentName: remote
        jobName: report
        internalEventDrivenJob: {{commandLine: "echo run >> {marks}/report", timeoutSeconds: 30}}
      - agentName: GLOBAL_EVENT
        jobName: stop-report
        globalEventJob: {{}}
      - identifier: CONTEXT_TERMINAL_JOB-load
        agentName: CONTEXT_TERMINAL_JOB
        jobName: load
        contextTerminalJob: {{}}
    jobDependencies:
      - {{jobIdentifier: local-load-a, logicalGrouping: {{and: [CONTEXT_START_JOB-load]}}}}
      - {{jobIdentifier: remote-load-b, logicalGrouping: {{and: [CONTEXT_START_JOB-load]}}}}
      - jobIdentifier: remote-report
        logicalGrouping:
          or: [local-load-a, remote-load-b]
          not: [GLOBAL_EVENT-stop-report]
      - {{jobIdentifier: CONTEXT_TERMINAL_JOB-load,
          logicalGrouping: {{and: [remote-report, local-load-a]}}}}
"""

COMMAND_JOBS = (
    ("local-extract", "cross"),
    ("remote-transform", "cross"),
    ("local-gated", "cross"),
    ("remote-flaky", "cross"),
    ("local-after-flaky", "cross"),
    ("remote-long", "cross"),
    ("local-load-a", "load"),
    ("remote-load-b", "load"),
    ("remote-report", "load"),
)


def test_every_verb_across_two_agents(module_stack: E2EStack) -> None:
    stack = module_stack
    marks: Path = stack.marks
    stack.ok(
        "plan",
        "apply",
        "-f",
        str(write_plan(stack.work, "cross", CROSS.format(name="cross", marks=marks))),
    )
    iid = stack.ok("instance", "create", "cross").out.strip()

    # before the run: hold one job, skip (then unskip, then skip again) another
    held = stack.json("job", "hold", iid, "local-gated")
    assert held["jobs"][0]["held"] is True
    assert stack.job_status(iid, "local-gated") == "ON_HOLD"
    stack.ok("job", "skip", iid, "remote-load-b", "--child", "load")
    assert stack.job_status(iid, "remote-load-b", "load") == "SKIPPED"
    stack.ok("job", "unskip", iid, "remote-load-b", "--child", "load")
    assert stack.job_status(iid, "remote-load-b", "load") == "WAITING"
    stack.ok("job", "skip", iid, "remote-load-b", "--child", "load")

    stack.ok("job", "run", iid, "local-start")
    # the chain crosses to the remote agent and into the child context
    stack.wait_job(iid, "remote-transform", "COMPLETE")
    stack.wait_job(iid, "remote-report", "COMPLETE", child="load")
    stack.wait_job(iid, "CONTEXT_TERMINAL_JOB-load", "COMPLETE", child="load")
    assert stack.job_status(iid, "remote-load-b", "load") == "SKIPPED_COMPLETE"
    assert stack.job_status(iid, "GLOBAL_EVENT-stop-report", "load") == "WAITING"
    transform = stack.job(iid, "remote-transform")
    assert transform["pid"] and transform["attempts"] == 1

    # the held job waits although its upstream is done; releasing it lets it run
    stack.wait_job(iid, "remote-flaky", "ERROR")
    assert stack.job_status(iid, "local-gated") == "ON_HOLD"
    assert run_count(marks, "gated") == 0
    stack.ok("job", "release", iid, "local-gated")
    stack.wait_job(iid, "local-gated", "COMPLETE")

    # the refusals: one clear line, exit 1
    stack.wait_job(iid, "remote-long", "RUNNING")
    assert_one_line_error(stack.run("job", "hold", iid, "remote-long"), contains="refused")
    assert_one_line_error(stack.run("job", "hold", iid, "remote-nope"), contains="not found")
    assert_one_line_error(stack.run("job", "release", iid, "local-extract"))
    assert_one_line_error(stack.run("job", "resubmit", iid, "local-extract"), contains="ERROR")
    assert stack.instance(iid)["status"] == "ERROR"  # the failed job, not yet acknowledged

    # kill the long job on the remote agent
    stack.ok("job", "kill", iid, "remote-long")
    stack.wait_job(iid, "remote-long", "ERROR", "KILLED")
    long_job = stack.job(iid, "remote-long")
    # TERM (no --destroy): the shell's exec'd sleep ends on the signal
    assert long_job["return_code"] == 128 + 15, long_job

    # resubmit the failure: what it would have raised runs; it stays ERROR until acknowledged
    assert stack.job_status(iid, "local-after-flaky") == "WAITING"
    stack.ok("job", "resubmit", iid, "remote-flaky")
    stack.wait_job(iid, "local-after-flaky", "COMPLETE")
    assert stack.job_status(iid, "remote-flaky") == "ERROR"

    # reset a completed job and run it again by hand: it runs a second time, as asked
    stack.ok("job", "reset", iid, "local-after-flaky")
    assert stack.job_status(iid, "local-after-flaky") == "WAITING"
    stack.ok("job", "run", iid, "local-after-flaky")
    stack.wait_job(iid, "local-after-flaky", "COMPLETE")
    stack.wait_instance(iid, "ERROR")

    # acknowledging both errors lets the instance complete
    stack.ok("job", "ack", iid, "remote-flaky", "--message", "known flaky", "--ticket", "T-9")
    acked = stack.json("job", "ack", iid, "remote-long", "--message", "killed on purpose")
    assert acked["jobs"][0]["error_acknowledged"] is True
    stack.wait_instance(iid, "COMPLETE")

    # every job ran exactly as often as the operator made it
    expected = {
        "extract": 1,
        "transform": 1,
        "gated": 1,
        "flaky": 1,
        "after-flaky": 2,
        "long": 1,
        "load-a": 1,
        "load-b": 0,
        "report": 1,
    }
    assert {name: run_count(marks, name) for name in expected} == expected

    # the audit trail: each transition once, and one RUNNING per run
    changes = stack.audit(iid)
    assert_transitions_once(changes)
    steps = job_changes(changes)
    for ident, child in COMMAND_JOBS:
        runs = expected[ident.split("-", 1)[1]]
        starts = sum(1 for _, to in steps.get((ident, child), []) if to == "RUNNING")
        assert starts == runs, (ident, steps.get((ident, child)))
    gated = steps[("local-gated", "cross")]
    assert gated[0] == ("WAITING", "ON_HOLD") and ("ON_HOLD", "WAITING") in gated, gated
    load_b = steps[("remote-load-b", "load")]
    assert load_b[-1][1] == "SKIPPED_COMPLETE", load_b
    assert steps[("remote-long", "cross")][-1] == ("RUNNING", "ERROR"), steps
    roots = [
        c["context"] for c in changes if "context" in c and c["context"]["context_name"] == "cross"
    ]
    assert [r["new_status"] for r in roots].count("COMPLETE") == 1, roots
    assert roots[-1]["new_status"] == "COMPLETE", roots
    final = stack.jobs(iid)
    assert final[("remote-flaky", "cross")]["error_acknowledged"] is True
    assert final[("remote-report", "load")]["status"] == "COMPLETE"
