"""Commands that need no dashboard: help, version, completion, local validation, graphs from
files, offline next fire times; usage errors and an unreachable dashboard."""

from __future__ import annotations

import argparse
import socket
import subprocess
from pathlib import Path

import pytest

from ikasched_cli.completion import _walk
from ikasched_cli.main import build_parser, main

from .conftest import REPO, assert_one_line_error, clean_env, run, write_plan

EXAMPLES = REPO / "examples"


def _leaf_paths() -> list[str]:
    return [
        path
        for path, words in _walk(build_parser(), "")
        if path and not any(not w.startswith("-") for w in words)
    ]


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _leaf_paths()
    assert {
        "plan apply",
        "instance watch",
        "job logs",
        "queue dlq",
        "token revoke",
        "event raise",
        "agent list",
        "db upgrade",
        "up",
        "dashboard",
    } <= set(paths)
    for path in paths:
        with pytest.raises(SystemExit) as exc:
            main([*path.split(), "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith(f"usage: ikasched {path}"), (path, text[:80])


def test_version_help_and_agent_help_as_subprocesses(tmp_path: Path) -> None:
    env = clean_env()
    version = run(["version"], cwd=tmp_path, env=env)
    assert version.rc == 0 and version.out.startswith("ikasched 0.")
    top = run(["--help"], cwd=tmp_path, env=env)
    assert top.rc == 0 and "plan" in top.out and "exit status" in top.out
    agent = run(["agent", "run", "--help"], cwd=tmp_path, env=env)
    assert agent.rc == 0 and "--name" in agent.out and "ikasched agent" in agent.out


def test_agent_without_run_is_the_older_spelling_of_agent_run() -> None:
    from ikasched_cli.main import _agent_alias

    argv = _agent_alias(["agent", "--name", "a1", "--fast-reconnect", "--status-interval", "0.2"])
    assert argv[:2] == ["agent", "run"]
    args = build_parser(argv).parse_args(argv)
    assert (args.name, args.fast_reconnect, args.status_interval) == ("a1", True, 0.2)
    assert _agent_alias(["agent"]) == ["agent", "run"]
    assert _agent_alias(["agent", "list"]) == ["agent", "list"]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    env = clean_env()
    assert run(["plan", "frobnicate"], cwd=tmp_path, env=env).rc == 2
    assert run(["instance", "create"], cwd=tmp_path, env=env).rc == 2
    bad_param = run(["instance", "create", "hello", "--param", "novalue"], cwd=tmp_path, env=env)
    assert_one_line_error(bad_param, rc=2, contains="NAME=VALUE")


def test_completion_bash_is_a_valid_script(tmp_path: Path) -> None:
    result = run(["completion", "bash"], cwd=tmp_path, env=clean_env())
    assert result.rc == 0
    assert "complete -F _ikasched ikasched" in result.out
    assert '"plan") echo "--help apply validate' in result.out
    script = tmp_path / "c.bash"
    script.write_text(result.out)
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    # the function completes subcommands of `ikasched job h`
    probe = (
        f"source {script}; COMP_WORDS=(ikasched job h); COMP_CWORD=2; _ikasched; "
        'echo "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["hold"]


def test_validate_examples_ok(tmp_path: Path) -> None:
    result = run(["plan", "validate", "-f", str(EXAMPLES)], cwd=tmp_path, env=clean_env())
    assert result.rc == 0, result.err
    assert "plan 'hello' is valid" in result.out


def test_validate_lists_every_error_with_paths(tmp_path: Path) -> None:
    broken = write_plan(
        tmp_path,
        "broken",
        """
name: broken
scheduledJobs:
  - agentName: local
    jobName: a
    internalEventDrivenJob: {commandLine: "true", timeoutSeconds: ten}
  - agentName: local
    jobName: b
    internalEventDrivenJob: {commandLine: "true", bogusField: 1}
""",
    )
    result = run(
        ["plan", "validate", "-f", str(broken), "-o", "json"], cwd=tmp_path, env=clean_env()
    )
    assert result.rc == 1
    problems = result.json()["problems"]
    paths = [p["path"] for p in problems]
    assert any("scheduled_jobs[0]" in p or "scheduledJobs[0]" in p for p in paths), paths
    assert any("scheduled_jobs[1]" in p or "scheduledJobs[1]" in p for p in paths), paths
    assert all(p["severity"] == "ERROR" for p in problems)


def test_validate_semantic_errors(tmp_path: Path) -> None:
    cyclic = write_plan(
        tmp_path,
        "cyclic",
        """
name: cyclic
scheduledJobs:
  - {agentName: local, jobName: a, internalEventDrivenJob: {commandLine: "true"}}
  - {agentName: local, jobName: b, internalEventDrivenJob: {commandLine: "true"}}
jobDependencies:
  - {jobIdentifier: local-a, logicalGrouping: {and: [local-b]}}
  - {jobIdentifier: local-b, logicalGrouping: {and: [local-a]}}
""",
    )
    result = run(["plan", "validate", "-f", str(cyclic)], cwd=tmp_path, env=clean_env())
    assert result.rc == 1
    assert "error" in result.out and "cyclic.yaml" in result.out


def test_validate_a_directory_reports_every_file(tmp_path: Path) -> None:
    """A broken file does not hide the others: each is loaded, validated and reported."""
    plans = tmp_path / "plans"
    plans.mkdir()
    hello = (EXAMPLES / "hello.yaml").read_text()
    (plans / "a.yaml").write_text(hello)
    (plans / "b.yaml").write_text("name: b\n  bad: [\n")
    (plans / "c.yaml").write_text(
        hello.replace("name: hello", "name: c").replace(
            "and: [local-say-world]", "and: [local-nowhere]"
        )
    )
    result = run(["plan", "validate", "-f", str(plans)], cwd=tmp_path, env=clean_env())
    assert result.rc == 1
    lines = result.out.splitlines()
    assert any("a.yaml" in line and "'hello' is valid" in line for line in lines), result.out
    assert any("b.yaml" in line and "invalid YAML" in line for line in lines), result.out
    assert any("c.yaml" in line and "local-nowhere" in line for line in lines), result.out


def test_validate_missing_file(tmp_path: Path) -> None:
    result = run(
        ["plan", "validate", "-f", str(tmp_path / "nope.yaml")], cwd=tmp_path, env=clean_env()
    )
    assert result.rc == 1 and "no such file" in result.out


def test_graph_from_file_dot_and_mermaid(tmp_path: Path) -> None:
    env = clean_env()
    dot = run(["plan", "graph", "-f", str(EXAMPLES / "hello.yaml")], cwd=tmp_path, env=env)
    assert dot.rc == 0, dot.err
    assert dot.out.startswith('digraph "hello"')
    assert "n_local_say_hello -> n_local_say_world;" in dot.out
    mermaid = run(
        ["plan", "graph", "-f", str(EXAMPLES / "nightly-batch.yaml"), "--format", "mermaid"],
        cwd=tmp_path,
        env=env,
    )
    assert mermaid.rc == 0, mermaid.err
    assert mermaid.out.startswith("flowchart LR")
    assert 'subgraph ctx3["warehouse"]' in mermaid.out or '["warehouse"]' in mermaid.out
    assert "n_CONTEXT_TERMINAL_JOB_load --> n_GLOBAL_EVENT_nightly_batch_done" in mermaid.out


def test_next_fires_offline(tmp_path: Path) -> None:
    result = run(
        [
            "plan",
            "next-fires",
            "--cron",
            "0 30 2 ? * * *",
            "--tz",
            "Europe/London",
            "-n",
            "3",
            "-o",
            "json",
        ],
        cwd=tmp_path,
        env=clean_env(),
    )
    assert result.rc == 0, result.err
    data = result.json()
    assert data["timezone"] == "Europe/London"
    assert len(data["fire_times"]) == 3
    assert all("T02:30:00" in t for t in data["fire_times"])
    bad = run(["plan", "next-fires", "--cron", "not a cron"], cwd=tmp_path, env=clean_env())
    assert_one_line_error(bad, rc=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "args", [["plan", "list"], ["instance", "list"], ["agent", "list"], ["job", "hold", "x", "y"]]
)
def test_unreachable_dashboard_exit_3(tmp_path: Path, args: list[str]) -> None:
    env = clean_env(IKASCHED_DASHBOARD=f"127.0.0.1:{_free_port()}", IKASCHED_TOKEN="t")
    result = run(args, cwd=tmp_path, env=env)
    assert_one_line_error(result, rc=3, contains="cannot reach the dashboard")


def test_broken_plan_file_on_apply_is_refused_before_any_call(tmp_path: Path) -> None:
    broken = write_plan(tmp_path, "bad", "name: [unclosed\n")
    # unreachable dashboard: the file is refused first, with exit 1
    env = clean_env(IKASCHED_DASHBOARD=f"127.0.0.1:{_free_port()}")
    result = run(["plan", "apply", "-f", str(broken)], cwd=tmp_path, env=env)
    assert result.rc == 1
    assert "bad.yaml" in result.err and "Traceback" not in result.err


def test_config_file_in_data_dir_is_used(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "ikasched-data").mkdir()
    (tmp_path / "ikasched-data" / "cli.toml").write_text(
        f'[cli]\ndashboard = "127.0.0.1:{port}"\ntoken_file = "admin.token"\n'
    )
    (tmp_path / "ikasched-data" / "admin.token").write_text("iks_00_secret\n")
    result = run(["plan", "list"], cwd=tmp_path, env=clean_env())
    assert_one_line_error(result, rc=3, contains=f"127.0.0.1:{port}")
    # flags beat the file
    other = _free_port()
    result = run(
        ["plan", "list", "--dashboard", f"127.0.0.1:{other}"], cwd=tmp_path, env=clean_env()
    )
    assert_one_line_error(result, rc=3, contains=f"127.0.0.1:{other}")
    (tmp_path / "ikasched-data" / "cli.toml").write_text('[cli]\ncolour = "yes"\n')
    result = run(["plan", "list"], cwd=tmp_path, env=clean_env())
    assert_one_line_error(result, rc=2, contains="unknown [cli] setting")


def test_parser_leaves_name_their_handlers() -> None:
    """Every leaf names an importable handler (lazy imports must not hide a typo)."""
    import importlib

    parser = build_parser()
    seen = 0

    def walk(p: argparse.ArgumentParser) -> None:
        nonlocal seen
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    target = child.get_default("run")
                    if target:
                        module, _, func = target.partition(":")
                        assert callable(getattr(importlib.import_module(module), func)), target
                        seen += 1
                    walk(child)

    walk(parser)
    assert seen >= 40
