"""Access tokens: format, generation, hashing, roles, and the metadata clients send.

A token reads `iks_<id>_<secret>`: the id is public (listed, used to revoke, used to find the
stored row), the secret is 32 random bytes. Only `sha256(token)` is stored. No slow KDF is
needed: slow hashes protect guessable passwords, while a 256-bit random secret cannot be found
by trying hashes however fast they are; a fast hash keeps authenticating every RPC cheap.
Hashing the whole token (id included) means equal secrets under two ids still hash apart.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ikasched_common.errors import TokenFormatError

TOKEN_PREFIX = "iks_"
# 32 random bytes: 256 bits of entropy, 43 url-safe characters.
SECRET_BYTES = 32
ID_BYTES = 8
HASH_SCHEME = "sha256:"
# Written by `ikasched up` in its data dir; later CLI commands in that directory read it.
TOKEN_FILE_NAME = "admin.token"
AUTHORIZATION = "authorization"


class Role(enum.Enum):
    """What a token may do; values are the proto `Role` names the store keeps."""

    VIEWER = "VIEWER"
    OPERATOR = "OPERATOR"
    ADMIN = "ADMIN"
    AGENT = "AGENT"

    @property
    def rank(self) -> int:
        """Operator roles are ordered (viewer < operator < admin); AGENT stands apart."""
        return _RANKS[self]

    def includes(self, needed: Role) -> bool:
        """Whether a token of this role may call a method that needs `needed`."""
        if needed is Role.AGENT or self is Role.AGENT:
            return self is needed
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3, Role.AGENT: 0}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an RPC runs as: the authenticated token's identity."""

    token_id: str
    # Recorded as the actor of the verbs this principal performs.
    subject: str
    role: Role
    # Plans it may touch; empty = every plan.
    plan_names: frozenset[str] = frozenset()
    # AGENT tokens: the one agent name they may speak for.
    agent_name: str = ""

    @property
    def plan_limited(self) -> bool:
        return bool(self.plan_names)

    def may_touch_plan(self, plan_name: str) -> bool:
        return not self.plan_names or plan_name in self.plan_names


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly generated token: `secret` is shown once, only `secret_hash` is stored."""

    token_id: str
    secret: str
    secret_hash: str


def generate_token() -> NewToken:
    token_id = secrets.token_hex(ID_BYTES)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewToken(token_id, secret, hash_token(secret))


def hash_token(secret: str) -> str:
    return HASH_SCHEME + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_id_of(secret: str) -> str:
    """The public id embedded in a token; TokenFormatError when it has none."""
    if not secret.startswith(TOKEN_PREFIX):
        raise TokenFormatError("not an ikasched token")
    token_id, sep, rest = secret[len(TOKEN_PREFIX) :].partition("_")
    # Ids are hex, so the first '_' ends the id even though the secret part may hold '_'.
    if not sep or not rest or not token_id or not all(c in "0123456789abcdef" for c in token_id):
        raise TokenFormatError("not an ikasched token")
    return token_id


def secret_matches(secret: str, secret_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(hash_token(secret).encode(), secret_hash.encode())


def bearer_from_metadata(metadata: Iterable[Any] | None) -> str | None:
    """The token of an "authorization: Bearer <token>" entry, or None.

    `metadata`: gRPC invocation metadata (pairs of key and str/bytes value).
    """
    if not metadata:
        return None
    for item in metadata:
        key, value = item[0], item[1]
        if str(key).lower() != AUTHORIZATION:
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return None


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying `token`, for `stub.Method(request, metadata=...)`."""
    return ((AUTHORIZATION, f"Bearer {token}"),)


def default_token_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / TOKEN_FILE_NAME


def read_token_file(path: str | os.PathLike[str]) -> str:
    return Path(path).read_text(encoding="utf-8").strip()


def write_private_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` with 0600 permissions, atomically (readers never see a partial
    file, and the content is never readable by others, not even for a moment)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_token_file(path: str | os.PathLike[str], token: str) -> None:
    write_private_file(path, (token + "\n").encode("utf-8"))
