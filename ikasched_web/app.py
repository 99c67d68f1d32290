"""The console's Starlette application: pages, server-sent events and actions
(docs/architecture.md §11). Every dashboard call carries the session's own token."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import grpc
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ikasched.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    agent_pb2,
    common_pb2,
    instance_service_pb2,
    job_service_pb2,
    plan_service_pb2,
)
from ikasched_common import clock as clocks
from ikasched_common.errors import IkaschedError, InvalidArgument
from ikasched_web import layout, records
from ikasched_web.api import Api, ApiError, stub
from ikasched_web.events import change_events, duration, status_name, when
from ikasched_web.overview import overview
from ikasched_web.plan_pages import PlanPages
from ikasched_web.record_routes import RecordPages
from ikasched_web.sessions import COOKIE, Session, Sessions
from ikasched_web.verbs import (
    CONTEXT_VERBS,
    INSTANCE_VERBS,
    JOB_VERBS,
    instance_request,
    job_request,
    job_verbs_for,
)

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The most of each log a job page shows (the CLI's `job logs` reads all of it).
LOG_BYTES = 256 * 1024
Handler = Callable[[Request], Awaitable[Response]]


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # "no-referrer" makes Origin "null"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


class Console:
    """The routes, over one `Api` (made when the app starts, in its event loop)."""

    def __init__(
        self,
        dashboard: str,
        *,
        local_code: str = "",
        local_token: str = "",
        secure_cookies: bool = True,
    ) -> None:
        self.dashboard = dashboard
        self.local_code = local_code
        self.local_token = local_token
        self.secure_cookies = secure_cookies
        self.clock: clocks.Clock = clocks.SystemClock()
        self.sessions = Sessions(self.clock)
        self._api: Api | None = None
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(("html",)),
        )
        self.templates.filters.update(
            when=when, duration=duration, status=status_name, queue_kind=records.queue_kind
        )

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self.dashboard)
        return self._api

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()

    # ---- plumbing -----------------------------------------------------------------------

    def _session(self, request: Request) -> tuple[Session, bool]:
        found = self.sessions.get(request.cookies.get(COOKIE, ""))
        return (found, False) if found is not None else (self.sessions.new(), True)

    def _with_cookie(self, response: Response, session: Session) -> Response:
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
            path="/",
        )
        return response

    def render(self, session: Session, name: str, status: int = 200, **values: Any) -> Response:
        page = self.templates.get_template(name).render(
            session=session, flashes=session.take_flashes(), **values
        )
        return HTMLResponse(page, status_code=status)

    def page(self, handler: Callable[[Request, Session], Awaitable[Response]]) -> Handler:
        """A page for signed-in sessions; an API error becomes the error page."""

        async def run(request: Request) -> Response:
            session, fresh = self._session(request)
            if not session.signed_in:
                target = "/login?next=" + quote(request.url.path)
                return self._with_cookie(RedirectResponse(target, 303), session)
            try:
                response = await handler(request, session)
            except ApiError as exc:
                response = self.render(session, "error.html", 502, message=str(exc))
            return self._with_cookie(response, session) if fresh else response

        return run

    def action(self, handler: Callable[[Request, Session, Any], Awaitable[str]]) -> Handler:
        """A POST: same-origin and CSRF checked, then the handler; its refusal (the dashboard's
        message) is flashed, and the browser goes back to the page the handler names."""

        async def run(request: Request) -> Response:
            session, _fresh = self._session(request)
            origin = request.headers.get("origin")
            if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
                return PlainTextResponse("cross-origin request refused", 403)
            form = await request.form()
            if not session.csrf_ok(str(form.get("csrf", ""))):
                return PlainTextResponse("CSRF token missing or wrong; reload the page", 403)
            if not session.signed_in:
                return RedirectResponse("/login", 303)
            try:
                back = await handler(request, session, form)
            except (ApiError, IkaschedError) as exc:
                session.flash("error", str(exc))
                back = str(form.get("back", "")) or "/"
                if not back.startswith("/") or back.startswith("//"):
                    back = "/"
            return RedirectResponse(back, 303)

        return run

    # ---- sign in ------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        session, _ = self._session(request)
        nxt = request.query_params.get("next", "/")
        return self._with_cookie(self.render(session, "login.html", next=nxt), session)

    async def login(self, request: Request) -> Response:
        session, _ = self._session(request)
        form = await request.form()
        if not session.csrf_ok(str(form.get("csrf", ""))):
            return PlainTextResponse("CSRF token missing or wrong; reload the page", 403)
        token = str(form.get("token", "")).strip()
        if not token:
            session.flash("error", "token: enter a token")
            return self._with_cookie(self.render(session, "login.html", 400, next="/"), session)
        return await self._sign_in(session, token, str(form.get("next", "/")))

    async def login_local(self, request: Request) -> Response:
        session, _ = self._session(request)
        code = request.query_params.get("code", "")
        if not self.local_code or not hmac.compare_digest(code, self.local_code):
            return PlainTextResponse("this sign-in link is not valid", 403)
        return await self._sign_in(session, self.local_token, "/")

    async def _sign_in(self, session: Session, token: str, nxt: str) -> Response:
        try:
            identity = await self.api.identify(token)
        except ApiError as exc:
            session.flash("error", str(exc))
            return self._with_cookie(self.render(session, "login.html", 401, next=nxt), session)
        made = self.sessions.sign_in(session, token, identity.can_act, identity.is_admin)
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        return self._with_cookie(RedirectResponse(nxt, 303), made)

    async def logout(self, request: Request, session: Session, form: Any) -> str:
        self.sessions.drop(session)
        return "/login"

    # ---- pages --------------------------------------------------------------------------

    async def home(self, request: Request, session: Session) -> Response:
        values = await overview(self.api, session.token, self.clock)
        return self.render(session, "overview.html", **values)

    async def plans(self, request: Request, session: Session) -> Response:
        search = request.query_params.get("q", "")
        answer = await self.api.call(
            self.api.plans.ListPlans,
            plan_service_pb2.ListPlansRequest(
                name_contains=search, page=common_pb2.PageRequest(page_size=1000)
            ),
            session.token,
        )
        return self.render(session, "plans.html", plans=answer.plans, search=search)

    async def plan(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        answer = await self.api.call(
            self.api.plans.GetPlan, plan_service_pb2.GetPlanRequest(name=name), session.token
        )
        svg = Markup(layout.to_svg(answer.plan, {}))  # to_svg escapes every name
        return self.render(session, "plan.html", summary=answer.summary, svg=svg)

    async def instances(self, request: Request, session: Session) -> Response:
        plan = request.query_params.get("plan", "")
        ended = request.query_params.get("ended", "") == "1"
        answer = await self.api.call(
            self.api.instances.ListInstances,
            instance_service_pb2.ListInstancesRequest(
                context_name=plan, include_ended=ended, page=common_pb2.PageRequest(page_size=200)
            ),
            session.token,
        )
        return self.render(
            session, "instances.html", instances=answer.instances, plan=plan, ended=ended
        )

    async def instance(self, request: Request, session: Session) -> Response:
        iid = request.path_params["iid"]
        token = session.token
        found = await self.api.call(
            self.api.instances.GetInstance,
            instance_service_pb2.GetInstanceRequest(context_instance_id=iid),
            token,
        )
        plan = await self.api.call(
            self.api.plans.GetPlan,
            plan_service_pb2.GetPlanRequest(name=found.context_name, version=found.plan_version),
            token,
        )
        audit = await self.api.call(
            self.api.instances.ListAudit,
            instance_service_pb2.ListAuditRequest(
                context_instance_id=iid, page=common_pb2.PageRequest(page_size=200)
            ),
            token,
        )
        statuses = {(j.child_context_name, j.identifier): status_name(j.status) for j in found.jobs}
        svg = Markup(layout.to_svg(plan.plan, statuses))  # to_svg escapes every name
        return self.render(
            session,
            "instance.html",
            instance=found,
            svg=svg,
            audit=audit.records,
            verbs_for=lambda j: job_verbs_for(status_name(j.status), j.held),
            all_job_verbs=list(JOB_VERBS.values()),
            instance_verbs=INSTANCE_VERBS,
            context_verbs=CONTEXT_VERBS,
            contexts=list(
                dict.fromkeys([found.context_name, *(j.child_context_name for j in found.jobs)])
            ),
        )

    async def job(self, request: Request, session: Session) -> Response:
        """One job occurrence: its facts, its audit rows, its last run's stdout and stderr."""
        iid = request.path_params["iid"]
        ident = request.query_params.get("job", "")
        child = request.query_params.get("child", "")
        found = await self.api.call(
            self.api.instances.GetInstance,
            instance_service_pb2.GetInstanceRequest(context_instance_id=iid),
            session.token,
        )
        jobs = [
            j
            for j in found.jobs
            if j.identifier == ident and (not child or j.child_context_name == child)
        ]
        if not jobs:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"job: no job {ident!r} in instance {iid}")
        job = jobs[0]
        audit = await self.api.call(
            self.api.instances.ListAudit,
            instance_service_pb2.ListAuditRequest(
                context_instance_id=iid,
                job_identifier=ident,
                page=common_pb2.PageRequest(page_size=500),
            ),
            session.token,
        )
        logs = {}
        if job.initiation_id:
            for name, stream in (("stdout", agent_pb2.STDOUT), ("stderr", agent_pb2.STDERR)):
                ref = common_pb2.JobRef(
                    context_instance_id=iid,
                    job_identifier=ident,
                    child_context_name=job.child_context_name,
                )
                logs[name] = await self.api.log_text(
                    session.token,
                    job_service_pb2.GetJobLogsRequest(job=ref, stream=stream, max_bytes=LOG_BYTES),
                )
        return self.render(
            session,
            "job.html",
            instance=found,
            job=job,
            audit=audit.records,
            logs=logs,
            log_bytes=LOG_BYTES,
            verbs=job_verbs_for(status_name(job.status), job.held),
            all_job_verbs=list(JOB_VERBS.values()),
        )

    async def events(self, request: Request) -> Response:
        """Server-sent events of one instance, from its watch stream: `job` and `context`
        changes with their change-log position as the event id (a reconnecting browser resumes
        after it), and a `snapshot` of every job's status first when starting afresh."""
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        if session is None or not session.signed_in:
            return PlainTextResponse("sign in first", 401)
        iid = request.path_params["iid"]
        try:
            after = int(request.headers.get("last-event-id", "0") or 0)
        except ValueError:
            after = 0
        return StreamingResponse(
            change_events(self.api, session.token, iid, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # ---- actions ------------------------------------------------------------------------

    async def job_action(self, request: Request, session: Session, form: Any) -> str:
        iid = request.path_params["iid"]
        back = f"/instances/{quote(iid)}"
        word = str(form.get("verb", ""))
        verb = JOB_VERBS.get(word)
        if verb is None:
            raise InvalidArgument(f"unknown job verb {word!r}", field="verb")
        request_message = job_request(verb, lambda k: str(form.get(k, "")), iid)
        await self.api.call(getattr(self.api.jobs, verb.method), request_message, session.token)
        given = ", ".join(p.name for p in getattr(request_message, "context_parameters", ()))
        with_params = f" with {given}" if given else ""  # names only: no value is echoed
        session.flash("ok", f"{verb.label}: {form.get('job')}{with_params} done")
        return back

    async def instance_action(self, request: Request, session: Session, form: Any) -> str:
        iid = request.path_params["iid"]
        word = str(form.get("verb", ""))
        known = {**INSTANCE_VERBS, **CONTEXT_VERBS}
        if word not in known:
            raise InvalidArgument(f"unknown instance verb {word!r}", field="verb")
        label, service, method, _destructive = known[word]
        message = instance_request(
            word, iid, str(form.get("plan", "")), str(form.get("comment", ""))
        )
        answer = await self.api.call(
            getattr(getattr(self.api, service), method), message, session.token
        )
        context = str(form.get("plan", "")) if word in CONTEXT_VERBS else ""
        session.flash("ok", f"{label}{' in ' + context if context else ''}: done")
        if word == "reset":
            return f"/instances/{quote(answer.id)}"
        return f"/instances/{quote(iid)}"

    async def plan_switch(self, request: Request, session: Session, form: Any) -> str:
        name = request.path_params["name"]
        enable = form.get("enabled") == "1"
        if enable:
            message: Any = plan_service_pb2.EnablePlanRequest(name=name)
            await self.api.call(self.api.plans.EnablePlan, message, session.token)
        else:
            message = plan_service_pb2.DisablePlanRequest(name=name)
            await self.api.call(self.api.plans.DisablePlan, message, session.token)
        session.flash("ok", f"plan {name} {'enabled' if enable else 'disabled'}")
        return f"/plans/{quote(name)}"

    async def create_instance(self, request: Request, session: Session, form: Any) -> str:
        name = request.path_params["name"]
        made = await self.api.call(
            self.api.instances.CreateInstance,
            instance_service_pb2.CreateInstanceRequest(
                context_name=name, hold_command_jobs=form.get("hold") == "1"
            ),
            session.token,
        )
        session.flash("ok", f"instance {made.id} of {name} created")
        return f"/instances/{quote(made.id)}"

    async def raise_global_event(self, request: Request, session: Session, form: Any) -> str:
        """GlobalEventService.RaiseGlobalEvent, as `ikasched event raise` calls it."""
        name = str(form.get("job_name", "")).strip()
        if not name:
            raise InvalidArgument("must name the global event", field="job_name")
        service = stub(admin_service_pb2_grpc.GlobalEventServiceStub, self.api.channel)
        answer = await self.api.call(
            service.RaiseGlobalEvent,
            admin_service_pb2.RaiseGlobalEventRequest(
                job_name=name,
                environment_group=str(form.get("environment_group", "")).strip(),
                ignore_environment_group=form.get("every_group") == "1",
            ),
            session.token,
        )
        reached = ", ".join(answer.context_instance_ids) or "no live instance"
        session.flash("ok", f"global event {name} raised: {reached}")
        return "/instances"

    def app(self) -> Starlette:
        routes = [
            Route("/", self.page(self.home)),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/login/local", self.login_local, methods=["GET"]),
            Route("/logout", self.action(self.logout), methods=["POST"]),
            Route("/plans", self.page(self.plans)),
            Route(
                "/plans/{name:path}/instances", self.action(self.create_instance), methods=["POST"]
            ),
            Route("/plans/{name:path}/enabled", self.action(self.plan_switch), methods=["POST"]),
            *PlanPages(self).routes(),
            Route("/plans/{name:path}", self.page(self.plan)),
            Route("/instances", self.page(self.instances)),
            Route("/events/global", self.action(self.raise_global_event), methods=["POST"]),
            Route("/instances/{iid}", self.page(self.instance)),
            Route("/instances/{iid}/events", self.events),
            Route("/instances/{iid}/job", self.page(self.job)),
            Route("/instances/{iid}/jobs", self.action(self.job_action), methods=["POST"]),
            Route("/instances/{iid}/verb", self.action(self.instance_action), methods=["POST"]),
            *RecordPages(self).routes(),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        return Starlette(
            routes=routes,
            middleware=[Middleware(SecurityHeaders)],
            lifespan=self._lifespan,
        )

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.close()
