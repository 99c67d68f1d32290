"""A plan's version history, and a diff between two of its versions (each version's export
as text, compared line by line)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ikasched.v1 import plan_service_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_web.api import ApiError
from ikasched_web.sessions import Session

if TYPE_CHECKING:
    from ikasched_web.app import Console

# The most versions the history lists (newest first).
HISTORY = 50


class PlanPages:
    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        """Before the console's `/plans/{name:path}` (which would take these paths)."""
        page = self.console.page
        return [
            Route("/plans/{name:path}/versions", page(self.versions)),
            Route("/plans/{name:path}/diff", page(self.diff)),
        ]

    async def _get(self, session: Session, name: str, version: int = 0) -> Any:
        api = self.console.api
        request = plan_service_pb2.GetPlanRequest(name=name, version=version)
        return await api.call(api.plans.GetPlan, request, session.token)

    async def versions(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        current = (await self._get(session, name)).summary
        rows = [current]
        for version in range(current.version - 1, max(0, current.version - HISTORY), -1):
            try:
                rows.append((await self._get(session, name, version)).summary)
            except ApiError as exc:
                if exc.status != grpc.StatusCode.NOT_FOUND:
                    raise
        return self.console.render(session, "plan_versions.html", plan=name, versions=rows)

    async def _text(self, session: Session, name: str, version: int) -> str:
        api = self.console.api
        request = plan_service_pb2.ExportPlanRequest(
            name=name, version=version, format=plan_service_pb2.YAML
        )
        answer = await api.call(api.plans.ExportPlan, request, session.token)
        return str(answer.text)

    async def diff(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        versions = []
        for field in ("a", "b"):
            text = request.query_params.get(field, "")
            if not text.isdigit() or int(text) < 1:
                raise ApiError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    str(InvalidArgument(f"expected a version number, got {text!r}", field=field)),
                )
            versions.append(int(text))
        old, new = versions
        lines = list(
            difflib.unified_diff(
                (await self._text(session, name, old)).splitlines(),
                (await self._text(session, name, new)).splitlines(),
                f"version {old}",
                f"version {new}",
                lineterm="",
            )
        )
        marked = [(_kind(line), line) for line in lines]
        return self.console.render(
            session, "plan_diff.html", plan=name, old=old, new=new, lines=marked
        )


def _kind(line: str) -> str:
    if line.startswith(("+++", "---", "@@")):
        return "head"
    return {"+": "add", "-": "del"}.get(line[:1], "same")
