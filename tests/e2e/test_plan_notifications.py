"""Notification rules declared in the plan file, through the real stack with real e-mail to
aiosmtpd and a real webhook on 127.0.0.1: a plan-level entry with no recipient mails the
plan's owner, a job-level entry posts that job's events only; a bad entry is refused naming
its path in the plan; re-applying the plan replaces its rules, deleting it removes them, and
an operator's rule is never touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import E2EStack, StackFactory, assert_one_line_error, wait_until, write_plan
from .test_email_notifications import PASSWORD, Mailbox, _subject, smtp  # noqa: F401
from .test_notifications import Hook, _server

PLAN = """
name: declared
owner: owners@example.com
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
notifications:
  - on: [INSTANCE_ENDED, ERROR]
scheduledJobs:
  - agentName: local
    jobName: ok
    internalEventDrivenJob: {{commandLine: "true", timeoutSeconds: 30}}
  - agentName: local
    jobName: fails
    internalEventDrivenJob: {{commandLine: "exit 3", timeoutSeconds: 30}}
    notifications:
      - on: [START, ERROR]
        webhook: {hook}/job
jobDependencies:
  - jobIdentifier: local-ok
  - jobIdentifier: local-fails
"""


def _names(stack: E2EStack) -> list[str]:
    """The rules, without the one examples/nightly-batch.yaml declares (applied at start)."""
    rules = stack.json("notify", "list")["rules"]
    return [r["name"] for r in rules if r.get("source_plan") != "nightly-batch"]


@pytest.fixture
def hook() -> Iterator[tuple[Hook, int]]:
    h = Hook()
    server = _server(h)
    yield h, int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_rules_from_the_plan_file(
    stack_factory: StackFactory,
    smtp: tuple[Mailbox, int],  # noqa: F811
    hook: tuple[Hook, int],
    tmp_path: Path,
) -> None:
    box, smtp_port = smtp
    h, port = hook
    pw = tmp_path / "smtp.pw"
    pw.write_text(PASSWORD + "\n")
    flags = (
        *("--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port), "--smtp-security", "none"),
        *("--smtp-username", "ikasched", "--smtp-password-file", str(pw)),
        *("--smtp-from", "scheduler@example.com"),
    )
    stack = stack_factory("declared", dashboard_flags=flags)
    (stack.work / "mine.yaml").write_text(
        f"name: mine\non: [START]\nwebhook: http://127.0.0.1:{port}/mine\n"
    )
    stack.ok("notify", "apply", "-f", str(stack.work / "mine.yaml"))
    text = PLAN.format(hook=f"http://127.0.0.1:{port}")

    # bad entries are refused naming their path in the plan
    bad = text.replace("on: [START, ERROR]", "on: [START, EXPLODED]")
    assert_one_line_error(
        stack.run("plan", "apply", "-f", str(write_plan(stack.work, "declared", bad))),
        contains="scheduledJobs[1].notifications[0].on[1]",
    )
    no_owner = text.replace("owner: owners@example.com\n", "")
    assert_one_line_error(
        stack.run("plan", "apply", "-f", str(write_plan(stack.work, "declared", no_owner))),
        contains="notifications[0]",
    )
    assert _names(stack) == ["mine"]

    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "declared", text)))
    rules = {r["name"]: r for r in stack.json("notify", "list")["rules"]}
    assert set(rules) == {
        "mine",
        "nightly-batch:notifications[0]",
        "declared:notifications[0]",
        "declared:scheduledJobs[1].notifications[0]",
    }
    plan_rule = rules["declared:notifications[0]"]
    assert plan_rule["webhook_url"] == "mailto:owners@example.com"
    assert plan_rule["source_plan"] == "declared" and "source_plan" not in rules["mine"]
    job_rule = rules["declared:scheduledJobs[1].notifications[0]"]
    assert job_rule["job_identifier"] == "local-fails"

    iid = stack.ok("instance", "create", "declared").out.strip()
    stack.ok("job", "run", iid, "local-ok")
    stack.ok("job", "run", iid, "local-fails")
    stack.wait_job(iid, "local-fails", "ERROR")
    stack.ok("instance", "end", iid)
    want = {
        "[ikasched] ERROR: declared/local-fails ERROR",
        "[ikasched] INSTANCE_ENDED: declared ENDED",
    }
    wait_until(
        "the owner's mails",
        lambda: {_subject(m) for m in box.to("owners@example.com")} >= want,
        timeout=30,
    )
    wait_until("the job's posts", lambda: len(h.delivered("/job")) == 2, timeout=30)
    assert {(b["kind"], b["job_identifier"]) for b in h.delivered("/job")} == {
        ("START", "local-fails"),
        ("ERROR", "local-fails"),
    }

    # re-applied without the job's entry: the plan's rules are replaced; deleted: removed
    fewer = (
        text.split("    notifications:\n      - on: [START, ERROR]")[0]
        + text.split(f"webhook: http://127.0.0.1:{port}/job\n")[1]
    )
    stack.ok("plan", "apply", "-f", str(write_plan(stack.work, "declared", fewer)))
    assert _names(stack) == ["declared:notifications[0]", "mine"]
    stack.ok("plan", "delete", "declared", "--force")
    assert _names(stack) == ["mine"]
