"""Connection settings and the gRPC client of the operator commands.

Settings: flags > IKASCHED_* environment > the [cli] table of a TOML file > defaults. The file
is --config, else $IKASCHED_CONFIG, else the nearest ikasched-data/cli.toml (written by
`ikasched up`) in the current directory or one of its parents (as git looks for .git), else
./ikasched.toml. Without any token setting, admin.token beside that cli.toml (or
./ikasched-data/admin.token) is used if present, so commands run anywhere under the directory of
`ikasched up` need no flags. An unreachable dashboard's error says where the address came from.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ikasched_cli.exits import FAILED, OK, UNREACHABLE, USAGE
from ikasched_common.config import DEFAULT_MAX_MESSAGE_BYTES
from ikasched_common.errors import CliError, InvalidArgument

__all__ = [
    "FAILED",
    "OK",
    "UNREACHABLE",
    "USAGE",
    "CliError",
    "Client",
    "Connection",
    "connect",
    "resolve_connection",
]

DEFAULT_DASHBOARD = "127.0.0.1:50051"
LOCAL_DATA_DIR = Path("ikasched-data")
CLI_CONFIG_NAME = "cli.toml"
SETTINGS = (
    "dashboard",
    "token",
    "token_file",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "timeout",
    "max_message_bytes",
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Connection:
    dashboard: str = DEFAULT_DASHBOARD
    token: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    # Seconds per unary call.
    timeout: float = 30.0
    # Largest message either way (the dashboard's --max-message-bytes default).
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # Where the dashboard address came from, for the "cannot reach" message.
    source: str = ""


def find_cli_config(start: Path | None = None) -> Path | None:
    """The nearest ikasched-data/cli.toml in `start` (default: the current directory) or one of
    its parents."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / LOCAL_DATA_DIR / CLI_CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def config_file(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("IKASCHED_CONFIG")
    if env:
        return Path(env)
    found = find_cli_config()
    if found is not None:
        return found
    local = Path("ikasched.toml")
    return local if local.exists() else None


def _address_source(args: argparse.Namespace, path: Path | None, table: dict[str, Any]) -> str:
    if getattr(args, "dashboard", None) is not None:
        return "from --dashboard"
    if os.environ.get("IKASCHED_DASHBOARD") is not None:
        return "from IKASCHED_DASHBOARD"
    if path is not None and table.get("dashboard"):
        return f"from {path}"
    if path is not None:
        return f"the default; {path} sets no dashboard"
    return (
        f"the default: no {LOCAL_DATA_DIR / CLI_CONFIG_NAME} in {Path.cwd()} or its parents, "
        "no ./ikasched.toml; pass --dashboard or set IKASCHED_DASHBOARD"
    )


def read_cli_table(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"config file not found: {path}", USAGE) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"config file {path}: {exc}", USAGE) from None
    table = data.get("cli", {})
    if not isinstance(table, dict):
        raise CliError(f"config file {path}: [cli] must be a table", USAGE)
    unknown = sorted(set(table) - set(SETTINGS))
    if unknown:
        raise CliError(f"config file {path}: unknown [cli] setting(s): {', '.join(unknown)}", USAGE)
    return table


def resolve_connection(args: argparse.Namespace) -> Connection:
    path = config_file(getattr(args, "config", None))
    table = read_cli_table(path)
    base = path.parent if path is not None else Path(".")

    def pick(name: str) -> str:
        flag = getattr(args, name, None)
        if flag is not None:
            return str(flag)
        env = os.environ.get("IKASCHED_" + name.upper())
        if env is not None:
            return env
        value = table.get(name)
        if value is None:
            return ""
        if name in ("token_file", "tls_ca", "tls_cert", "tls_key") and value:
            # relative paths in the file are relative to the file
            return str(base / str(value))
        return str(value)

    token = pick("token")
    if not token:
        token_file = pick("token_file")
        beside = (
            path.parent / "admin.token"
            if path is not None and path.name == CLI_CONFIG_NAME
            else LOCAL_DATA_DIR / "admin.token"
        )
        if not token_file and beside.exists():
            token_file = str(beside)
        if token_file:
            try:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise CliError(
                    f"cannot read token file {token_file}: {exc.strerror}", USAGE
                ) from None
    timeout_text = pick("timeout") or "30"
    try:
        timeout = float(timeout_text)
    except ValueError:
        raise CliError(f"timeout: expected seconds, got {timeout_text!r}", USAGE) from None
    size_text = pick("max_message_bytes") or str(DEFAULT_MAX_MESSAGE_BYTES)
    try:
        max_message_bytes = int(size_text)
    except ValueError:
        max_message_bytes = 0
    if max_message_bytes <= 0:
        raise CliError(
            f"max_message_bytes: expected a positive number of bytes, got {size_text!r}", USAGE
        )
    dashboard = pick("dashboard") or DEFAULT_DASHBOARD
    if ":" not in dashboard:
        raise CliError(f"dashboard: expected HOST:PORT, got {dashboard!r}", USAGE)
    return Connection(
        dashboard=dashboard,
        token=token,
        tls_ca=pick("tls_ca"),
        tls_cert=pick("tls_cert"),
        tls_key=pick("tls_key"),
        timeout=timeout,
        max_message_bytes=max_message_bytes,
        source=_address_source(args, path, table),
    )


_TRANSPORT_MARKERS = (
    "failed to connect",
    "connection refused",
    "dns resolution",
    "socket closed",
    "connection reset",
    "broken pipe",
    "handshake",
    "ssl",
    "tls",
    "no route",
    "timeout",
    "deadline",
    "end of tcp stream",
    "connections to all backends",
    "network is unreachable",
)

_STATUS_WORDS = {
    "INVALID_ARGUMENT": "invalid",
    "NOT_FOUND": "not found",
    "ALREADY_EXISTS": "already exists",
    "FAILED_PRECONDITION": "refused",
    "PERMISSION_DENIED": "permission denied",
    "UNAUTHENTICATED": "not authenticated",
    "RESOURCE_EXHAUSTED": "too much",
    "UNIMPLEMENTED": "not supported by this dashboard",
    "OUT_OF_RANGE": "out of range",
    "UNAVAILABLE": "unavailable",
}


def rpc_error(exc: Any, dashboard: str, source: str = "") -> CliError:
    """One line for a failed call, with the exit code its status deserves."""
    import grpc

    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else "") or ""
    details = " ".join(details.split())
    # UNAVAILABLE is also a service's answer ("no agent gateway"): only transport failures
    # mean the dashboard is out of reach.
    unreachable = code == grpc.StatusCode.DEADLINE_EXCEEDED or (
        code == grpc.StatusCode.UNAVAILABLE
        and any(m in details.lower() for m in _TRANSPORT_MARKERS)
    )
    if unreachable:
        why = "timed out" if code == grpc.StatusCode.DEADLINE_EXCEEDED else details
        where = f" (address {source})" if source else ""
        return CliError(f"cannot reach the dashboard at {dashboard}{where}: {why}", UNREACHABLE)
    word = _STATUS_WORDS.get(code.name, code.name.lower().replace("_", " "))
    hint = ""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        hint = " (pass --token, set IKASCHED_TOKEN, or run next to `ikasched up`)"
    return CliError(f"{word}: {details}{hint}", FAILED)


class Client:
    """Stubs over one channel; every call carries the bearer token and maps errors to CliError."""

    def __init__(self, connection: Connection) -> None:
        import grpc

        self.connection = connection
        options = [
            ("grpc.max_receive_message_length", connection.max_message_bytes),
            ("grpc.max_send_message_length", connection.max_message_bytes),
            ("grpc.enable_retries", 0),
        ]
        if connection.tls_ca or connection.tls_cert:
            from ikasched_common.tls import channel_credentials

            try:
                creds = channel_credentials(
                    connection.tls_ca or None,
                    connection.tls_cert or None,
                    connection.tls_key or None,
                    fields=("--tls-ca", "--tls-cert", "--tls-key"),
                )
            except (OSError, ValueError, InvalidArgument) as exc:
                raise CliError(f"TLS files: {exc}", USAGE) from None
            self._channel = grpc.secure_channel(connection.dashboard, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(connection.dashboard, options=options)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {connection.token}"),) if connection.token else ()
        )

    def close(self) -> None:
        self._channel.close()

    def stub(self, factory: Callable[[Any], T]) -> T:
        return factory(self._channel)

    def call(self, method: Callable[..., T], request: Any, *, timeout: float | None = None) -> T:
        import grpc

        try:
            return method(
                request, metadata=self._metadata, timeout=timeout or self.connection.timeout
            )
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.connection.dashboard, self.connection.source) from None

    def stream(
        self, method: Callable[..., Any], request: Any, *, timeout: float | None = None
    ) -> Iterator[Any]:
        import grpc

        call = method(request, metadata=self._metadata, timeout=timeout)
        try:
            yield from call
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            if timeout is not None and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return  # the caller's own time limit ended the stream
            raise rpc_error(exc, self.connection.dashboard, self.connection.source) from None
        finally:
            call.cancel()


def connect(args: argparse.Namespace) -> Client:
    return Client(resolve_connection(args))
