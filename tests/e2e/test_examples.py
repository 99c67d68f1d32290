"""The example plans, applied with `ikasched plan apply -f examples/`, run to COMPLETE on the
real stack."""

from __future__ import annotations

from .conftest import REPO, E2EStack, assert_one_line_error


def _create(stack: E2EStack, plan: str, *params: str) -> str:
    for live in stack.json("instance", "list", "--plan", plan):
        stack.ok("instance", "end", live["id"])
    args = [a for p in params for a in ("--param", p)]
    iid = stack.ok("instance", "create", plan, *args).out.strip()
    assert iid
    return iid


def test_apply_examples_and_run_hello(module_stack: E2EStack) -> None:
    stack = module_stack
    applied = stack.examples_applied  # `ikasched plan apply -f examples/` at start
    assert applied is not None
    for name in ("hello", "nightly-batch", "file-and-cron"):
        line = next(line for line in applied.out.splitlines() if name in line)
        assert "created" in line, applied.out
    names = {p["name"] for p in stack.json("plan", "list")}
    assert {"hello", "nightly-batch", "file-and-cron"} <= names
    again = stack.ok("plan", "apply", "-f", str(REPO / "examples"))
    assert "unchanged" in again.out, again.out

    iid = _create(stack, "hello")
    stack.ok("job", "run", iid, "local-morning")
    stack.wait_instance(iid, "COMPLETE")
    jobs = stack.jobs(iid)
    for ident in ("local-say-hello", "local-say-world", "local-say-done"):
        job = jobs[(ident, "hello")]
        assert job["status"] == "COMPLETE", jobs
        assert job.get("return_code", 0) == 0 and job.get("attempts") == 1, job
    # the README tour: what a job printed, fetched from its agent through the dashboard
    assert stack.ok("job", "logs", iid, "local-say-world").out == "world\n"
    assert_one_line_error(stack.run("job", "logs", iid, "local-nope"), contains="not found")
    # the trail replays from a position; a position past the log's end is refused
    trail = stack.audit(iid)
    assert trail[-1]["context"]["new_status"] == "COMPLETE", trail[-1]
    beyond = str(int(trail[-1]["position"]) + 1000)
    assert_one_line_error(
        stack.run("instance", "watch", iid, "--after", beyond, "--for", "5"),
        contains="after_position",
    )
    assert_one_line_error(
        stack.run("instance", "watch", iid, "--after", "-1"), rc=2, contains="--after"
    )


def test_nightly_batch_runs_through_nested_contexts(module_stack: E2EStack) -> None:
    stack = module_stack
    iid = _create(stack, "nightly-batch", "BUSINESS_DATE=2026-01-30")
    # hold the warehouse, start the batch: it stops at the held loads
    held = stack.json("job", "hold", iid, "--all", "--child", "warehouse")
    assert {j["identifier"] for j in held["jobs"] if j.get("held")} >= {
        "local-load-facts",
        "local-load-dimensions",
    }
    stack.ok("job", "run", iid, "local-kickoff")
    stack.wait_job(iid, "local-load-reference-data", "COMPLETE", child="load")
    stack.wait_job(iid, "CONTEXT_START_JOB-warehouse", "COMPLETE", child="warehouse")
    for ident in ("local-extract-orders", "local-extract-customers"):
        assert stack.job_status(iid, ident, "extract") == "COMPLETE"
    assert stack.job_status(iid, "local-load-facts", "warehouse") == "ON_HOLD"
    assert stack.instance(iid)["status"] == "RUNNING"
    stack.ok("job", "release", iid, "--all", "--child", "warehouse")
    # endJobPlanUponCompletion: the instance completes, then ends
    stack.wait_instance(iid, "COMPLETE", "ENDED")
    jobs = stack.jobs(iid)
    done = ("COMPLETE", "SKIPPED_COMPLETE")  # load-facts runs Monday to Friday only
    for (ident, ctx), job in jobs.items():
        if ident == "GLOBAL_EVENT-stop-quick-stats":
            assert job["status"] == "WAITING", job  # never raised: quick-stats ran
        else:
            assert job["status"] in done, (ident, ctx, job)
    # every context went to COMPLETE exactly once before the instance ended
    reached: dict[str, list[str]] = {}
    for change in stack.audit(iid):
        if "context" in change:
            ctx = change["context"]
            reached.setdefault(ctx["context_name"], []).append(ctx.get("new_status", ""))
    for ctx in ("extract", "load", "warehouse", "nightly-batch"):
        assert reached[ctx].count("COMPLETE") == 1, (ctx, reached[ctx])
    assert reached["nightly-batch"][-1] == "ENDED", reached
