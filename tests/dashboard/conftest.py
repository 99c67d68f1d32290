"""Dashboard core tests: a real core Dashboard on 127.0.0.1 driven by simulated agents
(ikasched_dashboard/testing.py). Each test runs its own event loop with asyncio.run."""

from __future__ import annotations

import os

import pytest

LONG = os.environ.get("IKASCHED_LONG_TESTS") == "1"


@pytest.fixture
def long_tests() -> bool:
    return LONG
