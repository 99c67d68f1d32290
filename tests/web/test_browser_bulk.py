"""The console in Debian's Chromium (headless): the verbs on every job of one context (the
plan's or a child context's), and a global event raised from the instances page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import Console, screenshot

PLAN = """\
name: web-bulk
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: top
    internalEventDrivenJob: {commandLine: "true", timeoutSeconds: 30}
  - agentName: GLOBAL_EVENT
    jobName: go
    globalEventJob: {}
  - identifier: CONTEXT_START_JOB-sub
    agentName: CONTEXT_START_JOB
    jobName: sub
    contextStartJob: {}
  - identifier: CONTEXT_TERMINAL_JOB-sub
jobDependencies:
  - jobIdentifier: local-top
  - jobIdentifier: GLOBAL_EVENT-go
  - {jobIdentifier: CONTEXT_START_JOB-sub, logicalGrouping: {and: [local-top]}}
contexts:
  - name: sub
    scheduledJobs:
      - identifier: CONTEXT_START_JOB-sub
      - agentName: local
        jobName: one
        internalEventDrivenJob: {commandLine: "true", timeoutSeconds: 30}
      - agentName: local
        jobName: two
        internalEventDrivenJob: {commandLine: "true", timeoutSeconds: 30}
      - identifier: CONTEXT_TERMINAL_JOB-sub
        agentName: CONTEXT_TERMINAL_JOB
        jobName: sub
        contextTerminalJob: {}
    jobDependencies:
      - {jobIdentifier: local-one, logicalGrouping: {and: [CONTEXT_START_JOB-sub]}}
      - {jobIdentifier: local-two, logicalGrouping: {and: [CONTEXT_START_JOB-sub]}}
      - {jobIdentifier: CONTEXT_TERMINAL_JOB-sub, logicalGrouping: {and: [local-one, local-two]}}
"""


def click_context_verb(page: Any, context: str, verb: str) -> None:
    page.locator(f'#contexts tr[data-context="{context}"] button[data-verb="{verb}"]').click()
    page.wait_for_selector(".flash-ok")


def test_bulk_verbs_per_child_context_and_a_global_event(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(PLAN)
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "p.yaml"))
    iid = console.stack.json("instance", "create", "web-bulk")["id"]
    page = browser.new_page()
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(console.admin_link)
    page.goto(f"{console.url}/instances/{iid}")
    contexts = page.eval_on_selector_all(
        "#contexts tr[data-context]", "rs => rs.map(r => r.dataset.context)"
    )
    assert contexts == ["web-bulk", "sub"], contexts

    click_context_verb(page, "sub", "hold-all")
    assert questions[-1] == f"Hold all jobs of sub in instance {iid}?"
    assert "Hold all in sub: done" in page.locator(".flash-ok").inner_text()
    assert console.stack.job(iid, "local-one", child="sub")["held"] is True
    assert console.stack.job(iid, "local-two", child="sub")["held"] is True
    assert (
        console.stack.job(iid, "local-top").get("held", False) is False
    )  # the plan's jobs untouched
    screenshot(page, "instance-contexts-held")
    click_context_verb(page, "sub", "release-all")
    assert console.stack.job(iid, "local-one", child="sub").get("held", False) is False
    click_context_verb(page, "sub", "skip-all")
    assert console.stack.job_status(iid, "local-two", "sub") == "SKIPPED"
    assert console.stack.job_status(iid, "local-top") == "WAITING"
    click_context_verb(page, "sub", "unskip-all")
    assert console.stack.job_status(iid, "local-two", "sub") == "WAITING"
    audit = console.stack.json("audit", iid, "--kind", "verb", "--job", "local-one")
    causes = [(r["cause"], r["actor"]) for r in audit["records"]]
    assert len(causes) == 4 and all(actor == "local-admin" for _, actor in causes), causes

    page.goto(f"{console.url}/instances")
    page.fill('#global-event input[name="job_name"]', "go")
    page.locator('#global-event button[data-verb="raise-global-event"]').click()
    page.wait_for_selector(".flash-ok")
    assert iid in page.locator(".flash-ok").inner_text()
    console.stack.wait_job(iid, "GLOBAL_EVENT-go", "COMPLETE")
    page.fill('#global-event input[name="job_name"]', "")
    page.locator('#global-event button[data-verb="raise-global-event"]').click()
    page.wait_for_selector(".flash-error[role=alert]")
    assert "job_name" in page.locator(".flash-error[role=alert]").inner_text()
    console.stack.ok("instance", "end", iid)
    page.close()


PARAMS = """\
name: web-params
timezone: UTC
contextTtlMilliseconds: 3600000
contextParameters:
  - {name: GREETING, defaultValue: hi}
  - {name: PASSWORD, defaultValue: hunter2-secret, secret: true}
scheduledJobs:
  - agentName: local
    jobName: greet
    internalEventDrivenJob:
      commandLine: 'echo "greet-$GREETING-$EXTRA"; test -n "$PASSWORD"'
      timeoutSeconds: 30
      contextParameters: [{name: GREETING}, {name: PASSWORD}, {name: EXTRA}]
jobDependencies:
  - jobIdentifier: local-greet
"""


def test_manual_run_with_parameters_never_echoes_a_secret(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(PARAMS)
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "p.yaml"))
    iid = console.stack.json("instance", "create", "web-params")["id"]
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(console.admin_link)
    job_url = f"{console.url}/instances/{iid}/job?job=local-greet&child=web-params"
    page.goto(job_url)
    assert "hunter2-secret" not in page.content()
    page.click("#run-with-parameters summary")
    form = page.locator("#run-with-parameters form")
    assert form.locator('input[name="param:PASSWORD"]').get_attribute("type") == "password"
    assert form.locator('input[name="param:PASSWORD"]').input_value() == ""
    # a malformed line is refused by the console, naming the field
    form.locator('textarea[name="extra"]').fill("no equals sign")
    form.locator('button[data-verb="run-with-parameters"]').click()
    page.wait_for_selector(".flash-error[role=alert]")
    assert (
        "extra: line 1: expected NAME=VALUE"
        in page.locator(".flash-error[role=alert]").inner_text()
    )
    assert console.stack.job_status(iid, "local-greet") == "WAITING"

    page.goto(job_url)
    page.click("#run-with-parameters summary")
    form = page.locator("#run-with-parameters form")
    form.locator('input[name="param:GREETING"]').fill("from-the-web")
    form.locator('input[name="param:PASSWORD"]').fill("typed-secret-9")
    form.locator('textarea[name="extra"]').fill('EXTRA=<b id="injected">x</b>')
    form.locator('button[data-verb="run-with-parameters"]').click()
    page.wait_for_selector(".flash-ok")
    flash = page.locator(".flash-ok").inner_text()
    assert "with GREETING, PASSWORD, EXTRA" in flash, flash
    assert "typed-secret-9" not in page.content()
    console.stack.wait_job(iid, "local-greet", "COMPLETE")
    page.goto(job_url)
    log = page.locator("#log-stdout").inner_text().strip()
    assert log == 'greet-from-the-web-<b id="injected">x</b>', log
    assert page.locator("#injected").count() == 0  # a parameter's markup in a log stays text
    assert "typed-secret-9" not in page.content() and "hunter2-secret" not in page.content()
    screenshot(page, "job-run-with-parameters")
    console.stack.ok("instance", "end", iid)
    page.close()
