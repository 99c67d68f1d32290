"""The e-mail channel over encrypted SMTP to a real aiosmtpd server on 127.0.0.1 with a
certificate from a CA made by the test (docs/semantics.md §15.5): STARTTLS (the server refuses
LOGIN before it) and implicit TLS both deliver when `ca_file` names the CA, and both refuse a
server whose certificate is not trusted, naming the verification failure."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ikasched_common.tls import Pki, generate_pki
from ikasched_dashboard.email_channel import SmtpSettings, send_email

BODY = json.dumps(
    {"rule": "r", "kind": "ERROR", "plan_name": "p", "job_identifier": "local-a",
     "status": "ERROR", "reason": "failed with return code 2", "instance_id": "i"}
)  # fmt: skip


class Box:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content)
        return "250 accepted"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=isinstance(data, LoginPassword) and data.password == b"pw")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return generate_pki(tmp_path_factory.mktemp("smtp-pki"))


def _server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


@pytest.fixture(params=["starttls", "tls"])
def server(request: pytest.FixtureRequest, pki: Pki) -> Iterator[tuple[str, int, Box]]:
    box, port, mode = Box(), _port(), str(request.param)
    tls = _server_context(pki)
    if mode == "starttls":
        controller = Controller(
            box, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
            authenticator=_auth, auth_required=True,
        )  # fmt: skip
    else:
        controller = Controller(
            box, hostname="127.0.0.1", port=port, ssl_context=tls, authenticator=_auth,
            auth_required=True, server_hostname="localhost",
            auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this is TLS throughout
        )  # fmt: skip
    controller.start()
    try:
        yield mode, port, box
    finally:
        controller.stop()


def test_encrypted_smtp_delivers_with_the_ca_and_refuses_without(
    server: tuple[str, int, Box], pki: Pki
) -> None:
    mode, port, box = server
    trusted = SmtpSettings(
        host="127.0.0.1", port=port, security=mode, username="u", password="pw",
        sender="s@example.com", ca_file=str(Path(pki.ca_cert)), timeout_s=10,
    )  # fmt: skip
    assert send_email(trusted, "mailto:ops@example.com", BODY, "r:ERROR:i") == ""
    assert len(box.received) == 1 and b"failed with return code 2" in box.received[0]
    untrusted = SmtpSettings(
        host="127.0.0.1", port=port, security=mode, username="u", password="pw", timeout_s=10
    )
    error = send_email(untrusted, "mailto:ops@example.com", BODY, "r:ERROR:i")
    assert "CERTIFICATE_VERIFY_FAILED" in error, error
    assert len(box.received) == 1
