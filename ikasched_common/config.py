"""Configuration: flags > IKASCHED_* environment > a TOML file > defaults (docs/architecture.md §9).

Each process describes its settings as a frozen dataclass whose fields carry their defaults;
`load_config` fills it from the four sources and names the field and the source of any bad value.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ikasched_common.errors import InvalidArgument

ENV_PREFIX = "IKASCHED_"
DEFAULT_CONFIG_FILE = "ikasched.toml"

C = TypeVar("C")


#: Largest gRPC message either way between the CLI/SDK and the dashboard (--max-message-bytes;
#: the CLI's own setting defaults to the same).
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """Settings of `ikasched dashboard` (TOML section [dashboard])."""

    data_dir: Path = Path("ikasched-data")
    listen: str = "127.0.0.1:50051"
    # Empty: a SQLite file in data_dir.
    database_url: str = ""
    # crash: survives kill -9 of any process; power: survives power loss (slower).
    journal_durability: str = "crash"
    # Refuse nothing: allow a non-loopback listen address without TLS.
    insecure: bool = False
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # Set: clients must present a certificate signed by this CA (mutual TLS).
    tls_client_ca_file: str = ""
    # gRPC reflection without a token (health is always open).
    reflection_open: bool = False
    # Key for secret parameters at rest; empty: a generated key file in data_dir (0600).
    secret_key: str = ""
    secret_key_file: str = ""
    log_format: str = "text"
    log_level: str = "info"
    # Prometheus metrics over plain HTTP (GET /metrics) on HOST:PORT; empty = off.
    metrics_listen: str = ""
    heartbeat_interval_ms: int = 5_000
    liveness_timeout_ms: int = 20_000
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # Execution history: runs that ended longer ago are purged (hourly and at start); 0 = keep.
    history_retention_days: int = 0
    # Webhook notifications: posts per notification before it is DEAD, first retry delay.
    notification_max_attempts: int = 8
    notification_retry_ms: int = 1_000
    # E-mail notifications (semantics §15.5): the SMTP server; security none|starttls|tls; port
    # 0 = 25/587/465 by security; the password from a file or an environment variable.
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password_file: str = ""
    smtp_password_env: str = ""
    smtp_from: str = ""
    # PEM CA that signs the SMTP server's certificate; empty: the system's trust store.
    smtp_ca_file: str = ""
    # Webhook HMAC secrets named by rules' `secret: {file: NAME}`; empty: data_dir/webhook-secrets.
    webhook_secrets_dir: str = ""
    # PostgreSQL only: the active dashboard's lease (docs/architecture.md §12); a standby takes
    # over this long after the active one stopped renewing it.
    lease_ms: int = 10_000
    # Where clients and agents reach this dashboard (told by standbys); empty: the listen address.
    advertise: str = ""

    def validate(self) -> None:
        if self.history_retention_days < 0:
            raise InvalidArgument("must not be negative", field="history_retention_days")
        _positive("notification_max_attempts", self.notification_max_attempts)
        _positive("notification_retry_ms", self.notification_retry_ms)
        _choice("smtp_security", self.smtp_security, ("none", "starttls", "tls"))
        if not 0 <= self.smtp_port <= 65535:
            raise InvalidArgument("must be 0 to 65535", field="smtp_port")
        if self.smtp_password_file and self.smtp_password_env:
            raise InvalidArgument(
                "set smtp_password_file or smtp_password_env, not both", field="smtp_password_env"
            )
        _choice("journal_durability", self.journal_durability, ("crash", "power"))
        _choice("log_format", self.log_format, ("text", "json"))
        _choice("log_level", self.log_level, ("debug", "info", "warning", "error"))
        _host_port("listen", self.listen)
        if self.metrics_listen:
            _host_port("metrics_listen", self.metrics_listen)
        _positive("heartbeat_interval_ms", self.heartbeat_interval_ms)
        _positive("liveness_timeout_ms", self.liveness_timeout_ms)
        if self.lease_ms < 1000:
            raise InvalidArgument("must be at least 1000", field="lease_ms")
        if self.advertise:
            _host_port("advertise", self.advertise)
        _positive("max_message_bytes", self.max_message_bytes)
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise InvalidArgument(
                "set both tls_cert_file and tls_key_file, or neither", field="tls_cert_file"
            )
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise InvalidArgument(
                "mutual TLS needs tls_cert_file and tls_key_file too", field="tls_client_ca_file"
            )

    @property
    def tls_enabled(self) -> bool:
        return bool(self.tls_cert_file)

    @property
    def effective_secret_key_file(self) -> Path:
        return Path(self.secret_key_file) if self.secret_key_file else self.data_dir / "secret.key"

    @property
    def effective_webhook_secrets_dir(self) -> Path:
        return Path(self.webhook_secrets_dir or self.data_dir / "webhook-secrets")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dashboard.sqlite'}"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Settings of `ikasched agent` (TOML section [agent])."""

    name: str = ""
    dashboard: str = "127.0.0.1:50051"
    data_dir: Path = Path("ikasched-data/agent")
    journal_durability: str = "crash"
    # 0 = unlimited command jobs at once.
    max_concurrent_jobs: int = 0
    # Applies to jobs without timeout_seconds; Ikasan's agent-wide default was 240 minutes.
    default_timeout_seconds: int = 4 * 60 * 60
    kill_grace_seconds: int = 10
    log_retention_days: int = 25
    # Where housekeeping moves runs older than log_retention_days ("" = delete them).
    log_archive_dir: str = ""
    token: str = ""
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    log_format: str = "text"
    log_level: str = "info"

    def validate(self) -> None:
        if not self.name:
            raise InvalidArgument("an agent needs a name (--name or IKASCHED_NAME)", field="name")
        _choice("journal_durability", self.journal_durability, ("crash", "power"))
        _choice("log_format", self.log_format, ("text", "json"))
        _choice("log_level", self.log_level, ("debug", "info", "warning", "error"))
        for address in self.dashboard.split(","):  # several: dashboards sharing PostgreSQL
            _host_port("dashboard", address.strip())
        for name in ("max_concurrent_jobs", "log_retention_days", "kill_grace_seconds"):
            if getattr(self, name) < 0:
                raise InvalidArgument("must not be negative", field=name)
        _positive("default_timeout_seconds", self.default_timeout_seconds)


def load_config(
    cls: type[C],
    *,
    section: str,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    file: Path | None = None,
) -> C:
    """Build `cls` from flags > environment > TOML file section > defaults, then validate it.

    Flags whose value is None count as not given. `file=None` reads ./ikasched.toml if present.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    env = os.environ if env is None else env
    from_file = _read_toml(file, section)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        flag = (flags or {}).get(f.name)
        env_value = env.get(ENV_PREFIX + f.name.upper())
        if flag is not None:
            values[f.name] = _coerce(hint, flag, f"--{f.name.replace('_', '-')}")
        elif env_value is not None:
            values[f.name] = _coerce(hint, env_value, ENV_PREFIX + f.name.upper())
        elif f.name in from_file:
            values[f.name] = _coerce(hint, from_file[f.name], f"[{section}] {f.name}")
    unknown = sorted(set(from_file) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise InvalidArgument(f"unknown setting(s): {', '.join(unknown)}", field=f"[{section}]")
    config = cls(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def _read_toml(file: Path | None, section: str) -> dict[str, Any]:
    path = file if file is not None else Path(DEFAULT_CONFIG_FILE)
    if file is None and not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise InvalidArgument(f"config file not found: {path}", field="config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{path}: not valid TOML ({exc})", field="config") from exc
    table = data.get(section, {})
    if not isinstance(table, dict):
        raise InvalidArgument(f"{path}: [{section}] must be a table", field="config")
    return table


def _coerce(hint: Any, value: Any, source: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise InvalidArgument(f"expected true or false, got {value!r}", field=source)
    if hint is int:
        if isinstance(value, bool):
            raise InvalidArgument(f"expected an integer, got {value!r}", field=source)
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"expected an integer, got {value!r}", field=source) from exc
    if hint is Path:
        return Path(str(value))
    if hint is str:
        if not isinstance(value, str | int | float):
            raise InvalidArgument(f"expected text, got {value!r}", field=source)
        return str(value)
    if origin in (Mapping, dict, typing.Mapping) or (
        isinstance(hint, types.GenericAlias) and hint.__origin__ is dict
    ):
        if isinstance(value, Mapping):
            return {str(k): str(v) for k, v in value.items()}
        pairs: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in str(value).split(","))):
            key, sep, val = item.partition("=")
            if not sep or not key:
                raise InvalidArgument(f"expected key=value pairs, got {item!r}", field=source)
            pairs[key.strip()] = val.strip()
        return pairs
    raise TypeError(f"unsupported setting type {hint!r}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidArgument(f"must be one of {', '.join(allowed)}, got {value!r}", field=name)


def _positive(name: str, value: int) -> None:
    if value <= 0:
        raise InvalidArgument(f"must be positive, got {value}", field=name)


def _host_port(name: str, value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidArgument(f"expected HOST:PORT, got {value!r}", field=name)
