"""Watch streams wake on commits: a commit after the mark ends the wait at once (the timeout
here is an hour, so returning at all is the evidence), before the mark it does not count."""

from __future__ import annotations

import asyncio

from ikasched_dashboard.services.context import CommitSignal

HOUR = 3600.0


async def test_a_commit_after_the_mark_wakes_the_waiter() -> None:
    signal = CommitSignal()
    mark = signal.mark()
    waiter = asyncio.create_task(CommitSignal.wait(mark, HOUR))
    await asyncio.sleep(0)
    assert not waiter.done()
    signal.notify()
    await asyncio.wait_for(waiter, 30)


async def test_a_commit_between_mark_and_wait_is_not_lost() -> None:
    signal = CommitSignal()
    mark = signal.mark()
    signal.notify()  # e.g. while the watch was reading the change log
    await asyncio.wait_for(CommitSignal.wait(mark, HOUR), 30)


async def test_a_commit_before_the_mark_does_not_count() -> None:
    signal = CommitSignal()
    signal.notify()
    mark = signal.mark()
    waiter = asyncio.create_task(CommitSignal.wait(mark, HOUR))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    waiter.cancel()


async def test_without_a_commit_the_wait_ends_at_its_timeout() -> None:
    signal = CommitSignal()
    await asyncio.wait_for(CommitSignal.wait(signal.mark(), 0.01), 30)


async def test_a_cancel_in_the_same_turn_as_a_commit_ends_the_watch() -> None:
    """A watch's guard cancels it (token revoked) in the loop turn a commit wakes it: the
    cancel must win. Python 3.11's wait_for returned normally then and the watch looped on,
    open after its token was revoked."""
    signal = CommitSignal()
    went_on = asyncio.Event()

    async def watch() -> None:
        await CommitSignal.wait(signal.mark(), HOUR)
        went_on.set()
        await asyncio.sleep(HOUR)

    waiter = asyncio.create_task(watch())
    await asyncio.sleep(0.01)
    signal.notify()
    waiter.cancel()
    done, _ = await asyncio.wait({waiter}, timeout=30)
    assert done and waiter.cancelled()
    assert not went_on.is_set()
