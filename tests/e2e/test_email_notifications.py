"""E-mail notifications through the real stack and a real SMTP server (aiosmtpd) on 127.0.0.1
with LOGIN required: one e-mail rule on every kind (START, COMPLETE, ERROR, INSTANCE_ENDED,
RUNNING_TIME) sends each event exactly once, to and cc, with a subject naming plan, job and
status and a body with the reason, the duration and the CLI command to inspect it; a rule whose
recipient the server refuses is retried and ends DEAD naming the SMTP answer; the SMTP
password (read from a file) is never printed."""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .conftest import StackFactory, assert_one_line_error, wait_until, write_plan

PASSWORD = "s3cret-smtp-word"

PLAN = """
name: mailed
timeWindowStart: "0 0 0 1 1 ? 2099"
timezone: UTC
scheduledJobs:
  - agentName: local
    jobName: ok
    internalEventDrivenJob: {{commandLine: "true", timeoutSeconds: 30}}
  - agentName: local
    jobName: fails
    internalEventDrivenJob: {{commandLine: "exit 3", timeoutSeconds: 30}}
  - agentName: local
    jobName: slow
    internalEventDrivenJob:
      commandLine: "while [ ! -e {marks}/go ]; do sleep 0.1; done"
      timeoutSeconds: 120
      maxExecutionTime: 1000
jobDependencies:
  - jobIdentifier: local-ok
  - jobIdentifier: local-fails
  - jobIdentifier: local-slow
"""


@dataclass
class Mailbox:
    """What the SMTP server accepted: (envelope recipients, parsed message)."""

    mails: list[tuple[list[str], Message]] = field(default_factory=list)
    rcpt_refused: int = 0
    logins: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for rcpts, m in self.mails if address in rcpts]

    # ---- aiosmtpd handler hooks -----------------------------------------------------------
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("refused@"):
            with self.lock:
                self.rcpt_refused += 1
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(
                (
                    list(envelope.rcpt_tos),
                    message_from_bytes(envelope.content, policy=policy.default),
                )
            )
        return "250 accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password.decode() == PASSWORD
        if ok:
            with box.lock:
                box.logins[data.login.decode()] += 1
        return AuthResult(success=ok)

    with socket.socket() as probe:  # a free port (the controller's ready check needs one)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def _subject(m: Message) -> str:
    return str(m["Subject"])


def _text(m: Message) -> str:
    payload = m.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")


def test_email_once_per_event_kind_with_reason_duration_and_command(
    stack_factory: StackFactory, smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, port = smtp
    pw = tmp_path / "smtp.pw"
    pw.write_text(PASSWORD + "\n")
    flags = (
        *("--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-security", "none"),
        *("--smtp-username", "ikasched", "--smtp-password-file", str(pw)),
        *("--smtp-from", "scheduler@example.com"),
        *("--notification-retry-ms", "200", "--notification-max-attempts", "3"),
    )
    stack = stack_factory("email", dashboard_flags=flags)
    rules = stack.work / "rules"
    rules.mkdir()
    (rules / "mail.yaml").write_text(
        "name: mail\nplan: mailed\n"
        "on: [START, COMPLETE, ERROR, INSTANCE_ENDED, RUNNING_TIME]\n"
        "email: {to: [ops@example.com], cc: [boss@example.com]}\n"
    )
    (rules / "refused.yaml").write_text(
        "name: refused\nplan: mailed\non: [ERROR]\nemail: {to: [refused@example.com]}\n"
    )
    (rules / "bad.yaml").write_text("name: bad\non: [ERROR]\nemail: {to: [not-an-address]}\n")
    stack.ok("notify", "apply", "-f", str(rules / "mail.yaml"), "-f", str(rules / "refused.yaml"))
    assert_one_line_error(
        stack.run("notify", "apply", "-f", str(rules / "bad.yaml")), contains="email.to[0]"
    )
    plan = write_plan(stack.work, "mailed", PLAN.format(marks=stack.marks))
    stack.ok("plan", "apply", "-f", str(plan))
    iid = stack.ok("instance", "create", "mailed").out.strip()
    stack.ok("job", "run", iid, "local-ok")
    stack.ok("job", "run", iid, "local-fails")
    stack.ok("job", "run", iid, "local-slow")
    stack.wait_job(iid, "local-fails", "ERROR")
    wait_until(
        "the RUNNING_TIME mail",
        lambda: any("RUNNING_TIME" in _subject(m) for m in box.to("ops@example.com")),
        timeout=30,
    )
    (stack.marks / "go").touch()
    stack.wait_job(iid, "local-slow", "COMPLETE")
    stack.ok("instance", "end", iid)
    want = {
        "[ikasched] START: mailed/local-ok RUNNING",
        "[ikasched] COMPLETE: mailed/local-ok COMPLETE",
        "[ikasched] START: mailed/local-fails RUNNING",
        "[ikasched] ERROR: mailed/local-fails ERROR",
        "[ikasched] START: mailed/local-slow RUNNING",
        "[ikasched] RUNNING_TIME: mailed/local-slow RUNNING",
        "[ikasched] COMPLETE: mailed/local-slow COMPLETE",
    }

    def subjects() -> Counter[str]:
        return Counter(_subject(m) for m in box.to("ops@example.com"))

    try:
        wait_until(
            "every event's mail",
            lambda: set(want) <= set(subjects()) and any("INSTANCE_ENDED" in s for s in subjects()),
            timeout=30,
        )
    except AssertionError:
        raise AssertionError(f"{subjects()}; {stack.json('notify', 'deliveries')}") from None
    wait_until(
        "the refused recipient gives up",
        lambda: bool(stack.json("notify", "deliveries", "--status", "DEAD")["notifications"]),
        timeout=30,
    )
    got = subjects()
    assert max(got.values()) == 1, got  # each event mailed once
    ended = [s for s in got if "INSTANCE_ENDED" in s]
    assert ended and ended[0].startswith("[ikasched] INSTANCE_ENDED: mailed "), got
    mails = box.to("ops@example.com")
    assert all(m["Cc"] == "boss@example.com" for m in mails)
    assert all(m["From"] == "scheduler@example.com" for m in mails)
    assert len(box.to("boss@example.com")) == len(mails)  # cc is an envelope recipient too
    error = next(m for m in mails if "ERROR" in _subject(m))
    text = _text(error)
    assert "Reason:      failed with return code 3" in text, text
    assert "Return code: 3" in text and re.search(r"Duration:    \d+\.\ds\n", text), text
    assert f"    ikasched job logs {iid} local-fails\n" in text, text
    assert error["X-Ikasched-Idempotency-Key"].startswith("mail:ERROR:")
    slow = next(m for m in mails if "RUNNING_TIME" in _subject(m))
    slow_text = _text(slow)
    assert "longer than maxExecutionTime 1 s" in slow_text and "so far" in slow_text
    ended_mail = next(m for m in mails if "INSTANCE_ENDED" in _subject(m))
    assert f"ikasched instance get {iid}" in _text(ended_mail)

    dead = stack.json("notify", "deliveries", "--status", "DEAD")["notifications"]
    assert [d["rule_name"] for d in dead] == ["refused"]
    assert dead[0]["attempts"] == 3 and dead[0]["last_error"].startswith("SMTP 550")
    assert dead[0]["url"] == "mailto:refused@example.com"
    assert box.rcpt_refused == 3
    assert box.logins["ikasched"] >= len(mails)  # every send logged in
    listed = stack.ok("notify", "list").out
    assert "mailto:ops@example.com?cc=boss@example.com" in listed
    logs = "".join(p.read_text(errors="replace") for p in stack.base.glob("*.log"))
    assert PASSWORD not in logs and PASSWORD not in listed
