"""Secret parameter values: encryption at rest (AES-256-GCM) and masking for output.

A sealed value reads `enc:v1:<base64url(nonce | ciphertext+tag)>`. The key is 32 bytes, given
in config as url-safe base64 or kept in a key file created with 0600 permissions. Masking walks
any protobuf message (plans, instances, initiation events) and replaces the value of every
parameter marked secret with `***`, for exports, API output and logs.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ikasched_common.auth import write_private_file
from ikasched_common.errors import FailedPrecondition, InvalidArgument, SecretError

MASK = "***"
SEALED_PREFIX = "enc:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
# Parameter messages whose secret flag guards one string field.
_PARAMETER_TYPES = {
    "ikasched.v1.ContextParameter": "default_value",
    "ikasched.v1.ContextParameterInstance": "value",
}

M = TypeVar("M", bound=Message)


def mask(value: str) -> str:
    """What a secret looks like anywhere but the job's environment (empty stays empty)."""
    return MASK if value else ""


def generate_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidArgument("not url-safe base64", field="secret_key") from exc
    if len(key) != KEY_BYTES:
        raise InvalidArgument(
            f"must decode to {KEY_BYTES} bytes, not {len(key)}", field="secret_key"
        )
    return key


def load_or_create_key_file(path: str | os.PathLike[str]) -> bytes:
    """The key in `path`, created (0600, atomically) on first use.

    Refuses a key file that group or others may read, as ssh does with private keys.
    """
    target = Path(path)
    if not target.exists():
        key = generate_key()
        tmp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.new")
        write_private_file(tmp, (encode_key(key) + "\n").encode("ascii"))
        try:
            # link() fails if another process created the file first: then that key wins.
            os.link(tmp, target)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(target.stat().st_mode)
    if mode & 0o077:
        raise FailedPrecondition(
            f"secret key file {target} is accessible by others (mode {mode:o}); chmod 600 it"
        )
    return decode_key(target.read_text(encoding="ascii"))


class SecretBox:
    """Seals and opens secret values with one AES-256-GCM key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise InvalidArgument(f"a secret key has {KEY_BYTES} bytes", field="secret_key")
        self._aead = AESGCM(key)

    @classmethod
    def from_config(cls, key_text: str, key_file: str | os.PathLike[str]) -> SecretBox:
        """Key from config when given, else from (or into) the key file."""
        if key_text:
            return cls(decode_key(key_text))
        return cls(load_or_create_key_file(key_file))

    def seal(self, value: str, *, aad: str = "") -> str:
        """Encrypt `value`; `aad` (e.g. the parameter name) binds the result to its place, so
        a sealed value copied to another parameter does not open."""
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._aead.encrypt(nonce, value.encode("utf-8"), aad.encode("utf-8"))
        return SEALED_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")

    def open(self, sealed: str, *, aad: str = "") -> str:
        if not is_sealed(sealed):
            raise SecretError("not a sealed value")
        try:
            blob = base64.urlsafe_b64decode(sealed[len(SEALED_PREFIX) :].encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise SecretError("sealed value is not base64") from exc
        if len(blob) < NONCE_BYTES + 16:
            raise SecretError("sealed value is truncated")
        try:
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode("utf-8"))
        except InvalidTag as exc:
            raise SecretError("sealed value does not open: wrong key or altered") from exc
        return plain.decode("utf-8")


def is_sealed(text: str) -> bool:
    return text.startswith(SEALED_PREFIX)


def mask_secret_parameters(message: M) -> M:
    """A copy of `message` with every secret parameter's value shown as `***`."""
    copy = type(message)()
    copy.CopyFrom(message)
    _rewrite(copy, lambda _name, value: mask(value))
    return copy


def seal_secret_parameters(message: Message, box: SecretBox) -> bool:
    """Encrypt, in place, every secret parameter value not sealed yet (aad: its name);
    True when one was."""
    sealed = False

    def seal(name: str, value: str) -> str:
        nonlocal sealed
        if not value or is_sealed(value):
            return value
        sealed = True
        return box.seal(value, aad=name)

    _rewrite(message, seal)
    return sealed


def open_secret_parameters(message: Message, box: SecretBox) -> None:
    """Decrypt, in place, every sealed secret parameter value (for the agent-bound copy)."""
    _rewrite(message, lambda name, value: box.open(value, aad=name) if is_sealed(value) else value)


def _rewrite(message: Message, change: Callable[[str, str], str]) -> None:
    descriptor = message.DESCRIPTOR
    guarded = _PARAMETER_TYPES.get(descriptor.full_name)
    if guarded is not None:
        if getattr(message, "secret", False):
            name = str(getattr(message, "name", ""))
            setattr(message, guarded, change(name, str(getattr(message, guarded))))
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            value_field = entry.fields_by_name["value"]
            if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                for item in value.values():
                    _rewrite(item, change)
        elif _is_repeated(field):
            for item in value:
                _rewrite(item, change)
        else:
            _rewrite(value, change)


def _is_repeated(field: FieldDescriptor) -> bool:
    # protobuf 5+ offers is_repeated; older runtimes only the label.
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(getattr(field, "label", 0) == FieldDescriptor.LABEL_REPEATED)
