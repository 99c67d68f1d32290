"""The console's routes through Starlette's TestClient, against the real stack's dashboard
(the `console` fixture's): sign-in, cookies and headers, CSRF, roles, verbs, errors, escaping."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from ikasched.v1 import plan_pb2
from ikasched_cli.graph import build_graph
from ikasched_web import layout
from ikasched_web.app import CSP, Console
from ikasched_web.sessions import COOKIE
from tests.e2e.conftest import clean_env, cli_command
from tests.web.conftest import Console as Running

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def client_for(dashboard: str, **kwargs: object) -> TestClient:
    app = Console(dashboard, **kwargs).app()  # type: ignore[arg-type]
    return TestClient(app, base_url="https://console.test", follow_redirects=False)


@pytest.fixture
def anon(console: Running) -> Iterator[TestClient]:
    with client_for(console.stack.dashboard) as client:
        yield client


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path, follow_redirects=True).text
    return str(page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0])


def sign_in(client: TestClient, token: str) -> None:
    answer = client.post("/login", data={"csrf": csrf_of(client), "token": token, "next": "/"})
    assert answer.status_code == 303, answer.text


def test_a_page_without_a_session_sends_to_sign_in_with_a_strict_cookie(anon: TestClient) -> None:
    answer = anon.get("/instances")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/instances"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(COOKIE + "=")
    for flag in ("httponly", "samesite=strict", "secure", "path=/"):
        assert flag in cookie, cookie
    page = anon.get("/login")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


def test_sign_in_refuses_a_missing_csrf_token_and_shows_a_bad_token_refusal(
    anon: TestClient,
) -> None:
    assert anon.post("/login", data={"token": "x"}).status_code == 403
    answer = anon.post("/login", data={"csrf": csrf_of(anon), "token": "iks_nope_nope"})
    assert answer.status_code == 401
    assert "not authenticated" in answer.text
    assert "Traceback" not in answer.text
    empty = anon.post("/login", data={"csrf": csrf_of(anon), "token": " "})
    assert empty.status_code == 400
    assert "token: enter a token" in empty.text


def test_the_local_link_needs_its_code(console: Running) -> None:
    with client_for(console.stack.dashboard, local_code="abc", local_token="t") as client:
        assert client.get("/login/local?code=wrong").status_code == 403
        assert client.get("/login/local").status_code == 403
    with client_for(console.stack.dashboard) as client:  # no token given: no link at all
        assert client.get("/login/local?code=").status_code == 403


def test_a_viewer_reads_pages_without_action_forms(console: Running, anon: TestClient) -> None:
    viewer = console.stack.json("token", "create", "--subject", "route viewer", "--role", "viewer")
    sign_in(anon, str(viewer["secret"]))
    plans = anon.get("/plans")
    assert plans.status_code == 200
    assert ">hello</a>" in plans.text
    plan = anon.get("/plans/hello")
    assert plan.status_code == 200
    assert 'data-job="local-say-hello"' in plan.text
    assert "Create instance" not in plan.text
    assert "viewer (read only)" in plan.text
    missing = anon.get("/plans/no-such-plan")
    assert missing.status_code == 502
    assert "not found" in missing.text


def test_an_operator_holds_by_post_and_a_refusal_is_shown(
    console: Running, anon: TestClient
) -> None:
    sign_in(anon, console.stack.admin_token)
    made = console.stack.json("instance", "create", "nightly-batch")
    iid = made["id"]
    first = sorted(j["identifier"] for j in made["jobs"] if j["status"] == "WAITING")[-1]
    page = anon.get(f"/instances/{iid}")
    assert page.status_code == 200
    assert 'data-verb="hold"' in page.text
    csrf = csrf_of(anon, f"/instances/{iid}")
    form = {"csrf": csrf, "verb": "hold", "job": first, "back": f"/instances/{iid}"}
    answer = anon.post(f"/instances/{iid}/jobs", data=form)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/instances/{iid}"
    assert console.stack.job_status(iid, first) == "ON_HOLD"
    again = anon.post(f"/instances/{iid}/jobs", data=form, follow_redirects=True)
    assert "refused:" in again.text  # holding a held job: the dashboard's own words
    bad = anon.post(f"/instances/{iid}/jobs", data={**form, "verb": "explode"})
    assert bad.status_code == 303
    shown = anon.get(f"/instances/{iid}").text
    assert "verb: unknown job verb" in shown
    forged = anon.post(f"/instances/{iid}/jobs", data={**form, "csrf": "forged"})
    assert forged.status_code == 403
    other = anon.post(
        f"/instances/{iid}/jobs", data=form, headers={"origin": "https://evil.example"}
    )
    assert other.status_code == 403
    console.stack.ok("instance", "end", iid)


def test_plan_text_is_rendered_inert(console: Running, anon: TestClient, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "name: hostile-text\n"
        f"description: '{HOSTILE}'\n"
        "scheduledJobs:\n"
        "  - agentName: local\n"
        "    jobName: j\n"
        "    internalEventDrivenJob: {commandLine: 'echo hi'}\n"
    )
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "p.yaml"))
    sign_in(anon, console.stack.admin_token)
    for path in ("/plans", "/plans/hostile-text"):
        text = anon.get(path).text
        assert HOSTILE not in text
        assert "&lt;script&gt;alert(" in text


def test_the_svg_escapes_every_name() -> None:
    plan = plan_pb2.Context(name=HOSTILE)
    plan.contexts.add(name=f"child{HOSTILE}")
    job = plan.scheduled_jobs.add(agent_name="a", job_name="j", identifier=HOSTILE)
    job.internal_event_driven_job.command_line = "true"
    svg = layout.to_svg(plan, {(HOSTILE, HOSTILE): '"><script>'})
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg
    assert 'class="job s-&quot;&gt;&lt;script&gt;' in svg


def test_layout_puts_each_job_right_of_what_it_waits_for() -> None:
    plan = plan_pb2.Context(name="p")
    for name in ("a", "b", "c", "d"):
        plan.scheduled_jobs.add(identifier=name, agent_name="x", job_name=name)
    for target, sources in (("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])):
        dep = plan.job_dependencies.add(job_identifier=target)
        for source in sources:
            dep.logical_grouping.all_of.add(identifier=source)
    placed = {p.identifier: p for p in layout.layout(build_graph(plan))}
    assert placed["a"].x < placed["b"].x == placed["c"].x < placed["d"].x
    assert placed["b"].y != placed["c"].y


def test_web_bad_flags_are_one_line_errors() -> None:
    for args, needle in (
        (("--listen", "nowhere"), "--listen: expected HOST:PORT"),
        (("--dashboard", "nowhere"), "--dashboard: expected HOST:PORT"),
        (("--token-file", "/nonexistent/token"), "--token-file: cannot read"),
    ):
        done = subprocess.run(
            cli_command("web", *args), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ikasched: ") and needle in lines[0], lines


def test_the_overview_shows_errors_across_plans_and_agents(
    console: Running, anon: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "f.yaml").write_text(
        "name: route-fails\n"
        "scheduledJobs:\n"
        "  - agentName: local\n"
        "    jobName: boom\n"
        "    internalEventDrivenJob: {commandLine: 'exit 7'}\n"
    )
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "f.yaml"))
    iid = console.stack.json("instance", "create", "route-fails")["id"]
    console.stack.ok("job", "run", iid, "local-boom")
    console.stack.wait_job(iid, "local-boom", "ERROR")
    sign_in(anon, console.stack.admin_token)
    page = anon.get("/")
    assert page.status_code == 200
    errors = page.text.split('id="overview-errors"', 1)[1].split("</section>", 1)[0]
    assert ">local-boom</a>" in errors and "route-fails" in errors
    agents = page.text.split('id="overview-agents"', 1)[1].split("</section>", 1)[0]
    assert "0 of 2 away" in agents
    console.stack.ok("instance", "end", iid)


def test_an_operator_disables_and_enables_a_plan(console: Running, anon: TestClient) -> None:
    sign_in(anon, console.stack.admin_token)
    csrf = csrf_of(anon, "/plans/file-and-cron")
    answer = anon.post("/plans/file-and-cron/enabled", data={"csrf": csrf, "enabled": "0"})
    assert answer.status_code == 303
    plans = {p["name"]: p for p in console.stack.json("plan", "list")}
    assert not plans["file-and-cron"].get("enabled")
    assert 'data-verb="enable"' in anon.get("/plans/file-and-cron").text
    anon.post("/plans/file-and-cron/enabled", data={"csrf": csrf, "enabled": "1"})
    plans = {p["name"]: p for p in console.stack.json("plan", "list")}
    assert plans["file-and-cron"]["enabled"] is True


def test_parameters_are_escaped_and_secrets_masked(
    console: Running, anon: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "params.yaml").write_text(
        "name: route-params\n"
        "contextParameters:\n"
        f"  - {{name: SHOWN, defaultValue: '{HOSTILE}'}}\n"
        "  - {name: PASSWORD, defaultValue: hunter2-secret, secret: true}\n"
        "scheduledJobs:\n"
        "  - agentName: local\n"
        "    jobName: j\n"
        "    internalEventDrivenJob: {commandLine: 'echo hi'}\n"
    )
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "params.yaml"))
    iid = console.stack.json("instance", "create", "route-params")["id"]
    sign_in(anon, console.stack.admin_token)
    page = anon.get(f"/instances/{iid}").text
    table = page.split('id="parameters"', 1)[1].split("</table>", 1)[0]
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(" in table
    assert "hunter2" not in page
    assert "*** (secret)" in table
    console.stack.ok("instance", "end", iid)
