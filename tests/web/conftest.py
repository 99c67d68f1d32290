"""The web console against the real e2e stack (dashboard and two agents as subprocesses), and
Debian's Chromium driven by Playwright (installed with apt-get when missing and run as root, as
scripts/start-postgres installs PostgreSQL; never `playwright install`)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2EStack, StackFactory, clean_env, cli_command

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "web-screenshots"


def ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    import os

    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("Chromium missing: run as root (apt-get install -y chromium chromium-driver)")
    subprocess.run(
        ["apt-get", "install", "-y", "chromium", "chromium-driver"],
        check=True,
        capture_output=True,
        timeout=600,
    )


@dataclass
class Console:
    stack: E2EStack
    url: str  # base, "http://127.0.0.1:PORT"
    admin_link: str  # the sign-in link printed at start
    proc: subprocess.Popen[bytes]


def start_console(stack: E2EStack) -> Console:
    log = open(stack.base / "web.log", "wb")  # noqa: SIM115 - the stack's close() does not see it
    proc = subprocess.Popen(
        cli_command(
            "web",
            "--dashboard",
            stack.dashboard,
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            str(stack.data_dir / "admin.token"),
        ),
        stdout=subprocess.PIPE,
        stderr=log,
        env=clean_env(),
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("ikasched web: console at http://127.0.0.1:"), line
    link = line.split(" at ", 1)[1].strip()
    base = link.split("/login/", 1)[0]
    with urllib.request.urlopen(base + "/login", timeout=10) as answer:
        assert answer.status == 200
    return Console(stack, base, link, proc)


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    factory = StackFactory(tmp_path_factory)
    made: Console | None = None
    try:
        made = start_console(factory("web"))
        yield made
    finally:
        if made is not None:
            made.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                made.proc.wait(10)
            if made.proc.poll() is None:
                made.proc.kill()
        factory.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def wait(what: str, check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
