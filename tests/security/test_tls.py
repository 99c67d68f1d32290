"""TLS and mutual TLS with certificates generated in the test; the plaintext listen refusal."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine

from ikasched.v1 import plan_service_pb2, plan_service_pb2_grpc
from ikasched_common.auth import bearer_metadata
from ikasched_common.errors import InvalidArgument
from ikasched_common.tls import (
    Pki,
    channel_credentials,
    check_listen_address,
    client_credentials,
    generate_pki,
    server_credentials,
)

from .conftest import Tokens, serve, stub


async def _try(target: str, creds: grpc.ChannelCredentials | None, token: str) -> grpc.StatusCode:
    """Health check, then an authenticated call; the first failure's code, or the last one's."""
    channel = (
        grpc.aio.insecure_channel(target)
        if creds is None
        else grpc.aio.secure_channel(target, creds)
    )
    async with channel:
        try:
            await stub(health_pb2_grpc.HealthStub, channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            await stub(plan_service_pb2_grpc.PlanServiceStub, channel).ListPlans(
                plan_service_pb2.ListPlansRequest(), metadata=bearer_metadata(token), timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def test_generated_certificates(pki: Pki) -> None:
    server = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    server.verify_directly_issued_by(ca)
    x509.load_pem_x509_certificate(pki.client_cert.read_bytes()).verify_directly_issued_by(ca)
    for key in (pki.ca_key, pki.server_key, pki.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_tls_serves_tls_clients_only(engine: Engine, tokens: Tokens, pki: Pki) -> None:
    async def main() -> None:
        creds = server_credentials(pki.server_cert, pki.server_key)
        async with serve(engine, credentials=creds) as served:
            trusted = channel_credentials(pki.ca_cert)
            # Authenticated and authorized over TLS: the base servicer answers.
            assert (
                await _try(served.target, trusted, tokens.viewer) == grpc.StatusCode.UNIMPLEMENTED
            )
            assert (
                await _try(served.target, trusted, tokens.wrong) == grpc.StatusCode.UNAUTHENTICATED
            )
            # Plaintext against a TLS port never gets through.
            assert await _try(served.target, None, tokens.viewer) == grpc.StatusCode.UNAVAILABLE

    asyncio.run(main())


def test_tls_client_refuses_a_server_of_another_ca(
    engine: Engine, tokens: Tokens, pki: Pki, tmp_path: Path
) -> None:
    other = generate_pki(tmp_path / "other")

    async def main() -> None:
        creds = server_credentials(other.server_cert, other.server_key)
        async with serve(engine, credentials=creds) as served:
            assert (
                await _try(served.target, channel_credentials(pki.ca_cert), tokens.viewer)
                == grpc.StatusCode.UNAVAILABLE
            )

    asyncio.run(main())


def test_mtls_refuses_clients_without_a_trusted_certificate(
    engine: Engine, tokens: Tokens, pki: Pki, tmp_path: Path
) -> None:
    other = generate_pki(tmp_path / "other")

    async def main() -> None:
        creds = server_credentials(
            pki.server_cert.read_bytes(), pki.server_key, client_ca=pki.ca_cert
        )
        async with serve(engine, credentials=creds) as served:
            with_cert = channel_credentials(pki.ca_cert, pki.client_cert, pki.client_key)
            assert (
                await _try(served.target, with_cert, tokens.viewer) == grpc.StatusCode.UNIMPLEMENTED
            )
            # mTLS does not replace the token.
            assert (
                await _try(served.target, with_cert, tokens.wrong)
                == grpc.StatusCode.UNAUTHENTICATED
            )
            without = channel_credentials(pki.ca_cert)
            assert await _try(served.target, without, tokens.viewer) == grpc.StatusCode.UNAVAILABLE
            foreign = channel_credentials(pki.ca_cert, other.client_cert, other.client_key)
            assert await _try(served.target, foreign, tokens.viewer) == grpc.StatusCode.UNAVAILABLE

    asyncio.run(main())


def test_client_credentials_carry_the_token(engine: Engine, tokens: Tokens, pki: Pki) -> None:
    async def list_plans(target: str, creds: grpc.ChannelCredentials) -> grpc.StatusCode:
        async with grpc.aio.secure_channel(target, creds) as channel:
            try:
                await stub(plan_service_pb2_grpc.PlanServiceStub, channel).ListPlans(
                    plan_service_pb2.ListPlansRequest(), timeout=10
                )
            except grpc.aio.AioRpcError as exc:
                return exc.code()
        return grpc.StatusCode.OK

    async def main() -> None:
        # Plaintext on loopback: the token rides along without per-call metadata.
        async with serve(engine) as served:
            assert (
                await list_plans(served.target, client_credentials(tokens.viewer))
                == grpc.StatusCode.UNIMPLEMENTED
            )
            assert (
                await list_plans(served.target, client_credentials(tokens.wrong))
                == grpc.StatusCode.UNAUTHENTICATED
            )
        creds = server_credentials(pki.server_cert, pki.server_key, client_ca=pki.ca_cert)
        async with serve(engine, credentials=creds) as served:
            mtls = client_credentials(
                tokens.viewer, tls=True, ca=pki.ca_cert, cert=pki.client_cert, key=pki.client_key
            )
            assert await list_plans(served.target, mtls) == grpc.StatusCode.UNIMPLEMENTED

    asyncio.run(main())


def test_a_client_certificate_needs_its_key(pki: Pki) -> None:
    with pytest.raises(InvalidArgument, match="tls_key_file"):
        channel_credentials(pki.ca_cert, cert=pki.client_cert)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1:50051",
        "127.9.9.9:1",
        "localhost:50051",
        "[::1]:50051",
        "unix:/tmp/ik.sock",
    ],
)
def test_loopback_addresses_need_no_tls(address: str) -> None:
    check_listen_address(address, tls_enabled=False, insecure=False)


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0:50051",
        "[::]:50051",
        ":50051",
        "10.1.2.3:50051",
        "dashboard.example.com:443",
        "[2001:db8::1]:50051",
    ],
)
def test_non_loopback_plaintext_is_refused_unless_insecure(address: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        check_listen_address(address, tls_enabled=False, insecure=False)
    assert "--insecure" in str(err.value) and err.value.field == "listen"
    check_listen_address(address, tls_enabled=True, insecure=False)
    check_listen_address(address, tls_enabled=False, insecure=True)
