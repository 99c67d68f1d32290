"""The executor with real processes: outcomes, environment, logs, limits, kills, dedup."""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from ikasched.v1 import common_pb2
from ikasched_agent import runs
from ikasched_agent.executor import Disposition, Executor, quartz_day_of_week
from ikasched_agent.protocol import ProcessEventMessage
from ikasched_agent.runs import RunPaths

from .conftest import MakeInitiation
from .support import group_size, kill_group_quietly, lines, open_executor, process_gone, wait_until


async def test_success_reports_starting_then_completion(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        assert await ex.submit(make_initiation("ok", "echo hello; echo oops >&2")) is (
            Disposition.STARTED
        )
        await rec.wait_completed("ok")
        await ex.drain()
    starting, done = rec.events
    assert starting.job_starting and not done.job_starting
    assert starting.id == "ok:starting" and done.id == "ok:completed"
    assert starting.pid > 0 and starting.pid == done.pid
    assert starting.result_output == done.result_output == str(data_dir / "runs/ok/out.log")
    assert done.successful and done.return_code == 0
    assert done.outcome == common_pb2.EXECUTION_INVOKED
    assert done.completion_time >= done.fire_time > 0
    assert done.context_instance_id == "inst-1" and done.job_name == "job-ok"
    assert done.internal_event_driven_job.command_line.startswith("echo hello")
    assert Path(done.result_output).read_text() == "hello\n"
    assert Path(done.result_error).read_text() == "oops\n"
    assert (data_dir / "runs/ok/reported").exists()


async def test_failure_and_custom_success_codes(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("fail", "exit 3"))
        await ex.submit(make_initiation("three-ok", "exit 3", successful_return_codes=(0, 3)))
        await ex.submit(make_initiation("zero-bad", "exit 0", successful_return_codes=(3,)))
        await rec.wait_completed("fail", "three-ok", "zero-bad")
    done = rec.completions()
    assert (done["fail"].return_code, done["fail"].successful) == (3, False)
    assert (done["three-ok"].return_code, done["three-ok"].successful) == (3, True)
    assert (done["zero-bad"].return_code, done["zero-bad"].successful) == (0, False)


async def test_parameters_are_environment_never_shell_text(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    nasty = f"$(touch {marker}); `touch {marker}` ; touch {marker} && echo 'q\"uote' \n2nd"
    init = make_initiation(
        "env",
        'printf "%s|" "$NASTY" "$PLAIN" "$LOG_FILE_PATH" "$ERROR_LOG_FILE_PATH" '
        '"$IKASCHED_INITIATION_ID" "$IKASCHED_CONTEXT_INSTANCE_ID" "$IKASCHED_JOB_NAME" '
        '"${AGENT_ONLY_VAR-unset}"',
        parameters={"NASTY": nasty, "PLAIN": "p", "TOKEN": "s3cr3t"},
        secret=("TOKEN",),
    )
    os.environ["AGENT_ONLY_VAR"] = "leak"
    try:
        async with open_executor(data_dir) as (ex, rec):
            await ex.submit(init)
            await rec.wait_completed("env")
    finally:
        del os.environ["AGENT_ONLY_VAR"]
    done = rec.completions()["env"]
    run = data_dir / "runs/env"
    assert Path(done.result_output).read_text().split("|") == [
        nasty,
        "p",
        str(run / "out.log"),
        str(run / "err.log"),
        "env",
        "inst-1",
        "job-env",
        "unset",
        "",
    ]
    assert not marker.exists()
    starting = rec.events[0]
    assert "TOKEN=***" in starting.execution_details
    assert "s3cr3t" not in starting.execution_details
    assert "PLAIN=p" in starting.execution_details
    assert "s3cr3t" not in done.execution_details


async def test_working_directory(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    wd = tmp_path / "work dir"
    wd.mkdir()
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("wd", "pwd", working_directory=str(wd)))
        await ex.submit(make_initiation("default", "pwd"))
        await ex.submit(make_initiation("missing", "pwd", working_directory=str(tmp_path / "no")))
        await rec.wait_completed("wd", "default", "missing")
    done = rec.completions()
    assert Path(done["wd"].result_output).read_text() == f"{wd}\n"
    assert Path(done["default"].result_output).read_text() == f"{data_dir / 'runs/default'}\n"
    assert not done["missing"].successful and done["missing"].return_code == 1
    assert "no" in Path(done["missing"].result_error).read_text()


async def test_output_parameters(data_dir: Path, make_initiation: MakeInitiation) -> None:
    script = (
        'echo "count=42" >> "$IKASCHED_OUTPUT_FILE"\n'
        'echo "# a comment" >> "$IKASCHED_OUTPUT_FILE"\n'
        'echo "path=/a=b c" >> "$IKASCHED_OUTPUT_FILE"\n'
    )
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("out", script))
        await ex.submit(make_initiation("none", "true"))
        await rec.wait_completed("out", "none")
    done = rec.completions()
    assert dict(done["out"].job_execution_output_parameters) == {"count": "42", "path": "/a=b c"}
    assert dict(done["none"].job_execution_output_parameters) == {}


async def test_skip_reports_success_without_process(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    side = tmp_path / "side"
    async with open_executor(data_dir) as (ex, rec):
        assert await ex.submit(make_initiation("sk", f"touch {side}", skipped=True)) is (
            Disposition.SKIPPED
        )
        await rec.wait_completed("sk")
    (done,) = rec.events
    assert done.skipped and done.successful and done.pid == 0
    assert done.outcome == common_pb2.EXECUTION_INVOKED
    assert not side.exists() and not (data_dir / "runs/sk").exists()


async def test_dry_run_is_simulated(data_dir: Path, make_initiation: MakeInitiation) -> None:
    ok = make_initiation("dry-ok", "exit 9", dry_run=True)
    ok.dry_run_parameters.fixed_execution_time_millis = 30
    bad = make_initiation("dry-bad", "exit 0", dry_run=True)
    bad.dry_run_parameters.error = True
    pct = make_initiation("dry-pct", "exit 0", dry_run=True)
    pct.dry_run_parameters.job_error_percentage = 100
    pct.dry_run_parameters.min_execution_time_millis = 1
    pct.dry_run_parameters.max_execution_time_millis = 20
    never = make_initiation("dry-never", "exit 0", dry_run=True)
    never.dry_run_parameters.job_error_percentage = 0
    async with open_executor(data_dir, rng=random.Random(7)) as (ex, rec):
        for init in (ok, bad, pct, never):
            assert await ex.submit(init) is Disposition.DRY_RUN
        await rec.wait_completed("dry-ok", "dry-bad", "dry-pct", "dry-never")
    done = rec.completions()
    assert done["dry-ok"].successful and done["dry-ok"].return_code == 0
    assert done["dry-ok"].completion_time - done["dry-ok"].fire_time >= 30
    assert not done["dry-bad"].successful and done["dry-bad"].return_code == 1
    assert not done["dry-pct"].successful
    assert done["dry-never"].successful
    assert all(e.dry_run and e.pid == 0 for e in rec.events)
    assert not (data_dir / "runs/dry-ok").exists()


def test_quartz_day_numbering() -> None:
    assert quartz_day_of_week(dt.date(2024, 1, 7)) == common_pb2.SUN
    assert quartz_day_of_week(dt.date(2024, 1, 8)) == common_pb2.MON
    assert quartz_day_of_week(dt.date(2024, 1, 13)) == common_pb2.SAT


async def test_days_of_week(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    monday = dt.date(2024, 1, 8)
    side = tmp_path / "ran"
    async with open_executor(data_dir, today=lambda: monday) as (ex, rec):
        sunday_only = make_initiation("sun", f"touch {side}", days=(common_pb2.SUN,))
        assert await ex.submit(sunday_only) is Disposition.IGNORED_DAY_OF_WEEK
        await ex.submit(make_initiation("mon", "true", days=(common_pb2.MON, common_pb2.FRI)))
        await rec.wait_completed("sun", "mon")
    done = rec.completions()
    assert done["sun"].outcome == common_pb2.EXECUTION_INVOKED_IGNORED_DAY_OF_WEEK
    assert done["sun"].successful and not side.exists()
    assert done["mon"].outcome == common_pb2.EXECUTION_INVOKED and done["mon"].pid > 0


async def test_timeout_kills_the_whole_process_group(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    gc = tmp_path / "grandchild.pid"
    script = f"sh -c 'sleep 30' & echo $! > {gc}\nsleep 30\n"
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("slow", script, timeout_seconds=1))
        await wait_until(lambda: bool(lines(gc)))
        grandchild = int(lines(gc)[0])
        try:
            await rec.wait_completed("slow")
        finally:
            kill_group_quietly(rec.events[0].pid)
    done = rec.completions()["slow"]
    assert not done.successful
    assert done.outcome_reason == "timed out after 1 s"
    assert done.return_code == 128 + 15
    assert "timed out after 1 s" in done.execution_details
    await wait_until(lambda: process_gone(grandchild))
    assert process_gone(done.pid)


async def test_timeout_escalates_to_kill_after_grace(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    stubborn_pid = tmp_path / "stubborn.pid"
    script = f"trap '' TERM\nsleep 30 & echo $! > {stubborn_pid}\nwait\n"
    async with open_executor(data_dir, default_timeout_seconds=0.3, kill_grace_seconds=0.3) as (
        ex,
        rec,
    ):
        await ex.submit(make_initiation("stubborn", script))
        await rec.wait_completed("stubborn")
    done = rec.completions()["stubborn"]
    assert not done.successful and done.outcome_reason == "timed out after 0.3 s"
    assert done.return_code == 128 + 15  # the wrapper's own end; the job ignored TERM
    assert runs.read_rc(RunPaths.of(data_dir, "stubborn")) is None  # no exit code was recorded
    # The job ignored TERM: only the KILL at the end of the grace can have ended it.
    assert process_gone(int(lines(stubborn_pid)[0]))
    assert process_gone(done.pid)


async def test_kill_lets_the_job_clean_up_within_the_grace(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    cleaned = tmp_path / "cleaned"
    script = f"trap 'sleep 0.2; echo bye > {cleaned}; exit 7' TERM\nsleep 30 &\nwait\n"
    async with open_executor(data_dir, kill_grace_seconds=20) as (ex, rec):
        await ex.submit(make_initiation("graceful", script))
        await rec.wait_for(lambda evs: len(evs) == 1)
        await wait_until(lambda: group_size(rec.events[0].pid) >= 3)  # wrapper, job, sleep
        assert await ex.kill("graceful")
        await rec.wait_completed("graceful")
    done = rec.completions()["graceful"]
    assert lines(cleaned) == ["bye"]  # TERM reached the job; its trap ran to the end
    assert not done.successful and done.outcome_reason == "killed"


@pytest.mark.parametrize("destroy", [False, True])
async def test_kill_on_request(
    data_dir: Path, make_initiation: MakeInitiation, destroy: bool
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("victim", "sleep 30"))
        await rec.wait_for(lambda evs: any(e.job_starting for e in evs))
        assert ex.running() == ["victim"]
        assert await ex.kill("victim", destroy=destroy)
        await rec.wait_completed("victim")
        assert not await ex.kill("victim")
    done = rec.completions()["victim"]
    assert not done.successful and done.outcome_reason == "killed"
    assert done.return_code == 128 + (9 if destroy else 15)
    assert process_gone(done.pid)


async def test_cancel_queued_only(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    async with open_executor(data_dir, max_concurrent_jobs=1) as (ex, rec):
        first = make_initiation("first", f"while [ ! -e {gate} ]; do sleep 0.02; done")
        assert await ex.submit(first) is Disposition.STARTED
        assert await ex.submit(make_initiation("second", "true")) is Disposition.QUEUED
        assert ex.queued() == ["second"]
        assert await ex.cancel("second", "held by operator")
        assert not await ex.cancel("first")
        assert not await ex.cancel("nope")
        gate.touch()
        await rec.wait_completed("first", "second")
        await ex.drain()
    done = rec.completions()
    assert done["first"].successful
    cancelled = done["second"]
    assert not cancelled.successful and cancelled.pid == 0
    assert cancelled.outcome == common_pb2.EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY
    assert cancelled.outcome_reason == "cancelled: held by operator"
    assert not (data_dir / "runs/second").exists()


async def test_priority_order_under_limit_of_one(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    order = tmp_path / "order"
    gate = tmp_path / "gate"
    async with open_executor(data_dir, max_concurrent_jobs=1) as (ex, rec):
        await ex.submit(
            make_initiation("a", f"echo a >> {order}; while [ ! -e {gate} ]; do sleep 0.02; done")
        )
        for name, prio in (("low", 1), ("high1", 5), ("high2", 5), ("zero", 0), ("top", 9)):
            await ex.submit(make_initiation(name, f"echo {name} >> {order}", priority=prio))
        assert ex.queued() == ["top", "high1", "high2", "low", "zero"]
        gate.touch()
        await ex.drain()
    assert lines(order) == ["a", "top", "high1", "high2", "low", "zero"]
    assert [e.initiation_id for e in rec.events if e.job_starting] == lines(order)


async def test_duplicate_submit_runs_once(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    count = tmp_path / "count"
    init = make_initiation("dup", f"echo run >> {count}; sleep 0.2")
    async with open_executor(data_dir) as (ex, rec):
        assert await ex.submit(init) is Disposition.STARTED
        assert await ex.submit(init) is Disposition.DUPLICATE
        await rec.wait_completed("dup")
        await ex.drain()
        assert await ex.submit(init) is Disposition.DUPLICATE
    async with open_executor(data_dir) as (ex2, rec2):  # a later agent, same data dir
        assert await ex2.submit(init) is Disposition.DUPLICATE
        assert await ex2.recover([init]) == {"dup": Disposition.DUPLICATE}
        await ex2.drain()
    assert lines(count) == ["run"]
    assert len(rec.completions()) == 1 and rec2.events == []


async def test_invalid_parameter_name_is_rejected(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        bad = make_initiation("bad", "true", parameters={"A=B": "x"})
        assert await ex.submit(bad) is Disposition.REJECTED
        await rec.wait_completed("bad")
    (done,) = rec.events
    assert not done.successful and "cannot name an environment variable" in done.outcome_reason


async def test_run_as_user(make_initiation: MakeInitiation) -> None:
    # pytest's tmp dirs are private to root; the user's job must reach its run directory.
    base = Path(tempfile.mkdtemp(prefix="ikasched-agent-"))
    base.chmod(0o711)
    async with open_executor(base) as (ex, rec):
        await ex.submit(
            make_initiation(
                "as-nobody",
                'id -un; echo "who=$(id -u)" >> "$IKASCHED_OUTPUT_FILE"',
                run_as_user="nobody",
            )
        )
        await ex.submit(make_initiation("no-user", "true", run_as_user="no-such-user-x"))
        await rec.wait_completed("as-nobody", "no-user")
    done = rec.completions()
    assert done["as-nobody"].successful, Path(done["as-nobody"].result_error).read_text()
    assert Path(done["as-nobody"].result_output).read_text() == "nobody\n"
    assert done["as-nobody"].user == "nobody"
    assert dict(done["as-nobody"].job_execution_output_parameters) == {"who": "65534"}
    assert "no such OS user" in done["no-user"].outcome_reason


async def test_run_as_user_needs_root(
    data_dir: Path, make_initiation: MakeInitiation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("as-x", "true", run_as_user="nobody"))
        await rec.wait_completed("as-x")
    (done,) = rec.events
    assert not done.successful
    assert "needs an agent running as root" in done.outcome_reason
    assert not RunPaths.of(data_dir, "as-x").claim.exists()


async def test_command_line_forms(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    """Inline (evaluated by the wrapper, no job.sh), too long for argv (job.sh), and with an
    interpreter (job.sh): each runs as a script would."""
    script = (
        'greet() { echo "hello $1"; }\n'
        "greet world\n"
        'echo "args=$#"\n'
        "cat <<END\n"
        "here $IKASCHED_JOB_NAME\n"
        "END\n"
        "env | grep -c __ik_ || true\n"
        "exit 7\n"
        "echo never\n"
    )
    long_line = "# " + "x" * 40_000 + "\necho long\n"
    bash = make_initiation("bash", 'echo "${BASH_VERSION:+bash}"; exit 3')
    bash.internal_event_driven_job.execution_environment_properties = "/bin/bash"
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("inline", script))
        await ex.submit(make_initiation("long", long_line))
        await ex.submit(bash)
        await rec.wait_completed("inline", "long", "bash")
    done = rec.completions()
    assert done["inline"].return_code == 7
    assert lines(Path(done["inline"].result_output)) == [
        "hello world",
        "args=0",
        "here job-inline",
        "0",  # the wrapper's own variables are not exported to the job
    ]
    assert not (data_dir / "runs/inline/job.sh").exists()
    assert (done["long"].return_code, lines(Path(done["long"].result_output))) == (0, ["long"])
    assert (data_dir / "runs/long/job.sh").read_text() == long_line
    assert (done["bash"].return_code, lines(Path(done["bash"].result_output))) == (3, ["bash"])
    assert (data_dir / "runs/bash/job.sh").exists()


async def test_emit_many_gets_every_event_in_order_in_batches(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    batches: list[list[str]] = []

    async def one(_event: ProcessEventMessage) -> None:
        raise AssertionError("emit_many is given: emit is not used")

    async def many(events: Sequence[ProcessEventMessage]) -> None:
        # Nothing is marked reported before the batch is taken.
        assert not any(RunPaths.of(data_dir, e.initiation_id).reported.exists() for e in events)
        batches.append([e.id for e in events])

    ex = Executor(data_dir, emit=one, emit_many=many, kill_grace_seconds=0.5)
    try:
        for n in range(20):
            await ex.submit(make_initiation(f"b{n}", "true"))
        await ex.drain()
    finally:
        await ex.aclose()
    ids = [i for batch in batches for i in batch]
    assert sorted(ids) == sorted(
        [f"b{n}:starting" for n in range(20)] + [f"b{n}:completed" for n in range(20)]
    )
    for n in range(20):
        assert ids.index(f"b{n}:starting") < ids.index(f"b{n}:completed")
        assert RunPaths.of(data_dir, f"b{n}").reported.exists()
    assert len(batches) < len(ids)  # at least one batch carried several events
