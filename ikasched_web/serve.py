"""`ikasched web`: the console's HTTP server (uvicorn) in this process."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from ikasched_common.errors import CliError, InvalidArgument
from ikasched_web.app import Console

USAGE = 2


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InvalidArgument(f"expected HOST:PORT, got {listen!r}", field="--listen")
    return host, int(port_text)


def read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(f"--token-file: cannot read {path}: {exc.strerror}", USAGE) from None
    if not token:
        raise CliError(f"--token-file: {path} is empty", USAGE)
    return token


async def serve(
    dashboard: str,
    listen: str,
    *,
    token: str = "",
    secure_cookies: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until cancelled; `on_ready` gets the console's base URL (a sign-in link with a
    one-time-per-process code when a token was given)."""
    import uvicorn

    host, port = split_listen(listen)
    if ":" not in dashboard:
        raise InvalidArgument(f"expected HOST:PORT, got {dashboard!r}", field="--dashboard")
    code = secrets.token_urlsafe(24) if token else ""
    console = Console(dashboard, local_code=code, local_token=token, secure_cookies=secure_cookies)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise CliError(f"--listen: cannot listen on {listen}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    config = uvicorn.Config(console.app(), log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    url = f"http://{host}:{bound}/"
    if code:
        url += f"login/local?code={code}"
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if on_ready is not None and server.started:
        on_ready(url)
    await task
