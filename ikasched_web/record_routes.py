"""The console's record pages and live log routes (docs/architecture.md §11.2): history,
notifications, agents, queues and a queue's messages (with its admin actions), and a job's log
followed over server-sent events. The page and action plumbing is the `Console`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from ikasched_common.errors import InvalidArgument
from ikasched_web import logs, records
from ikasched_web.sessions import COOKIE, Session

if TYPE_CHECKING:
    from ikasched_web.app import Console


class RecordPages:
    """The routes; `console` renders, checks sessions and holds the API."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        page, action = self.console.page, self.console.action
        return [
            Route("/history", page(self.history)),
            Route("/notifications", page(self.notifications)),
            Route("/agents", page(self.agents)),
            Route("/queues", page(self.queues)),
            Route("/queues/{name:path}/messages", action(self.queue_action), methods=["POST"]),
            Route("/queues/{name:path}", page(self.queue)),
            Route("/instances/{iid}/log", self.log_events),
        ]

    async def history(self, request: Request, session: Session) -> Response:
        values = await records.history(self.console.api, session.token, request.query_params)
        status = 400 if values["problem"] else 200
        return self.console.render(
            session, "history.html", status, statuses=records.RUN_END_STATUSES, **values
        )

    async def notifications(self, request: Request, session: Session) -> Response:
        values = await records.notifications(self.console.api, session.token, request.query_params)
        status = 400 if values["problem"] else 200
        return self.console.render(
            session, "notifications.html", status, statuses=records.NOTIFICATION_STATUSES, **values
        )

    async def agents(self, request: Request, session: Session) -> Response:
        return self.console.render(
            session, "agents.html", **await records.agents(self.console.api, session.token)
        )

    async def queues(self, request: Request, session: Session) -> Response:
        return self.console.render(
            session, "queues.html", **await records.queues(self.console.api, session.token)
        )

    async def queue(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        values = await records.peek(self.console.api, session.token, name)
        return self.console.render(
            session,
            "queue.html",
            verbs=records.verbs_of_queue(name),
            labels=records.QUEUE_VERBS,
            **values,
        )

    async def queue_action(self, request: Request, session: Session, form: Any) -> str:
        name = request.path_params["name"]
        done = await records.queue_action(
            self.console.api,
            session.token,
            name,
            str(form.get("verb", "")),
            str(form.get("message_id", "")),
        )
        session.flash("ok", done)
        return f"/queues/{quote(name)}"

    async def log_events(self, request: Request) -> Response:
        """Server-sent events of one job's log, followed (`logs.py`); `Last-Event-ID` (the byte
        offset reached) wins over the page's `offset` when the browser reconnects."""
        session = self.console.sessions.get(request.cookies.get(COOKIE, ""))
        if session is None or not session.signed_in:
            return PlainTextResponse("sign in first", 401)
        q = request.query_params
        offset = request.headers.get("last-event-id", "") or q.get("offset", "")
        try:
            message = logs.follow_request(
                request.path_params["iid"],
                q.get("job", ""),
                q.get("child", ""),
                q.get("stream", ""),
                offset,
            )
        except InvalidArgument as exc:
            return PlainTextResponse(str(exc), 400)
        return StreamingResponse(
            logs.follow_events(self.console.api, session.token, message),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
