"""`ikasched event|queue|agent|token ...` and `db upgrade` against a live dashboard."""

from __future__ import annotations

from pathlib import Path

from .conftest import Cli, assert_one_line_error, clean_env, run


def test_agent_list_shows_the_local_agent(stack: Cli) -> None:
    agents = stack.json("agent", "list")
    local = next(a for a in agents if a["agent_name"] == "local")
    assert local["connected"] is True
    table = stack.ok("agent", "list", "--connected").out.splitlines()
    assert table[0].split()[:2] == ["NAME", "STATE"]
    assert any(line.split()[:2] == ["local", "connected"] for line in table[1:])


def test_event_raise(stack: Cli) -> None:
    raised = stack.json("event", "raise", "cli-test-event", "--any-group")
    assert raised["event"] == "cli-test-event"
    assert isinstance(raised["context_instance_ids"], list)
    assert "reached" in stack.ok("event", "raise", "cli-test-event").out


def test_queues(stack: Cli) -> None:
    queues = stack.json("queue", "list", "--all")
    kinds = {q.get("kind") for q in queues}
    assert "QUEUE_DEAD_LETTER" in kinds and "QUEUE_INBOX" in kinds
    dead = next(q["name"] for q in queues if q["kind"] == "QUEUE_DEAD_LETTER")
    assert stack.json("queue", "dlq") == []
    assert "is empty" in stack.ok("queue", "peek", dead).out
    assert_one_line_error(
        stack.run("queue", "resubmit", dead, "no-such-message"), contains="message"
    )
    assert_one_line_error(stack.run("queue", "delete", dead, "no-such-message"), contains="message")
    cleared = stack.json("queue", "delete", dead, "--all")
    assert cleared["deleted"] == 0
    assert_one_line_error(stack.run("queue", "peek", "no-such-queue"), contains="not found")
    assert_one_line_error(stack.run("queue", "delete", dead), rc=2, contains="--all")


def test_tokens_create_list_revoke(stack: Cli) -> None:
    created = stack.json(
        "token", "create", "--subject", "otto", "--role", "operator", "--ttl", "3600"
    )
    token_id, secret = created["token"]["token_id"], created["secret"]
    assert secret.startswith("iks_")
    listed = stack.json("token", "list")
    assert token_id in [t["token_id"] for t in listed]
    assert stack.run("instance", "list", token=secret).rc == 0
    # an operator may not manage tokens
    assert_one_line_error(stack.run("token", "list", token=secret), contains="permission")
    revoked = stack.json("token", "revoke", token_id)
    assert int(revoked["revoked_time"]) > 0
    assert token_id not in [t["token_id"] for t in stack.json("token", "list")]
    assert token_id in [t["token_id"] for t in stack.json("token", "list", "--all")]
    stack.wait_for(
        "the revocation to take effect", lambda: stack.run("instance", "list", token=secret).rc == 1
    )
    assert_one_line_error(stack.run("instance", "list", token=secret), contains="not authenticated")
    agent = stack.json(
        "token", "create", "--subject", "agent a2", "--role", "agent", "--agent", "a2"
    )
    assert agent["token"]["agent_name"] == "a2"
    assert_one_line_error(
        stack.run("token", "create", "--subject", "x", "--role", "agent"), contains="agent"
    )
    assert_one_line_error(stack.run("token", "revoke", "nope"), contains="not found")


def test_db_upgrade_on_a_fresh_sqlite(tmp_path: Path) -> None:
    result = run(
        ["db", "upgrade", "--data-dir", str(tmp_path / "d")], cwd=tmp_path, env=clean_env()
    )
    assert result.rc == 0, result.err
    assert "revision" in result.out
    assert (tmp_path / "d" / "dashboard.sqlite").exists()
    again = run(["db", "upgrade", "--data-dir", str(tmp_path / "d")], cwd=tmp_path, env=clean_env())
    assert again.rc == 0 and again.out == result.out
    bad = run(
        ["db", "upgrade", "--database-url", "nosuchdialect://x/y"], cwd=tmp_path, env=clean_env()
    )
    assert_one_line_error(bad, rc=1, contains="database upgrade failed")


def test_dashboard_refuses_a_bad_setting(tmp_path: Path) -> None:
    result = run(
        ["dashboard", "--data-dir", str(tmp_path), "--listen", "nowhere"],
        cwd=tmp_path,
        env=clean_env(),
    )
    assert_one_line_error(result, rc=2, contains="listen")
