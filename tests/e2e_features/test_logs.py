"""Job logs streamed through the dashboard's operator API from a real agent over the link's
lane: exact stdout/stderr bytes, follow mode until the job ends, a 50 MB log while initiations
keep flowing to the same agent, the agent's reported load, and a clear error for an agent that
is not connected."""

from __future__ import annotations

import hashlib
from pathlib import Path

import grpc
import pytest

from ikasched.v1 import (
    admin_service_pb2,
    agent_pb2,
    common_pb2,
    job_service_pb2,
)
from tests.e2e_features.conftest import Stack, command_plan, running, until, wired

BIG_BYTES = 50 * 1024 * 1024


def logs_request(
    instance: str,
    job: str,
    *,
    stream: int = agent_pb2.STDOUT,
    follow: bool = False,
    offset: int = 0,
) -> job_service_pb2.GetJobLogsRequest:
    return job_service_pb2.GetJobLogsRequest(
        job=common_pb2.JobRef(context_instance_id=instance, job_identifier=job),
        stream=stream,  # type: ignore[arg-type]
        follow=follow,
        offset=offset,
    )


async def read_log(stack: Stack, request: job_service_pb2.GetJobLogsRequest) -> bytes:
    out = bytearray()
    async for chunk in stack.jobs.GetJobLogs(request, metadata=stack.md):
        assert not chunk.error, chunk.error
        assert chunk.offset == request.offset + len(out)
        out += chunk.data
    return bytes(out)


async def test_stdout_and_stderr_arrive_byte_for_byte(tmp_path: Path) -> None:
    command = (
        "printf 'line one\\nline two\\n\\001\\377 no newline'; "
        "printf 'an error\\n' >&2; printf 'tail\\n'"
    )
    async with wired(tmp_path) as stack:
        await stack.provision(command_plan("logs", "a1", {"talk": command}))
        async with running(stack.agent("a1")):
            await stack.wait_connected("a1")
            instance = await stack.create("logs")
            await stack.run_job(instance, "a1-talk")
            await stack.wait_job(instance, "a1-talk")
            out = await read_log(stack, logs_request(instance, "a1-talk"))
            err = await read_log(stack, logs_request(instance, "a1-talk", stream=agent_pb2.STDERR))
            part = await read_log(stack, logs_request(instance, "a1-talk", offset=5))
        assert out == b"line one\nline two\n\x01\xff no newlinetail\n"
        assert err == b"an error\n"
        assert part == out[5:]


async def test_follow_streams_a_running_job_until_it_ends(tmp_path: Path) -> None:
    go = tmp_path / "go"
    command = (
        f"printf 'first\\n'; while [ ! -e {go} ]; do sleep 0.02; done; "
        f"printf 'second\\n'; printf 'last\\n'"
    )
    async with wired(tmp_path) as stack:
        await stack.provision(command_plan("follow", "a1", {"slow": command}))
        async with running(stack.agent("a1")):
            await stack.wait_connected("a1")
            instance = await stack.create("follow")
            await stack.run_job(instance, "a1-slow")
            await stack.wait_job(instance, "a1-slow", (common_pb2.RUNNING,))
            got = bytearray()
            eof = False
            stream = stack.jobs.GetJobLogs(
                logs_request(instance, "a1-slow", follow=True), metadata=stack.md
            )
            async for chunk in stream:
                got += chunk.data
                if bytes(got) == b"first\n" and not go.exists():
                    # the job is still waiting for this file: it ends only now
                    assert await stack.job_status(instance, "a1-slow") == common_pb2.RUNNING
                    go.touch()
                eof = chunk.eof
            assert eof
            assert bytes(got) == b"first\nsecond\nlast\n"
            await stack.wait_job(instance, "a1-slow")


async def test_a_50_mb_log_streams_while_initiations_keep_flowing(tmp_path: Path) -> None:
    big = f"yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c {BIG_BYTES}"
    async with wired(tmp_path) as stack:
        await stack.provision(
            command_plan("bulk", "a1", {"big": big, "tick": "echo tick", "tock": "echo tock"})
        )
        async with running(stack.agent("a1")):
            await stack.wait_connected("a1")
            instance = await stack.create("bulk")
            await stack.run_job(instance, "a1-big")
            await stack.wait_job(instance, "a1-big")

            digest = hashlib.sha256()
            total = chunks = 0
            acknowledged_at: dict[str, int] = {}
            async for chunk in stack.jobs.GetJobLogs(
                logs_request(instance, "a1-big"), metadata=stack.md
            ):
                assert not chunk.error
                digest.update(chunk.data)
                total += len(chunk.data)
                chunks += 1
                if chunk.eof:
                    break
                if chunks == 1:
                    # sent after the transfer began, to the agent that is sending the log
                    await stack.run_job(instance, "a1-tick")
                    await stack.run_job(instance, "a1-tock")
                for job in ("a1-tick", "a1-tock"):
                    if (
                        job not in acknowledged_at
                        and await stack.job_status(instance, job) == common_pb2.COMPLETE
                    ):
                        acknowledged_at[job] = chunks
            expected = hashlib.sha256()
            line = b"0123456789abcdefghijklmnopqrstuvwxyz\n"
            expected.update((line * (BIG_BYTES // len(line) + 1))[:BIG_BYTES])
            assert total == BIG_BYTES
            assert digest.hexdigest() == expected.hexdigest()
            # ordering: the agent ran both jobs and the dashboard recorded COMPLETE while the
            # log still had chunks to come (the last chunk is the eof one, not counted here)
            assert set(acknowledged_at) == {"a1-tick", "a1-tock"}, acknowledged_at
            assert max(acknowledged_at.values()) < chunks, (acknowledged_at, chunks)


async def test_agent_load_and_an_unreachable_agent(tmp_path: Path) -> None:
    async with wired(tmp_path) as stack:
        go = tmp_path / "go"
        await stack.provision(
            command_plan(
                "load", "a1", {"wait": f"while [ ! -e {go} ]; do sleep 0.02; done; echo done"}
            )
        )
        agent = stack.agent("a1")
        async with running(agent):
            await stack.wait_connected("a1")
            instance = await stack.create("load")
            await stack.run_job(instance, "a1-wait")
            await stack.wait_job(instance, "a1-wait", (common_pb2.RUNNING,))

            async def reports_one_running() -> bool:
                info = await stack.agents.GetAgent(
                    admin_service_pb2.GetAgentRequest(agent_name="a1"), metadata=stack.md
                )
                return bool(info.running_jobs == 1 and info.queued_jobs == 0)

            await until(reports_one_running, "a1 to report one running job")
            go.touch()
            await stack.wait_job(instance, "a1-wait")

            async def reports_idle() -> bool:
                info = await stack.agents.GetAgent(
                    admin_service_pb2.GetAgentRequest(agent_name="a1"), metadata=stack.md
                )
                return bool(info.running_jobs == 0)

            await until(reports_idle, "a1 to report no running job")
        # the agent is gone: its logs cannot be fetched, and the error names it
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _chunk in stack.jobs.GetJobLogs(
                logs_request(instance, "a1-wait"), metadata=stack.md
            ):
                pass
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "a1" in (info.value.details() or "")
