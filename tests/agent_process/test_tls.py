"""The agent's dialer from AgentConfig: mutual TLS with a certificate made for 127.0.0.1, and
a dashboard whose certificate the agent does not trust is never linked to."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import grpc
import grpc.aio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ikasched.v1 import agent_pb2_grpc
from ikasched_common.link.grpc_transport import AgentGatewayService, server_options

from .support import (
    FakeDashboard,
    activate,
    command_job,
    in_process_agent,
    initiation,
    provision,
    spawn_agent,
    wait_until,
)


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (also usable as a client certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def _tls_server(
    dash: FakeDashboard, cert: Path, key: Path, client_ca: Path
) -> tuple[grpc.aio.Server, int]:
    """The fake dashboard's gateway behind a TLS port that requires a client certificate."""
    await dash.start()  # plain port (unused here); builds the gateway and its endpoint
    server = grpc.aio.server(options=server_options(dash.settings))
    agent_pb2_grpc.add_AgentGatewayServicer_to_server(  # type: ignore[no-untyped-call]
        AgentGatewayService(dash.gateway), server
    )
    credentials = grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=client_ca.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    return server, port


async def test_agent_links_over_mutual_tls(tmp_path: Path) -> None:
    server_cert, server_key = _self_signed(tmp_path, "dashboard")
    client_cert, client_key = _self_signed(tmp_path, "agent")
    dash = FakeDashboard(tmp_path)
    server, port = await _tls_server(dash, server_cert, server_key, client_ca=client_cert)
    agent = in_process_agent(
        tmp_path / "agent",
        port,
        token="t0k",
        tls_ca_file=str(server_cert),
        tls_cert_file=str(client_cert),
        tls_key_file=str(client_key),
    )
    await agent.start()
    try:
        job = command_job("j", "echo over tls")
        await dash.send(provision(job), activate("i1"), initiation("t1", job))
        done = await dash.wait_completed("t1")
        assert done["t1"].successful
        assert dash.metadata[-1]["authorization"] == "Bearer t0k"
    finally:
        await agent.stop()
        await server.stop(grace=None)
        await dash.close()


async def test_agent_does_not_link_to_an_untrusted_dashboard(tmp_path: Path) -> None:
    server_cert, server_key = _self_signed(tmp_path, "dashboard")
    impostor_cert, _ = _self_signed(tmp_path, "impostor")
    dash = FakeDashboard(tmp_path)
    server, port = await _tls_server(dash, server_cert, server_key, client_ca=server_cert)
    agent = in_process_agent(tmp_path / "agent", port, tls_ca_file=str(impostor_cert))
    await agent.start()
    try:
        # dial attempts fail the TLS handshake; nothing reaches the gateway
        await wait_until(lambda: agent.link.last_error is not None)
        assert not dash.hellos and agent.link.sessions_started == 0
    finally:
        await agent.stop()
        await server.stop(grace=None)
        await dash.close()


def test_agent_refuses_tls_files_that_cannot_serve_naming_the_setting(tmp_path: Path) -> None:
    """Checked at start, one line naming the setting (gRPC itself only logs "Invalid private
    key" and fails every dial later, unexplained)."""
    cert, _key = _self_signed(tmp_path, "agent")
    _other_cert, other_key = _self_signed(tmp_path, "other")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases = [
        (["--tls-cert-file", str(cert), "--tls-key-file", str(other_key)], "tls_key_file"),
        (["--tls-cert-file", str(not_pem), "--tls-key-file", str(other_key)], "tls_cert_file"),
        (["--tls-ca-file", str(tmp_path / "missing.pem")], "tls_ca_file"),
        (["--tls-cert-file", str(cert)], "tls_key_file"),
    ]
    for n, (flags, setting) in enumerate(cases):
        proc = spawn_agent(tmp_path / f"agent{n}", 1, *flags)
        try:
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        err = (tmp_path / f"agent{n}" / "agent-stderr.log").read_text()
        assert rc not in (0, None), (flags, err)
        assert setting in err and "Traceback" not in err, (flags, err)
