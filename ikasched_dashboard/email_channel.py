"""The e-mail channel of notifications (docs/semantics.md §15.5).

A rule's `email: {to: [...], cc: [...]}` is kept as a `mailto:` address (RFC 6068) in the
rule's and the notification's address column, so e-mail rows go through the same durable
outbox, retries and DEAD state as webhook rows; the notifier sends a row whose address is
`mailto:` over SMTP with the dashboard's [dashboard] smtp_* settings. The message carries the
row's idempotency key as its Message-ID seed and as an `X-Ikasched-Idempotency-Key` header,
so a receiver can drop the repeat of a send the dashboard could not mark.
"""

from __future__ import annotations

import email.policy
import hashlib
import json
import os
import smtplib
import ssl
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ikasched_common.errors import InvalidArgument

__all__ = [
    "SmtpSettings",
    "mailto_address",
    "read_secret",
    "recipients",
    "render",
    "send_email",
]

SECURITIES = ("none", "starttls", "tls")
_POLICY = email.policy.SMTP.clone(max_line_length=998)  # long idempotency keys stay unfolded
_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 0  # 0: 25, 587 or 465 by `security`
    security: str = "starttls"
    username: str = ""
    password: str = ""  # never logged nor printed (repr hides it)
    sender: str = ""
    timeout_s: float = 10.0
    ca_file: str = ""  # trust this CA (PEM) for STARTTLS/TLS; "": the system's trust store

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.effective_port}, {self.security})"

    @property
    def effective_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]


def read_secret(file: str, env: str, field: str) -> str:
    """A secret from a file (trailing newline dropped) or an environment variable; "" if unset."""
    if file:
        try:
            return Path(file).read_text().rstrip("\r\n")
        except OSError as exc:
            raise InvalidArgument(f"cannot read {file}: {exc.strerror}", field=field) from None
    if env:
        value = os.environ.get(env)
        if value is None:
            raise InvalidArgument(f"environment variable {env} is not set", field=field)
        return value
    return ""


def _addresses(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise InvalidArgument("a list of e-mail addresses", field=field)
    out: list[str] = []
    for n, item in enumerate(value):
        text = str(item).strip() if isinstance(item, str) else ""
        at = text.rfind("@")
        if at <= 0 or at == len(text) - 1 or any(c in text for c in " ,<>?&;\t"):
            raise InvalidArgument(f"{item!r} is not an e-mail address", field=f"{field}[{n}]")
        out.append(text)
    return out


def mailto_address(document: object) -> str:
    """The `email` mapping of a rule as its mailto: address; InvalidArgument naming the field."""
    if not isinstance(document, dict):
        raise InvalidArgument("must be a mapping with to and optional cc", field="email")
    unknown = sorted(str(k) for k in document if k not in ("to", "cc"))
    if unknown:
        raise InvalidArgument("unknown field (expected to, cc)", field=f"email.{unknown[0]}")
    to = _addresses(document.get("to"), "email.to")
    if not to:
        raise InvalidArgument("one or more e-mail addresses", field="email.to")
    cc = _addresses(document.get("cc"), "email.cc")
    address = "mailto:" + ",".join(to)
    return address + ("?cc=" + ",".join(cc) if cc else "")


def recipients(address: str) -> tuple[list[str], list[str]]:
    """(to, cc) of a mailto: address."""
    parts = urllib.parse.urlsplit(address)
    to = [a for a in urllib.parse.unquote(parts.path).split(",") if a]
    query = urllib.parse.parse_qs(parts.query)
    cc = [a for v in query.get("cc", []) for a in v.split(",") if a]
    return to, cc


def _time(ms: int) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(event: dict[str, Any]) -> str:
    start, end = int(event.get("start_time") or 0), int(event.get("end_time") or 0)
    if not start:
        return "-"
    end = end or int(event.get("time") or 0)
    if end < start:
        return "-"
    seconds = (end - start) / 1000
    return f"{seconds:.1f}s" + ("" if event.get("end_time") else " so far")


def _inspect(event: dict[str, Any]) -> str:
    iid, job = event.get("instance_id") or "", event.get("job_identifier") or ""
    if not iid:
        return "ikasched notify deliveries"
    if not job:
        return f"ikasched instance get {iid}"
    child = event.get("child_context") or ""
    child = "" if child == event.get("plan_name") else child  # the plan's own jobs
    return f"ikasched job logs {iid} {job}" + (f" --child {child}" if child else "")


def render(body: str) -> tuple[str, str]:
    """(subject, text) of a notification's JSON body."""
    event: dict[str, Any] = json.loads(body)
    plan = event.get("plan_name") or "-"
    job = event.get("job_identifier") or ""
    status = event.get("status") or event.get("kind") or ""
    what = f"{plan}/{job}" if job else plan
    subject = f"[ikasched] {event.get('kind', '')}: {what} {status}".rstrip()
    lines = [
        f"Rule:        {event.get('rule', '')}",
        f"Event:       {event.get('kind', '')}",
        f"Plan:        {plan}",
        f"Instance:    {event.get('instance_id') or '-'}",
    ]
    if event.get("child_context"):
        lines.append(f"Child:       {event['child_context']}")
    if job:
        lines += [
            f"Job:         {job}",
            f"Agent:       {event.get('agent_name') or '-'}",
            f"Attempt:     {event.get('attempt', 0)}",
        ]
    lines += [
        f"Status:      {status or '-'}",
        f"Reason:      {event.get('reason') or '-'}",
        f"Started:     {_time(int(event.get('start_time') or 0))}",
        f"Ended:       {_time(int(event.get('end_time') or 0))}",
        f"Duration:    {_duration(event)}",
    ]
    if job and event.get("end_time"):
        lines.append(f"Return code: {event.get('return_code', 0)}")
    lines += ["", "Inspect it with:", f"    {_inspect(event)}", ""]
    return subject, "\n".join(lines)


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Verifies the server's certificate and host name, against `ca_file` when set."""
    return ssl.create_default_context(cafile=settings.ca_file or None)


def _said(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)


def send_email(settings: SmtpSettings | None, address: str, body: str, key: str) -> str:
    """Send one notification; "" when the server accepted it, else why not."""
    if settings is None or not settings.host:
        return "no SMTP server configured (smtp_host)"
    to, cc = recipients(address)
    subject, text = render(body)
    message = EmailMessage(policy=_POLICY)
    message["From"] = settings.sender or "ikasched@localhost"
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@ikasched>"
    message["X-Ikasched-Idempotency-Key"] = key
    message.set_content(text)
    try:
        smtp: smtplib.SMTP
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.host,
                settings.effective_port,
                timeout=settings.timeout_s,
                context=_tls_context(settings),
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.effective_port, timeout=settings.timeout_s)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=_tls_context(settings))
            if settings.username:
                smtp.login(settings.username, settings.password)
            smtp.send_message(message, to_addrs=to + cc)
    except smtplib.SMTPRecipientsRefused as exc:
        refused = [
            f"SMTP {code} for {who}: {_said(said)}" for who, (code, said) in exc.recipients.items()
        ]
        return "; ".join(refused)[:500]
    except smtplib.SMTPResponseException as exc:
        return f"SMTP {exc.smtp_code}: {_said(exc.smtp_error)}"[:500]
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return ""
