"""The console in Debian's Chromium (headless): live colours, hold and release by clicking,
a viewer's forced POST refused by the dashboard, a forged POST refused by the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import Console, screenshot

PLAN = """\
name: {name}
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: first
    internalEventDrivenJob:
      commandLine: sleep 4
      timeoutSeconds: 60
  - agentName: local
    jobName: second
    internalEventDrivenJob:
      commandLine: sleep 1; echo 'second says <b id="injected">hi</b>'; exit {rc}
      timeoutSeconds: 60
jobDependencies:
  - jobIdentifier: local-first
  - jobIdentifier: local-second
    logicalGrouping:
      and: [local-first]
"""

# Records every status a job's node takes, from the page's own DOM (no reload may happen:
# a reload would drop the recorder and its marker).
RECORDER = """
(job) => {
  window.__seen = window.__seen || {};
  const node = document.querySelector(`g.job[data-job="${job}"]`);
  window.__seen[job] = [node.dataset.status];
  new MutationObserver(() => {
    const list = window.__seen[job];
    if (list[list.length - 1] !== node.dataset.status) list.push(node.dataset.status);
  }).observe(node, {attributes: true});
  window.__marker = "same page";
}
"""


def node(page: Any, job: str) -> Any:
    return page.locator(f'g.job[data-job="{job}"]')


def wait_status(page: Any, job: str, status: str, timeout: float = 30_000) -> None:
    page.wait_for_selector(f'g.job[data-job="{job}"].s-{status}', timeout=timeout, state="attached")


def apply_plan(console: Console, tmp: Path, name: str, rc: int = 0) -> None:
    (tmp / f"{name}.yaml").write_text(PLAN.format(name=name, rc=rc))
    console.stack.ok("plan", "apply", "-f", str(tmp / f"{name}.yaml"))


def test_operator_sees_jobs_turn_live_and_holds_and_releases_by_clicking(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    apply_plan(console, tmp_path, "webtest")
    iid = console.stack.json("instance", "create", "webtest")["id"]
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(console.admin_link)
    page.goto(f"{console.url}/instances/{iid}")
    assert node(page, "local-second").get_attribute("data-status") == "WAITING"
    # a root command job waits for a manual run: "Run now" (confirmed in the dialog)
    page.locator('#jobs tr[data-job="local-first"] button[data-verb="run"]').click()
    wait_status(page, "local-first", "RUNNING")
    screenshot(page, "instance-running")

    row = page.locator('#jobs tr[data-job="local-second"]')
    row.locator('button[data-verb="hold"]').click()
    wait_status(page, "local-second", "ON_HOLD")
    assert "ON_HOLD" in row.locator("td.status").inner_text()
    page.locator('#jobs tr[data-job="local-second"] button[data-verb="release"]').click()
    page.wait_for_selector('#jobs tr[data-job="local-second"] button[data-verb="hold"]')
    assert node(page, "local-second").get_attribute("data-status") == "WAITING"

    # from here on, no reload: first completes, second runs and completes, all by events
    page.evaluate(RECORDER, "local-second")
    wait_status(page, "local-first", "COMPLETE")
    wait_status(page, "local-second", "COMPLETE")
    assert page.evaluate("window.__marker") == "same page"
    seen = page.evaluate("window.__seen['local-second']")
    assert seen == ["WAITING", "RUNNING", "COMPLETE"], seen
    screenshot(page, "instance-complete")

    # the job's page: its facts and its log, the log's markup shown as text
    page.locator('#jobs tr[data-job="local-second"] a').click()
    page.wait_for_selector("#log-stdout")
    assert page.locator("#log-stdout").inner_text().strip() == 'second says <b id="injected">hi</b>'
    assert page.locator("#injected").count() == 0
    assert "COMPLETE" in page.locator("#job-facts").inner_text()
    screenshot(page, "job-log")

    audit = console.stack.json("audit", iid, "--kind", "verb", "--job", "local-second")
    rows = [(r["cause"], r["actor"]) for r in audit["records"]]
    # the clicks reached the dashboard as the signed-in token's own verbs
    assert rows == [("verb:hold", "local-admin"), ("verb:release", "local-admin")], rows
    page.close()


def test_viewer_sees_no_buttons_and_a_forced_post_is_refused_by_the_dashboard(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    apply_plan(console, tmp_path, "webview")
    iid = console.stack.json("instance", "create", "webview", "--hold")["id"]
    viewer = console.stack.json("token", "create", "--subject", "web viewer", "--role", "viewer")
    page = browser.new_page()
    page.goto(f"{console.url}/instances/{iid}")
    assert page.url.startswith(f"{console.url}/login")
    page.fill('input[name="token"]', str(viewer["secret"]))
    page.click("form[action='/login'] button")
    page.wait_for_selector("#graph")
    assert page.url == f"{console.url}/instances/{iid}"
    assert page.locator("button.action").count() == 0
    assert "viewer" in page.locator("header .who").inner_text()
    screenshot(page, "instance-viewer")

    forced = page.evaluate(
        """async (iid) => {
          const body = new URLSearchParams({
            csrf: document.querySelector('meta[name="csrf-token"]').content,
            verb: "release", job: "local-first", back: `/instances/${iid}`});
          const answer = await fetch(`/instances/${iid}/jobs`, {method: "POST", body});
          return {status: answer.status, text: await answer.text()};
        }""",
        iid,
    )
    assert forced["status"] == 200  # back on the instance page, with the refusal shown
    assert "permission denied" in forced["text"]
    assert "operator" in forced["text"]
    job = console.stack.job(iid, "local-first")
    assert job["status"] == "ON_HOLD"

    forged = page.evaluate(
        """async (iid) => {
          const body = new URLSearchParams({verb: "release", job: "local-first"});
          const answer = await fetch(`/instances/${iid}/jobs`, {method: "POST", body});
          return {status: answer.status, text: await answer.text()};
        }""",
        iid,
    )
    assert forged["status"] == 403
    assert "CSRF" in forged["text"]
    page.close()


def test_operator_acknowledges_an_error_with_comment_and_ticket(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    apply_plan(console, tmp_path, "webfail", rc=3)
    iid = console.stack.json("instance", "create", "webfail")["id"]
    console.stack.ok("job", "run", iid, "local-first")
    console.stack.wait_job(iid, "local-second", "ERROR")
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(console.admin_link)
    page.goto(f"{console.url}/instances/{iid}/job?job=local-second&child=webfail")
    fact = page.locator("#job-facts tr:has(th:text-is('Return code')) td")
    assert fact.inner_text().strip() == "3"
    assert page.locator("#job-facts td.status").inner_text().strip() == "ERROR"
    form = page.locator('form:has(button[data-verb="ack"])')
    form.locator('input[name="comment"]').fill("looked at it")
    form.locator('input[name="ticket"]').fill("T-42")
    form.locator('button[data-verb="ack"]').click()
    page.wait_for_selector(".flash-ok")
    page.goto(f"{console.url}/instances/{iid}/job?job=local-second&child=webfail")
    facts = page.locator("#job-facts").inner_text()
    assert "looked at it" in facts and "T-42" in facts, facts
    job = console.stack.job(iid, "local-second")
    assert job["error_acknowledged"] is True
    assert job["error_acknowledgment_ticket_id"] == "T-42"
    screenshot(page, "job-acknowledged")
    page.close()


def test_the_queues_link_is_shown_to_admins_only(console: Console, browser: Any) -> None:
    for role in ("viewer", "operator"):
        made = console.stack.json("token", "create", "--subject", f"web {role}", "--role", role)
        page = browser.new_page()
        page.goto(f"{console.url}/login")
        page.fill('input[name="token"]', str(made["secret"]))
        page.click("form[action='/login'] button")
        page.wait_for_selector("header nav")
        nav = page.locator("header nav").inner_text()
        assert "Agents" in nav and "Queues" not in nav, (role, nav)
        assert page.locator("#nav-queues").count() == 0
        page.close()
    page = browser.new_page()
    page.goto(console.admin_link)
    page.wait_for_selector("#nav-queues")
    page.click("#nav-queues")
    page.wait_for_selector("#queues")
    assert page.url == f"{console.url}/queues"
    screenshot(page, "queues-admin")
    page.close()
