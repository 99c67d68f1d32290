"""Webhook HMAC-SHA256 signatures (docs/semantics.md §15.6) through the notifier, a migrated
SQLite store and a real HTTP server on 127.0.0.1: a rule with `secret: {file: NAME}` or
`secret: {env: ...}` posts `X-Ikasched-Signature: sha256=<HMAC of the exact body>` (checked
here with hmac directly), a rotated file signs the next post with the new secret, an
unsigned rule sends no header, and a secret that cannot be read is never posted unsigned:
the row fails naming the file and ends DEAD. Rule documents with bad secrets are refused
naming the field."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
import yaml
from sqlalchemy import Engine

from ikasched.v1 import notification_service_pb2 as pb
from ikasched.v1 import notification_service_pb2_grpc as pb_grpc
from ikasched_common.clock import SystemClock
from ikasched_dashboard.notifier import Notifier, NotifierSettings
from ikasched_dashboard.services.notifications import parse_rule
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store.db import read_transaction, write_transaction

from .conftest import running
from .support import refused

Posts = list[tuple[str, str | None, bytes]]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Posts]]:
    posts: Posts = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                posts.append((self.path, self.headers.get("X-Ikasched-Signature"), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posts
    server.shutdown()
    server.server_close()


def _hmac(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _event(attempt: int) -> store.NotificationEvent:
    return store.NotificationEvent(
        kind="ERROR", plan_name="p", instance_id="i1", time=1, status="ERROR", attempt=attempt,
        job_identifier="local-a", reason="failed with return code 1",
    )  # fmt: skip


def test_signed_posts_rotation_env_and_unreadable_secrets(
    engine: Engine, receiver: tuple[str, Posts], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, posts = receiver
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "hook-a").write_bytes(b"first-secret\n")
    monkeypatch.setenv("IKASCHED_WEBHOOK_SECRET_B", "env-secret")
    docs = {
        "filed": f"name: filed\non: [ERROR]\nwebhook: {url}/f\nsecret: {{file: hook-a}}",
        "env": f"name: env\non: [ERROR]\nwebhook: {url}/e\n"
        "secret: {env: IKASCHED_WEBHOOK_SECRET_B}",
        "plain": f"name: plain\non: [ERROR]\nwebhook: {url}/p",
        "lost": f"name: lost\non: [ERROR]\nwebhook: {url}/l\nsecret: {{file: missing}}",
    }
    rules = [parse_rule(yaml.safe_load(d), "alice", 1) for d in docs.values()]
    refs = [r.webhook_secret for r in rules]
    assert refs == ["file:hook-a", "env:IKASCHED_WEBHOOK_SECRET_B", "", "file:missing"]
    settings = NotifierSettings(max_attempts=2, retry_ms=1, secrets_dir=secrets)
    notifier = Notifier(engine, SystemClock(), settings)
    with write_transaction(engine) as conn:
        for rule in rules:
            store.put_rule(conn, rule)
        store.enqueue(conn, [_event(1)], 0, None)
    assert notifier.deliver_due() == 3
    by_path = {p: (sig, body) for p, sig, body in posts}
    sig, body = by_path["/f"]
    assert sig == _hmac(b"first-secret", body)  # the file's trailing newline is not the secret
    sig, body = by_path["/e"]
    assert sig == _hmac(b"env-secret", body)
    assert by_path["/p"][0] is None
    assert "/l" not in by_path  # never posted unsigned

    (secrets / "hook-a").write_bytes(b"rotated")
    with write_transaction(engine) as conn:
        store.enqueue(conn, [_event(2)], 0, [rules[0]])
    for _ in range(3):
        notifier.deliver_due()
    sig, body = posts[-1][1], posts[-1][2]
    assert posts[-1][0] == "/f" and sig == _hmac(b"rotated", body)
    assert sig != _hmac(b"first-secret", body)
    with read_transaction(engine) as conn:
        dead = store.list_notifications(conn, statuses=["DEAD"])
    assert [d.rule_name for d in dead] == ["lost"] and dead[0].attempts == 2
    assert "missing" in dead[0].last_error and "No such file" in dead[0].last_error
    assert sum(1 for p, _s, _b in posts if p == "/l") == 0


async def test_bad_secret_documents_are_refused_naming_the_field(engine: Engine) -> None:
    base = "name: r\non: [ERROR]\n"
    async with running(engine) as d:
        stub = pb_grpc.NotificationServiceStub(d.channel)  # type: ignore[no-untyped-call]
        for doc, needle in (
            (base + "webhook: http://h/x\nsecret: {file: ../etc/passwd}", "secret.file"),
            (base + "webhook: http://h/x\nsecret: {file: .hidden}", "secret.file"),
            (base + "webhook: http://h/x\nsecret: {env: HOME}", "secret.env"),
            (base + "webhook: http://h/x\nsecret: {vault: x}", "secret.vault"),
            (base + "webhook: http://h/x\nsecret: plain-text", "secret"),
            (base + "email: {to: [a@b.c]}\nsecret: {file: k}", "secret"),
        ):
            await refused(
                stub.ApplyNotificationRule(pb.ApplyNotificationRuleRequest(document=doc)),
                grpc.StatusCode.INVALID_ARGUMENT,
                needle,
            )
        ok = await stub.ApplyNotificationRule(
            pb.ApplyNotificationRuleRequest(
                document=base + "webhook: http://h/x\nsecret: {file: k}"
            )
        )
        assert ok.rule.webhook_secret == "file:k"
