"""Waiting for an event with a time limit, without losing a cancellation.

Python 3.11's `asyncio.wait_for` drops a cancel that arrives in the same loop turn as the
event it waits for (the inner wait finished, so it returns normally): a stream whose guard
cancelled it then loops on, open, after its token was revoked. `asyncio.timeout` keeps the
cancel, so every timed wait for an event goes through here.
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_event"]


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """True once `event` is set, False after `timeout` seconds; a cancel always propagates."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
