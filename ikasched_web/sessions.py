"""Console sessions: a random id in an HttpOnly, SameSite=Strict, Secure cookie, kept in memory
with the user's token and the session's CSRF token. Every visitor gets a session (so the sign-in
form has a CSRF token too); signing in attaches a token to it."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from ikasched_common import clock as clocks

COOKIE = "ikasched_console"
IDLE_SECONDS = 8 * 3600
_MAX_SESSIONS = 10_000


@dataclass(slots=True)
class Session:
    id: str
    csrf: str
    token: str = ""
    can_act: bool = False
    is_admin: bool = False  # the queues pages are offered (the dashboard still checks)
    last_seen: float = 0.0
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    @property
    def signed_in(self) -> bool:
        return bool(self.token)

    def flash(self, kind: str, text: str) -> None:
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        return taken

    def csrf_ok(self, offered: str) -> bool:
        return bool(offered) and hmac.compare_digest(offered, self.csrf)


class Sessions:
    def __init__(self, clock: clocks.Clock | None = None) -> None:
        self._clock = clock or clocks.SystemClock()
        self._by_id: dict[str, Session] = {}

    def _now(self) -> float:
        return self._clock.now_ms() / 1000.0

    def get(self, session_id: str) -> Session | None:
        found = self._by_id.get(session_id)
        if found is None:
            return None
        if self._now() - found.last_seen > IDLE_SECONDS:
            del self._by_id[session_id]
            return None
        found.last_seen = self._now()
        return found

    def new(self) -> Session:
        if len(self._by_id) >= _MAX_SESSIONS:
            oldest = min(self._by_id.values(), key=lambda s: s.last_seen)
            del self._by_id[oldest.id]
        made = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), last_seen=self._now())
        self._by_id[made.id] = made
        return made

    def sign_in(
        self, session: Session, token: str, can_act: bool, is_admin: bool = False
    ) -> Session:
        """A fresh session id on sign-in (no fixation); the old one is dropped."""
        self._by_id.pop(session.id, None)
        made = self.new()
        made.token, made.can_act, made.is_admin = token, can_act, is_admin
        return made

    def drop(self, session: Session) -> None:
        self._by_id.pop(session.id, None)
