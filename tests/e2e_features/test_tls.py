"""The dashboard's port under TLS and mutual TLS (certificates generated in the test): a real
agent runs a job over mTLS; clients without a client certificate, or without TLS, are refused."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from ikasched.v1 import plan_service_pb2, plan_service_pb2_grpc
from ikasched_common.auth import bearer_metadata
from ikasched_common.tls import channel_credentials, generate_pki
from tests.e2e_features.conftest import command_plan, running, wired


async def test_a_real_agent_runs_a_job_over_mutual_tls(tmp_path: Path) -> None:
    pki = generate_pki(tmp_path / "pki")
    marks = tmp_path / "ran"
    async with wired(tmp_path, pki=pki) as stack:
        await stack.provision(command_plan("tls-plan", "a1", {"touch": f"echo ok > {marks}"}))
        async with running(stack.agent("a1")):
            await stack.wait_connected("a1")
            instance = await stack.create("tls-plan")
            await stack.run_job(instance, "a1-touch")
            await stack.wait_job(instance, "a1-touch")
        assert marks.read_text() == "ok\n"


async def _list_plans(channel: grpc.aio.Channel, token: str) -> None:
    stub = plan_service_pb2_grpc.PlanServiceStub(channel)  # type: ignore[no-untyped-call]
    await stub.ListPlans(
        plan_service_pb2.ListPlansRequest(), metadata=bearer_metadata(token), timeout=10
    )


async def test_clients_without_a_certificate_are_refused_under_mutual_tls(tmp_path: Path) -> None:
    pki = generate_pki(tmp_path / "pki")
    async with wired(tmp_path, pki=pki) as stack:
        target = f"127.0.0.1:{stack.app.port}"
        # with its certificate the same call goes through
        await _list_plans(stack.channel, stack.token)
        without_cert = grpc.aio.secure_channel(target, channel_credentials(pki.ca_cert))
        plaintext = grpc.aio.insecure_channel(target)
        try:
            for channel in (without_cert, plaintext):
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await _list_plans(channel, stack.token)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await without_cert.close(None)
            await plaintext.close(None)


async def test_tls_without_client_ca_accepts_a_client_that_trusts_the_server(
    tmp_path: Path,
) -> None:
    pki = generate_pki(tmp_path / "pki")
    async with wired(tmp_path, pki=pki, mutual=False) as stack:
        target = f"127.0.0.1:{stack.app.port}"
        server_only = grpc.aio.secure_channel(target, channel_credentials(pki.ca_cert))
        plaintext = grpc.aio.insecure_channel(target)
        try:
            await _list_plans(server_only, stack.token)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await _list_plans(plaintext, stack.token)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await server_only.close(None)
            await plaintext.close(None)
