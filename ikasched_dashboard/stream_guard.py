"""Open streams end when their token stops being valid (docs/architecture.md §7.1).

A stream (an agent link, WatchInstances, a followed job log) is authenticated once, when it
opens. `StreamGuard` re-checks its token every `interval` seconds, and at once when the
token is invalidated in this process (TokenService's revoke): a revoked or expired token ends
the stream with UNAUTHENTICATED. `guarded_items` runs a response stream under a guard;
request-streaming handlers (the agent link) are cancelled by it instead (`on_end`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

from ikasched_common.auth import Principal
from ikasched_common.errors import Unauthenticated
from ikasched_common.waits import wait_event

log = logging.getLogger(__name__)

T = TypeVar("T")


class Revalidator(Protocol):
    """What a guard needs of security.Authenticator."""

    async def revalidate(self, principal: Principal) -> None: ...

    def watch(self, token_id: str, wake: Callable[[], None]) -> Callable[[], None]: ...


class StreamGuard:
    """Watches one open stream's token; see the module doc. Use as `async with`."""

    def __init__(
        self,
        auth: Revalidator,
        principal: Principal,
        interval: float,
        *,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._auth = auth
        self._principal = principal
        self._interval = interval
        self._on_end = on_end
        self._wake = asyncio.Event()
        self.ended = asyncio.Event()
        self.reason = ""
        self._task: asyncio.Task[None] | None = None
        self._undo: Callable[[], None] | None = None

    async def __aenter__(self) -> StreamGuard:
        loop = asyncio.get_running_loop()
        wake = self._wake

        def woken() -> None:
            loop.call_soon_threadsafe(wake.set)

        self._undo = self._auth.watch(self._principal.token_id, woken)
        self._task = loop.create_task(self._run(), name=f"stream-guard-{self._principal.token_id}")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._undo is not None:
            self._undo()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await wait_event(self._wake, self._interval)
            self._wake.clear()
            try:
                await self._auth.revalidate(self._principal)
            except Unauthenticated as exc:
                self.reason = f"{exc}: the stream is closed"
                log.info("closing a stream of token %s: %s", self._principal.token_id, exc)
                self.ended.set()
                if self._on_end is not None:
                    self._on_end()
                return
            except Exception:
                # the token table could not be read: keep the stream, try again later
                log.exception("re-checking token %s failed", self._principal.token_id)


async def guarded_call(
    behavior: Callable[..., Any], request: Any, context: Any, guard: GuardFactory
) -> Any:
    """A streaming coroutine handler (the agent link), cancelled when its token stops being
    valid; Unauthenticated then."""
    task = asyncio.current_task()
    assert task is not None

    def end() -> None:
        task.cancel()

    watch = guard(end)
    async with watch:
        try:
            result = await behavior(request, context)
        except asyncio.CancelledError:
            if not watch.ended.is_set():
                raise
            task.uncancel()
            raise Unauthenticated(watch.reason) from None
    if watch.ended.is_set():  # it ended the stream itself on the cancel
        raise Unauthenticated(watch.reason)
    return result


async def guarded_items(source: AsyncIterator[T], guard: StreamGuard) -> AsyncIterator[T]:
    """`source`'s items until it ends or `guard` ends the stream (then Unauthenticated)."""
    async with guard:
        ended = asyncio.ensure_future(guard.ended.wait())
        item: asyncio.Future[T] | None = None
        try:
            while True:
                item = asyncio.ensure_future(anext(source))
                await asyncio.wait({item, ended}, return_when=asyncio.FIRST_COMPLETED)
                if not item.done():
                    raise Unauthenticated(guard.reason)
                try:
                    value = item.result()
                except StopAsyncIteration:
                    return
                yield value
        finally:
            # the call may also end from outside (the client went away): stop the source
            ended.cancel()
            if item is not None and not item.done():
                item.cancel()
                with contextlib.suppress(BaseException):
                    await item
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(BaseException):
                    await aclose()


# Makes the guard of one open stream; its argument: what to call when the stream must end.
GuardFactory = Callable[[Callable[[], None] | None], StreamGuard]
