"""Names the operator types: a plan name reaches its newest instance even after it ended (and
says which), unknown plans and jobs get a 'did you mean', and outside the stack's directory the
CLI finds ikasched-data/cli.toml in a parent directory or says which config it did not find."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from .conftest import REPO, Cli, assert_one_line_error, clean_env, run


def test_plan_name_after_its_instance_ended(stack: Cli) -> None:
    stack.ok("plan", "apply", "-f", str(REPO / "examples" / "hello.yaml"))
    for instance in stack.json("instance", "list", "--plan", "hello"):
        stack.ok("instance", "end", instance["id"])
    iid = stack.ok("instance", "create", "hello").out.strip()
    stack.ok("job", "run", "hello", "local-morning")
    stack.wait_job(iid, "local-say-done", "COMPLETE")
    stack.ok("instance", "end", iid)
    got = stack.run("instance", "get", "hello", "-o", "json")
    assert got.rc == 0, got.err
    assert got.json()["id"] == iid
    assert f"using its newest, {iid}" in got.err and "ENDED" in got.err
    logs = stack.run("job", "logs", "hello", "local-say-done")
    assert "instance not found" not in logs.err


def test_unknown_names_get_did_you_mean(stack: Cli) -> None:
    stack.ok("plan", "apply", "-f", str(REPO / "examples" / "hello.yaml"))
    assert_one_line_error(stack.run("instance", "get", "helo"), contains="did you mean 'hello'")
    assert_one_line_error(stack.run("plan", "get", "helo"), contains="did you mean 'hello'")
    iid = stack.ok("instance", "create", "hello").out.strip()
    try:
        assert_one_line_error(
            stack.run("job", "hold", iid, "local-say-helo"),
            contains="did you mean 'local-say-hello'",
        )
        assert_one_line_error(
            stack.run("job", "logs", iid, "local-say-helo"),
            contains="did you mean 'local-say-hello'",
        )
    finally:
        stack.run("instance", "end", iid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_config_found_in_a_parent_directory(stack: Cli, tmp_path: Path) -> None:
    data = tmp_path / "ikasched-data"
    data.mkdir()
    (data / "admin.token").write_text(stack.admin_token + "\n")
    (data / "cli.toml").write_text(f'[cli]\ndashboard = "{stack.dashboard}"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    env = clean_env()
    listed = run(["plan", "list"], cwd=deep, env=env)
    assert listed.rc == 0, listed.err


def test_unreachable_says_which_config(tmp_path: Path) -> None:
    env = clean_env()
    nowhere = run(["plan", "list", "--timeout", "2"], cwd=tmp_path, env=env)
    assert_one_line_error(nowhere, rc=3, contains="no ikasched-data/cli.toml in")
    data = tmp_path / "ikasched-data"
    data.mkdir()
    port = _free_port()
    (data / "cli.toml").write_text(f'[cli]\ndashboard = "127.0.0.1:{port}"\ntimeout = 2\n')
    found = run(["plan", "list"], cwd=tmp_path, env=env)
    assert_one_line_error(found, rc=3, contains=f"from {os.path.realpath(data / 'cli.toml')}")
