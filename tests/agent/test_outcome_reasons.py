"""Why a run ended, as the agent reports it (outcome_reason), with real processes: a signal
death names its signal, a kill names who asked, a spawn failure its errno, a run the agent
refuses says so and why."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ikasched_agent.events import spawn_failure
from ikasched_agent.executor import Disposition

from .conftest import MakeInitiation
from .support import kill_group_quietly, lines, open_executor, wait_until


async def test_a_wrapper_killed_from_outside_names_the_signal(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("shot", "sleep 30"))
        await wait_until(lambda: bool(rec.events))
        os.killpg(rec.events[0].pid, signal.SIGKILL)  # not the executor: someone else
        await rec.wait_completed("shot")
    done = rec.completions()["shot"]
    assert not done.successful
    assert (done.return_code, done.outcome_reason) == (137, "killed by signal SIGKILL")


async def test_a_command_dying_of_a_signal_is_read_as_such(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("self", "sh -c 'kill -TERM $$'"))
        await ex.submit(make_initiation("plain", "exit 3"))
        await rec.wait_completed("self", "plain")
    done = rec.completions()
    assert done["self"].return_code == 143
    assert done["self"].outcome_reason == (
        "return code 143 = 128 + SIGTERM (died of SIGTERM, or exited 143)"
    )
    # a plain failure has no words of the agent's: the dashboard says "return code 3"
    assert (done["plain"].return_code, done["plain"].outcome_reason) == (3, "")


async def test_a_kill_names_who_asked_and_a_timeout_its_limit(
    data_dir: Path, make_initiation: MakeInitiation
) -> None:
    async with open_executor(data_dir, kill_grace_seconds=0.2) as (ex, rec):
        await ex.submit(make_initiation("victim", "sleep 30"))
        await ex.submit(make_initiation("slow", "sleep 30", timeout_seconds=1))
        await wait_until(lambda: len(rec.events) >= 2)
        assert await ex.kill("victim", reason="killed by alice")
        try:
            await rec.wait_completed("victim", "slow")
        finally:
            for e in rec.events:
                kill_group_quietly(e.pid)
    done = rec.completions()
    assert done["victim"].outcome_reason == "killed by alice"
    assert done["slow"].outcome_reason == "timed out after 1 s"
    assert done["victim"].return_code == done["slow"].return_code == 143  # the same code


async def test_a_spawn_failure_carries_the_errno_text(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    async with open_executor(data_dir) as (ex, rec):
        await ex.submit(make_initiation("nul", "echo a\0b"))
        await rec.wait_completed("nul")
    done = rec.completions()["nul"]
    assert (done.return_code, done.successful) == (-1, False)
    assert done.outcome_reason.startswith("spawn failed: "), done.outcome_reason
    assert "null" in done.outcome_reason
    # an OSError names its errno symbol and the file
    with pytest.raises(OSError) as failed:
        os.posix_spawn(str(tmp_path / "missing"), ["x"], {})
    assert spawn_failure(failed.value) == (
        f"spawn failed: No such file or directory [ENOENT] ({tmp_path / 'missing'})"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="run_as_user needs root")
async def test_an_unknown_run_as_user_is_refused_with_the_reason(
    data_dir: Path, make_initiation: MakeInitiation, tmp_path: Path
) -> None:
    mark = tmp_path / "ran"
    async with open_executor(data_dir) as (ex, rec):
        outcome = await ex.submit(
            make_initiation("who", f"echo x > {mark}", run_as_user="no-such-user-ik")
        )
        await rec.wait_completed("who")
    assert outcome is Disposition.REJECTED
    done = rec.completions()["who"]
    assert done.return_code == -1
    assert done.outcome_reason == (
        "refused by the agent: internal_event_driven_job.run_as_user: "
        "no such OS user 'no-such-user-ik'"
    )
    assert not mark.exists() and not lines(mark)
