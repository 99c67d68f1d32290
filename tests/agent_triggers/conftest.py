"""Runs the `async def` tests of the trigger and log tests in a fresh event loop."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

#: Upper bound of any one async test; tests wait on events, never on wall-clock figures.
ASYNC_TEST_LIMIT_SECONDS = 60


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no plugin needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {n: pyfuncitem.funcargs[n] for n in names}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_LIMIT_SECONDS))
    return True
