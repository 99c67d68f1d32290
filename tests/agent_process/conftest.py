"""Fixtures of the agent process tests: a fake dashboard on the real link over gRPC
(127.0.0.1), agents in-process or as `python -m ikasched_agent` subprocesses."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

#: Upper bound of any one async test (a hang guard: tests wait on events, not on durations).
ASYNC_TEST_LIMIT_SECONDS = 90


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no plugin needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {n: pyfuncitem.funcargs[n] for n in names}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_LIMIT_SECONDS))
    return True


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Agent subprocesses started by a test; any still alive at the end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
