"""Runs the `async def` tests of the trigger and log tests in a fresh event loop."""

from __future__ import annotations
