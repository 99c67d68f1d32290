"""Webhook signatures (docs/semantics.md §15.6).

A webhook rule may name a secret, `secret: {file: NAME}` (the file NAME in the dashboard's
`webhook_secrets_dir`) or `secret: {env: IKASCHED_WEBHOOK_SECRET_...}` (an environment variable
of the dashboard). Only the reference is stored, as "file:NAME" or "env:NAME"; the notifier
reads the secret at every post (so a rotated secret takes effect without re-applying the rule)
and sends `X-Ikasched-Signature: sha256=<hex HMAC-SHA256 of the body bytes>`. A reference that
cannot be read fails the post (retried, then DEAD): a signed webhook is never posted unsigned.
References are confined to that directory and that prefix, so a rule cannot make the dashboard
use an arbitrary file or variable.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from ikasched_common.errors import InvalidArgument

__all__ = ["ENV_PREFIX", "HEADER", "parse_secret", "resolve_secret", "signature"]

HEADER = "X-Ikasched-Signature"
ENV_PREFIX = "IKASCHED_WEBHOOK_SECRET_"
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_ENV_NAME = re.compile(r"^" + ENV_PREFIX + r"[A-Za-z0-9_]{1,100}$")


def parse_secret(document: object) -> str:
    """A rule's `secret` mapping as its stored reference; InvalidArgument naming the field."""
    if document is None or document == "":
        return ""
    if not isinstance(document, dict) or len(document) != 1:
        raise InvalidArgument("a mapping with one of file or env", field="secret")
    ((key, value),) = document.items()
    if key not in ("file", "env"):
        raise InvalidArgument("unknown field (expected file or env)", field=f"secret.{key}")
    if not isinstance(value, str):
        raise InvalidArgument("must be a string", field=f"secret.{key}")
    if key == "file" and not _FILE_NAME.match(value):
        raise InvalidArgument(
            "a file name in the dashboard's webhook_secrets_dir (no '/', not starting with '.')",
            field="secret.file",
        )
    if key == "env" and not _ENV_NAME.match(value):
        raise InvalidArgument(
            f"an environment variable named {ENV_PREFIX}<letters, digits, _>", field="secret.env"
        )
    return f"{key}:{value}"


def resolve_secret(ref: str, secrets_dir: Path) -> bytes:
    """The secret a stored reference names; OSError/KeyError-free: ValueError saying why not."""
    kind, _, name = ref.partition(":")
    if kind == "file":
        path = secrets_dir / name
        try:
            secret = path.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ValueError(f"webhook secret file {path}: {exc.strerror}") from None
    elif kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise ValueError(f"webhook secret: environment variable {name} is not set")
        secret = value.encode()
    else:
        raise ValueError(f"webhook secret: unknown reference {kind!r}")
    if not secret:
        raise ValueError(f"webhook secret {ref} is empty")
    return secret


def signature(secret: bytes, body: bytes) -> str:
    """The header value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
