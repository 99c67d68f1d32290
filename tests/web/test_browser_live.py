"""The console in Debian's Chromium (headless): a job row's action buttons follow its live
status (no reload), and the buttons made live post the verb for the right job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import Console, screenshot

PLAN = """\
name: web-live-buttons
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: quick
    internalEventDrivenJob:
      commandLine: sleep 2
      timeoutSeconds: 60
  - agentName: local
    jobName: idle
    internalEventDrivenJob:
      commandLine: echo idle
      timeoutSeconds: 60
"""

ROW = '#jobs tr[data-job="local-quick"]'


def verbs(page: Any) -> list[str]:
    found: list[str] = page.eval_on_selector_all(
        f"{ROW} td.actions button", "buttons => buttons.map(b => b.dataset.verb)"
    )
    return found


def wait_verbs(page: Any, wanted: list[str], timeout: float = 30.0) -> None:
    page.wait_for_function(
        """([row, wanted]) => {
          const got = [...document.querySelectorAll(row + " td.actions button")]
            .map(b => b.dataset.verb).join(" ");
          return got === wanted;
        }""",
        arg=[ROW, " ".join(wanted)],
        timeout=timeout * 1000,
    )


def test_action_buttons_follow_a_live_status_and_post_for_their_job(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(PLAN)
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "p.yaml"))
    iid = console.stack.json("instance", "create", "web-live-buttons")["id"]
    page = browser.new_page()
    questions: list[str] = []

    def accept(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(console.admin_link)
    page.goto(f"{console.url}/instances/{iid}")
    page.wait_for_function("document.body.dataset.live === '1'")
    assert verbs(page) == ["hold", "skip", "run", "reset"]
    page.evaluate("window.__marker = 'same page'")
    # The run is started from outside the page: only events can change its buttons.
    console.stack.ok("job", "run", iid, "local-quick")
    wait_verbs(page, ["kill"])
    assert page.evaluate("window.__marker") == "same page"
    kill = page.locator(f"{ROW} form[data-verb-form='kill']")
    assert kill.locator("input[name='job']").input_value() == "local-quick"
    screenshot(page, "buttons-running")
    wait_verbs(page, ["reset"])  # COMPLETE: no Kill left on a finished job
    assert page.evaluate("window.__marker") == "same page"
    assert page.locator(f"{ROW} td.status").inner_text() == "COMPLETE"
    # The Reset made live posts for this job (confirmed, naming it) and the page reloads.
    page.locator(f"{ROW} button[data-verb='reset']").click()
    page.wait_for_selector('g.job[data-job="local-quick"].s-WAITING', state="attached")
    assert questions[-1] == "Reset local-quick?", questions
    wait_verbs(page, ["hold", "skip", "run", "reset"])
    idle = page.eval_on_selector_all(
        '#jobs tr[data-job="local-idle"] td.actions button', "bs => bs.map(b => b.dataset.verb)"
    )
    assert idle == ["hold", "skip", "run", "reset"]  # the other row untouched
    audit = console.stack.json("audit", iid, "--kind", "verb", "--job", "local-quick")
    assert [(r["cause"], r["actor"]) for r in audit["records"]] == [
        ("verb:run", "local-admin"),
        ("verb:reset", "local-admin"),
    ], audit
    console.stack.ok("instance", "end", iid)
    page.close()


FOLLOWED = """\
name: web-live-log
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: talker
    internalEventDrivenJob:
      commandLine: >-
        echo 'line 1 <b id="injected">bold</b>'; sleep 1.5; echo 'line 2 é'; sleep 1.5;
        echo 'line 3'
      timeoutSeconds: 60
"""


def test_a_running_jobs_log_is_followed_live_as_text(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(FOLLOWED)
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "p.yaml"))
    iid = console.stack.json("instance", "create", "web-live-log")["id"]
    console.stack.ok("job", "run", iid, "local-talker")
    console.stack.wait_job(iid, "local-talker", "RUNNING")
    page = browser.new_page()
    page.goto(console.admin_link)
    page.goto(f"{console.url}/instances/{iid}/job?job=local-talker")
    page.evaluate("window.__marker = 'same page'")
    log = page.locator("#log-stdout")
    assert "line 3" not in log.inner_text()  # the job sleeps 3 s before it: only events add it
    page.wait_for_function(
        "() => document.getElementById('log-stdout').textContent.includes('line 3')",
        timeout=30_000,
    )
    page.wait_for_selector("#log-stdout[data-following='ended']", state="attached")
    assert page.evaluate("window.__marker") == "same page"
    text = log.inner_text()
    assert text.split("\n")[:3] == ['line 1 <b id="injected">bold</b>', "line 2 é", "line 3"]
    assert page.locator("#injected").count() == 0  # appended as text, never as markup
    assert page.locator("#follow-state-stdout").inner_text() == "complete"
    screenshot(page, "job-log-followed")
    page.close()


JOB_BOX = "#job-actions"


def box_verbs(page: Any) -> str:
    found: str = page.eval_on_selector_all(
        f"{JOB_BOX} button", "buttons => buttons.map(b => b.dataset.verb).join(' ')"
    )
    return found


def test_job_page_buttons_follow_its_live_status(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(PLAN)
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "p.yaml"))
    iid = console.stack.json("instance", "create", "web-live-buttons")["id"]
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(console.admin_link)
    page.goto(f"{console.url}/instances/{iid}/job?job=local-quick&child=web-live-buttons")
    page.wait_for_function("document.body.dataset.live === '1'")
    assert box_verbs(page) == "hold skip run reset"
    page.evaluate("window.__marker = 'same page'")
    console.stack.ok("job", "run", iid, "local-quick")  # from outside: only events tell the page
    page.wait_for_function(
        "() => [...document.querySelectorAll('#job-actions button')]"
        ".map(b => b.dataset.verb).join(' ') === 'kill'"
    )
    assert page.locator("#job-facts td.status").inner_text() == "RUNNING"
    kill = page.locator(f"{JOB_BOX} form[data-verb-form='kill']")
    assert kill.locator("input[name='job']").input_value() == "local-quick"
    assert kill.locator("input[name='child']").input_value() == "web-live-buttons"
    screenshot(page, "job-page-running")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#job-actions button')]"
        ".map(b => b.dataset.verb).join(' ') === 'reset'"
    )
    assert page.evaluate("window.__marker") == "same page"
    assert page.locator("#job-facts td.status").inner_text() == "COMPLETE"
    page.locator(f"{JOB_BOX} button[data-verb='reset']").click()  # the live-made button posts
    page.wait_for_selector(".flash-ok")
    assert console.stack.job(iid, "local-quick")["status"] == "WAITING"
    console.stack.ok("instance", "end", iid)
    page.close()
