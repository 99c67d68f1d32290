"""The console in Debian's Chromium (headless): a plan's version history and the diff between
two of its versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import Console, screenshot

PLAN = """\
name: web-versions
description: '{description}'
timezone: UTC
contextTtlMilliseconds: 3600000
scheduledJobs:
  - agentName: local
    jobName: only
    internalEventDrivenJob: {{commandLine: "{command}", timeoutSeconds: 30}}
jobDependencies:
  - jobIdentifier: local-only
"""


def test_plan_versions_and_the_diff_between_two(
    console: Console, browser: Any, tmp_path: Path
) -> None:
    for description, command in (("first", "echo one"), ('<i id="x">second</i>', "echo two")):
        (tmp_path / "p.yaml").write_text(PLAN.format(description=description, command=command))
        console.stack.ok("plan", "apply", "-f", str(tmp_path / "p.yaml"))
    page = browser.new_page()
    page.goto(console.admin_link)
    page.goto(f"{console.url}/plans/web-versions")
    page.click("#plan-versions")
    page.wait_for_selector("#versions")
    shown = page.eval_on_selector_all(
        "#versions tr[data-version]", "rs => rs.map(r => r.dataset.version)"
    )
    assert shown == ["2", "1"], shown
    assert page.locator("#x").count() == 0  # the description's markup is text
    assert '<i id="x">second</i>' in page.locator("#versions").inner_text()
    screenshot(page, "plan-versions")
    page.click("#show-diff")  # version 1 -> 2 are the ones checked
    page.wait_for_selector("#diff")
    assert "/plans/web-versions/diff?" in page.url and "a=1" in page.url and "b=2" in page.url
    added = page.eval_on_selector_all("#diff .d-add", "ss => ss.map(s => s.textContent)")
    removed = page.eval_on_selector_all("#diff .d-del", "ss => ss.map(s => s.textContent)")
    assert any("echo two" in line for line in added), added
    assert any("echo one" in line for line in removed), removed
    assert any("second" in line for line in added) and not any("two" in r for r in removed)
    assert page.locator("#x").count() == 0
    screenshot(page, "plan-diff")
    page.goto(f"{console.url}/plans/web-versions/diff?a=2&b=2")
    assert page.locator("#diff-none").count() == 1
    page.goto(f"{console.url}/plans/web-versions/diff?a=zero&b=2")
    assert "a: expected a version number" in page.locator(".flash-error[role=alert]").inner_text()
    page.close()
