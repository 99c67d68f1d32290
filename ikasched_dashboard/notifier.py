"""The notifier: posts the notifications outbox's due rows to their webhooks
(docs/semantics.md §15.3). At least once: a row is marked DELIVERED only after a 2xx answer, so
a dashboard killed between the post and the mark posts it again after restart; every post
carries the row's `Idempotency-Key` header for the receiver to drop repeats. A failure (no
connection, a timeout, a non-2xx answer) is retried after `retry_ms` doubling per attempt (at
most `MAX_BACKOFF_MS`); after `max_attempts` the row is DEAD. Posts run off the event loop and
never block orchestration."""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from ikasched_common.clock import Clock
from ikasched_common.config import DashboardConfig
from ikasched_dashboard.audit_alerts import AuditCursor, check_audit_alerts
from ikasched_dashboard.deadlines import check_deadlines
from ikasched_dashboard.email_channel import SmtpSettings, read_secret, send_email
from ikasched_dashboard.run_length import RunLengthState, check_p95, check_short_runs
from ikasched_dashboard.running_time import check_running_time
from ikasched_dashboard.store import notifications as store
from ikasched_dashboard.store.db import read_transaction, write_transaction
from ikasched_dashboard.webhook_signing import HEADER as SIGNATURE_HEADER
from ikasched_dashboard.webhook_signing import resolve_secret, signature

__all__ = ["Notifier", "NotifierSettings", "post_webhook", "smtp_settings"]

log = logging.getLogger(__name__)

MAX_BACKOFF_MS = 300_000
USER_AGENT = "ikasched-notifier/1"


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    max_attempts: int = 8
    retry_ms: int = 1_000
    timeout_s: float = 10.0
    poll_s: float = 0.5
    smtp: SmtpSettings | None = None  # None: e-mail rows fail (and go DEAD) naming smtp_host
    secrets_dir: Path = Path("webhook-secrets")  # where secret: {file: NAME} files are


def post_webhook(url: str, body: str, key: str, timeout_s: float, secret: bytes = b"") -> str:
    """POST the JSON body (signed when a secret is given); "" on a 2xx answer, else why not."""
    data = body.encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": USER_AGENT}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, data)
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            status = int(answer.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{type(exc).__name__}: {reason}"
    return "" if 200 <= status < 300 else f"HTTP {status}"


class Notifier:
    def __init__(self, engine: Engine, clock: Clock, settings: NotifierSettings) -> None:
        self._engine = engine
        self._clock = clock
        self._settings = settings
        self._limits: dict[tuple[str, int], dict[str, int]] = {}  # per plan version
        self._audit = AuditCursor()
        self._run_length = RunLengthState()

    def backoff_ms(self, attempts: int) -> int:
        """The wait after the `attempts`-th failed post."""
        return int(min(MAX_BACKOFF_MS, self._settings.retry_ms * 2 ** max(0, attempts - 1)))

    def check_clock(self) -> int:
        """Queue the clock-driven notifications now due (RUNNING_TIME, audit-derived)."""
        now = self._clock.now_ms()
        with write_transaction(self._engine) as conn:
            queued = check_running_time(conn, now, self._limits)
            queued += check_short_runs(conn, now, self._run_length)
            queued += check_p95(conn, now, self._run_length)
            queued += check_deadlines(conn, now)
            return queued + check_audit_alerts(conn, now, self._audit)

    def send(self, row: store.NotificationRow) -> str:
        """Send one row through its channel: "" when accepted, else why not."""
        if row.url.startswith("mailto:"):
            return send_email(self._settings.smtp, row.url, row.body, row.idempotency_key)
        secret = b""
        if row.secret_ref:
            try:
                secret = resolve_secret(row.secret_ref, self._settings.secrets_dir)
            except ValueError as exc:
                return str(exc)
        return post_webhook(
            row.url, row.body, row.idempotency_key, self._settings.timeout_s, secret
        )

    def deliver_due(self) -> int:
        """Post every due row once; how many were delivered (runs on a worker thread)."""
        now = self._clock.now_ms()
        with read_transaction(self._engine) as conn:
            rows = store.due(conn, now)
        delivered = 0
        for row in rows:
            error = self.send(row)
            after = self._clock.now_ms()
            with write_transaction(self._engine) as conn:
                if not error:
                    store.mark_delivered(conn, row.id, after)
                    delivered += 1
                    continue
                attempts = row.attempts + 1
                dead = attempts >= self._settings.max_attempts
                store.mark_failed(conn, row.id, error, after + self.backoff_ms(attempts), dead)
            log.warning(
                "notification %d (%s) to %s: %s%s",
                row.id,
                row.rule_name,
                row.url,
                error,
                "; gave up (DEAD)" if dead else f"; attempt {attempts}, will retry",
            )
        return delivered

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.check_clock)
                await asyncio.to_thread(self.deliver_due)
            except Exception:
                log.exception("notifier: a delivery round failed")
            await asyncio.sleep(self._settings.poll_s)


def smtp_settings(cfg: DashboardConfig) -> SmtpSettings | None:
    """The SMTP server of the dashboard config (None when smtp_host is unset); the password is
    read here, from smtp_password_file or smtp_password_env, and kept only in memory."""
    if not cfg.smtp_host:
        return None
    password = read_secret(cfg.smtp_password_file, cfg.smtp_password_env, "smtp_password_file")
    return SmtpSettings(
        host=cfg.smtp_host,
        port=cfg.smtp_port,
        security=cfg.smtp_security,
        username=cfg.smtp_username,
        password=password,
        sender=cfg.smtp_from,
        ca_file=cfg.smtp_ca_file,
    )
