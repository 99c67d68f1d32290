"""The console's record pages through Starlette's TestClient against the real stack: execution
history (filters, paging, links from the instance and job pages, bad filters named),
notification rules and deliveries, agents and queues; all read-only for a viewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.web.conftest import Console as Running
from tests.web.test_routes import client_for, sign_in

PLAN = (
    "name: route-history\n"
    "scheduledJobs:\n"
    "  - agentName: local\n"
    "    jobName: ok\n"
    "    internalEventDrivenJob: {commandLine: 'echo fine'}\n"
    "  - agentName: local\n"
    "    jobName: boom\n"
    "    internalEventDrivenJob: {commandLine: 'exit 3'}\n"
)


@pytest.fixture
def anon(console: Running) -> Iterator[TestClient]:
    with client_for(console.stack.dashboard) as client:
        yield client


def _runs(console: Running, tmp_path: Path) -> str:
    """An instance of route-history whose two jobs ran: one COMPLETE, one ERROR."""
    (tmp_path / "h.yaml").write_text(PLAN)
    console.stack.ok("plan", "apply", "-f", str(tmp_path / "h.yaml"))
    iid = str(console.stack.json("instance", "create", "route-history")["id"])
    console.stack.ok("job", "run", iid, "local-ok")
    console.stack.ok("job", "run", iid, "local-boom")
    console.stack.wait_job(iid, "local-ok", "COMPLETE")
    console.stack.wait_job(iid, "local-boom", "ERROR")
    return iid


def _table(page: str, ident: str) -> str:
    return page.split(f'id="{ident}"', 1)[1].split("</table>", 1)[0]


def test_history_filters_pages_and_is_linked_from_instance_and_job(
    console: Running, anon: TestClient, tmp_path: Path
) -> None:
    iid = _runs(console, tmp_path)
    viewer = console.stack.json(
        "token", "create", "--subject", "history viewer", "--role", "viewer"
    )
    sign_in(anon, str(viewer["secret"]))
    instance = anon.get(f"/instances/{iid}").text
    assert f'href="/history?instance={iid}"' in instance
    job = anon.get(f"/instances/{iid}/job?job=local-boom").text
    assert 'href="/history?plan=route-history&amp;job=local-boom"' in job
    mine = anon.get(f"/history?instance={iid}")
    assert mine.status_code == 200
    rows = _table(mine.text, "history")
    assert rows.count("<tr data-run=") == 2
    assert "local-ok" in rows and "local-boom" in rows and "s-ERROR" in rows
    errors = _table(anon.get(f"/history?instance={iid}&status=error").text, "history")
    assert errors.count("<tr data-run=") == 1 and "local-boom" in errors
    assert "local-ok" not in errors
    by_job = _table(anon.get("/history?plan=route-history&job=local-ok").text, "history")
    assert "local-ok" in by_job and "local-boom" not in by_job
    assert "No runs match." in anon.get("/history?agent=no-such-agent").text
    future = anon.get(f"/history?instance={iid}&after=2999-01-01").text
    assert "No runs match." in future
    past = _table(anon.get(f"/history?instance={iid}&before=2000-01-01T00:00").text, "history")
    assert "data-run=" not in past
    # Paging: the dashboard's page token, carried with the filters.
    page_one = anon.get(f"/history?plan=route-history&instance={iid}&page=").text
    assert "history-next" not in page_one  # two runs fit one page of 50
    # Viewer: no action forms anywhere on the record pages.
    for path in ("/history", "/notifications", "/agents", "/queues"):
        answer = anon.get(path)
        assert answer.status_code == (502 if path == "/queues" else 200), (path, answer.text)
        assert '<form method="post" action="/instances' not in answer.text
        assert "data-verb=" not in answer.text
    # Queues are the admin's: the viewer reads the dashboard's refusal, word for word.
    assert "ListQueues needs the ADMIN role" in anon.get("/queues").text
    console.stack.ok("instance", "end", iid)


def test_history_refuses_bad_filters_naming_them(console: Running, anon: TestClient) -> None:
    sign_in(anon, console.stack.admin_token)
    for query, words in (
        ("status=RUNNING", "status: 'RUNNING' is not how a run ends"),
        ("after=yesterday", "after: 'yesterday' is not a time"),
        ("after=2026-01-02&before=2026-01-01", "after: must be earlier than before"),
    ):
        answer = anon.get(f"/history?{query}")
        assert answer.status_code == 400, query
        assert words in answer.text.replace("&#39;", "'"), (query, answer.text)
        assert "Traceback" not in answer.text
    bad_page = anon.get("/history?page=not-a-token")
    assert bad_page.status_code == 502
    assert "invalid: " in bad_page.text


def test_history_pages_through_many_runs(console: Running, anon: TestClient) -> None:
    from ikasched_web import records

    saved = records.HISTORY_PAGE
    records.HISTORY_PAGE = 1
    try:
        sign_in(anon, console.stack.admin_token)
        first = anon.get("/history?plan=route-history").text
        assert _table(first, "history").count("<tr data-run=") == 1
        link = first.split('id="history-next" href="', 1)[1].split('"', 1)[0]
        assert "plan=route-history" in link and "page=" in link
        second = anon.get(link.replace("&amp;", "&")).text
        assert _table(second, "history").count("<tr data-run=") == 1
        ids = [p.split('data-run="', 1)[1].split('"', 1)[0] for p in (first, second)]
        assert int(ids[1]) < int(ids[0])  # newest first, the next page older
    finally:
        records.HISTORY_PAGE = saved


def test_notifications_page_shows_rules_and_deliveries(
    console: Running, anon: TestClient, tmp_path: Path
) -> None:
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "name: route-rule\nplan: route-history\non: [ERROR]\nwebhook: http://127.0.0.1:9/x\n"
    )
    console.stack.ok("notify", "apply", "-f", str(rule))
    console.stack.ok("notify", "test", "route-rule")
    sign_in(anon, console.stack.admin_token)
    page = anon.get("/notifications")
    assert page.status_code == 200
    rules = _table(page.text, "rules")
    assert "route-rule" in rules and "route-history" in rules and "ERROR" in rules
    sent = _table(page.text, "deliveries")
    assert "route-rule" in sent and "TEST" in sent
    delivered = _table(anon.get("/notifications?status=DELIVERED").text, "deliveries")
    assert "route-rule" not in delivered  # nothing listens on port 9
    bad = anon.get("/notifications?status=LOST")
    assert bad.status_code == 400
    assert "status: &#39;LOST&#39; is not a delivery status" in bad.text
    console.stack.ok("notify", "delete", "route-rule")


def test_agents_and_queues_pages(console: Running, anon: TestClient) -> None:
    sign_in(anon, console.stack.admin_token)
    agents = console.stack.json("agent", "list")
    page = anon.get("/agents")
    assert page.status_code == 200
    table = _table(page.text, "agents")
    for agent in agents:
        name = agent.get("agentName") or agent.get("agent_name")
        assert f'data-agent="{name}"' in table, (name, table)
    assert "connected since" in table
    assert table.count("<tr data-agent=") == len(agents)
    queues = anon.get("/queues")
    assert queues.status_code == 200
    rows = _table(queues.text, "queues")
    assert "<tr data-queue=" in rows
    assert "inbox" in rows


def test_an_admin_peeks_a_queue_and_the_dashboard_decides_its_actions(
    console: Running, anon: TestClient
) -> None:
    sign_in(anon, console.stack.admin_token)
    listing = anon.get("/queues").text
    assert 'href="/queues/dlq"' in listing and 'href="/queues/inbox"' in listing
    outbox = anon.get("/queues/outbox/local")
    assert outbox.status_code == 200, outbox.text
    assert 'id="messages"' in outbox.text
    assert "data-verb=" not in outbox.text  # outbox messages leave when acknowledged
    dlq = anon.get("/queues/dlq")
    assert dlq.status_code == 200
    csrf = dlq.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    assert "No messages." in dlq.text  # nothing poisoned this stack
    missing = anon.post(
        "/queues/dlq/messages",
        data={"csrf": csrf, "verb": "delete", "message_id": "424242"},
        follow_redirects=True,
    )
    assert "not found: no message 424242 in dlq" in missing.text
    inbox = anon.post(
        "/queues/inbox/messages",
        data={"csrf": csrf, "verb": "resubmit", "message_id": "1"},
        follow_redirects=True,
    )
    assert "refused: only dead letters are resubmitted, not inbox" in inbox.text
    empty = anon.post(
        "/queues/dlq/messages", data={"csrf": csrf, "verb": "delete"}, follow_redirects=True
    )
    assert "message_id: enter a message id" in empty.text
    forged = anon.post("/queues/dlq/messages", data={"verb": "delete", "message_id": "1"})
    assert forged.status_code == 403
    assert anon.get("/queues/nowhere").status_code == 502


def test_an_operator_reads_the_refusal_of_a_queue_action(
    console: Running, anon: TestClient
) -> None:
    operator = console.stack.json("token", "create", "--subject", "q op", "--role", "operator")
    sign_in(anon, str(operator["secret"]))
    csrf = anon.get("/agents").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    answer = anon.post(
        "/queues/dlq/messages",
        data={"csrf": csrf, "verb": "delete", "message_id": "1", "back": "/agents"},
        follow_redirects=True,
    )
    assert "DeleteMessage needs the ADMIN role" in answer.text


def test_the_log_follow_stream_names_bad_input_and_needs_a_session(
    console: Running, anon: TestClient
) -> None:
    assert anon.get("/instances/x/log?job=j&stream=stdout").status_code == 401
    sign_in(anon, console.stack.admin_token)
    for query, words in (
        ("stream=stdout", "job: must name a job"),
        ("job=j&stream=stdin", "stream: 'stdin' is not a log (stdout or stderr)"),
        ("job=j&stream=stdout&offset=ten", "offset: 'ten' is not a byte offset"),
        ("job=j&stream=stdout&offset=-1", "offset: must not be negative"),
    ):
        answer = anon.get(f"/instances/x/log?{query}")
        assert answer.status_code == 400, query
        assert answer.text == words
    with anon.stream("GET", "/instances/no-such/log?job=j&stream=stdout") as answer:
        assert answer.status_code == 200
        body = "".join(answer.iter_text())
    assert "event: failure" in body and "not found" in body, body
