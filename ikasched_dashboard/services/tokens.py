"""TokenService: create, list and revoke access tokens (admin only, per the method table),
and the local admin token `ikasched up` writes for later CLI commands."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import grpc
from sqlalchemy import Engine

from ikasched.v1 import admin_service_pb2, admin_service_pb2_grpc
from ikasched_common import clock as clocks
from ikasched_common.auth import (
    Role,
    generate_token,
    read_token_file,
    secret_matches,
    token_id_of,
    write_token_file,
)
from ikasched_common.errors import (
    FailedPrecondition,
    IkaschedError,
    InvalidArgument,
    TokenFormatError,
)
from ikasched_common.names import name_problem
from ikasched_dashboard.plans.limits import MAX_DURATION_SECONDS
from ikasched_dashboard.security import Authenticator, current_actor
from ikasched_dashboard.services.errors import status_of
from ikasched_dashboard.store import tokens as token_store
from ikasched_dashboard.store.db import read_transaction, write_transaction

log = logging.getLogger(__name__)

LOCAL_ADMIN_SUBJECT = "local-admin"
DEFAULT_PAGE = 100
MAX_PAGE = 1000
_NAME_MAX = 255


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """What CreateToken asks for, checked."""

    subject: str
    role: Role
    plan_names: tuple[str, ...] = ()
    agent_name: str = ""
    ttl_seconds: int = 0

    def __post_init__(self) -> None:
        if not self.subject.strip():
            raise InvalidArgument("a token needs a subject (who or what uses it)", field="subject")
        if len(self.subject) > _NAME_MAX:
            raise InvalidArgument(f"longer than {_NAME_MAX} characters", field="subject")
        if self.ttl_seconds < 0:
            raise InvalidArgument("must not be negative", field="ttl_seconds")
        if self.ttl_seconds > MAX_DURATION_SECONDS:
            raise InvalidArgument(
                f"at most {MAX_DURATION_SECONDS} (100 years), got {self.ttl_seconds}",
                field="ttl_seconds",
            )
        for what, value in (("subject", self.subject), ("agent_name", self.agent_name)):
            problem = name_problem(value)
            if problem:
                raise InvalidArgument(problem, field=what)
        for i, plan_name in enumerate(self.plan_names):
            problem = name_problem(plan_name)
            if problem:
                raise InvalidArgument(problem, field=f"plan_names[{i}]")
        if any(not p.strip() for p in self.plan_names):
            raise InvalidArgument("plan names must not be empty", field="plan_names")
        if self.role is Role.AGENT:
            if not self.agent_name.strip():
                raise InvalidArgument(
                    "an AGENT token is bound to one agent: name it", field="agent_name"
                )
            if self.plan_names:
                raise InvalidArgument("AGENT tokens are not limited by plan", field="plan_names")
        elif self.agent_name:
            raise InvalidArgument("only AGENT tokens are bound to an agent", field="agent_name")


def spec_from_request(request: admin_service_pb2.CreateTokenRequest) -> TokenSpec:
    if request.role == admin_service_pb2.ROLE_UNSPECIFIED:
        raise InvalidArgument("choose VIEWER, OPERATOR, ADMIN or AGENT", field="role")
    try:
        role = Role(admin_service_pb2.Role.Name(request.role))
    except ValueError as exc:
        raise InvalidArgument(f"unknown role {request.role}", field="role") from exc
    return TokenSpec(
        subject=request.subject,
        role=role,
        plan_names=tuple(dict.fromkeys(request.plan_names)),
        agent_name=request.agent_name,
        ttl_seconds=request.ttl_seconds,
    )


def create_token(
    engine: Engine, spec: TokenSpec, *, now_ms: int | None = None
) -> tuple[token_store.TokenRecord, str]:
    """Store a new token; returns its record and its secret (shown once, never stored)."""
    now = clocks.now_ms() if now_ms is None else now_ms
    new = generate_token()
    record = token_store.TokenRecord(
        id=new.token_id,
        subject=spec.subject,
        role=spec.role.value,
        secret_hash=new.secret_hash,
        plan_names=spec.plan_names,
        agent_name=spec.agent_name,
        created_time=now,
        expires_time=now + spec.ttl_seconds * 1000 if spec.ttl_seconds else 0,
    )
    with write_transaction(engine) as conn:
        token_store.create_token(conn, record)
    return record, new.secret


def token_info(record: token_store.TokenRecord) -> admin_service_pb2.TokenInfo:
    return admin_service_pb2.TokenInfo(
        token_id=record.id,
        subject=record.subject,
        role=record.role,
        plan_names=record.plan_names,
        agent_name=record.agent_name,
        created_time=record.created_time,
        expires_time=record.expires_time,
        revoked_time=record.revoked_time,
        last_used_time=record.last_used_time,
    )


class TokenServicer(admin_service_pb2_grpc.TokenServiceServicer):
    """The TokenService RPCs over the tokens table."""

    def __init__(
        self,
        engine: Engine,
        authenticator: Authenticator | None = None,
        *,
        now_ms: Callable[[], int] = clocks.now_ms,
    ) -> None:
        self._engine = engine
        self._auth = authenticator
        self._now_ms = now_ms

    async def CreateToken(
        self,
        request: admin_service_pb2.CreateTokenRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> admin_service_pb2.CreateTokenResponse:
        try:
            spec = spec_from_request(request)
            record, secret = await asyncio.to_thread(
                create_token, self._engine, spec, now_ms=self._now_ms()
            )
        except IkaschedError as exc:
            await _abort(context, exc)
        if self._auth is not None:
            # A bad guess at this id may sit in the cache as "unknown".
            self._auth.invalidate(record.id)
        log.info(
            "token %s (%s, %s) created by %s",
            record.id,
            record.subject,
            record.role,
            current_actor(),
        )
        return admin_service_pb2.CreateTokenResponse(token=token_info(record), secret=secret)

    async def ListTokens(
        self,
        request: admin_service_pb2.ListTokensRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> admin_service_pb2.ListTokensResponse:
        size = request.page.page_size
        if size < 0:
            await _abort(context, InvalidArgument("must not be negative", field="page.page_size"))
        limit = min(size or DEFAULT_PAGE, MAX_PAGE)
        records = await asyncio.to_thread(self._list, request.include_inactive)
        return admin_service_pb2.ListTokensResponse(tokens=[token_info(r) for r in records[:limit]])

    def _list(self, include_inactive: bool) -> Sequence[token_store.TokenRecord]:
        with read_transaction(self._engine) as conn:
            return token_store.list_tokens(
                conn, include_inactive=include_inactive, now=self._now_ms()
            )

    async def RevokeToken(
        self,
        request: admin_service_pb2.RevokeTokenRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> admin_service_pb2.TokenInfo:
        if not request.token_id:
            await _abort(context, InvalidArgument("name the token to revoke", field="token_id"))
        try:
            record = await asyncio.to_thread(self._revoke, request.token_id)
        except IkaschedError as exc:
            await _abort(context, exc)
        if self._auth is not None:
            self._auth.invalidate(record.id)
        log.info("token %s (%s) revoked by %s", record.id, record.subject, current_actor())
        return token_info(record)

    def _revoke(self, token_id: str) -> token_store.TokenRecord:
        with write_transaction(self._engine) as conn:
            return token_store.revoke_token(conn, token_id, self._now_ms())


async def _abort(context: grpc.aio.ServicerContext[Any, Any], exc: IkaschedError) -> NoReturn:
    await context.abort(status_of(exc), str(exc))
    raise AssertionError("abort returned")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class LocalAdminToken:
    """The token `ikasched up` keeps in its data dir."""

    path: Path
    token_id: str
    # False: the file's token was still valid and was kept.
    created: bool


def bootstrap_admin_token(engine: Engine, path: str | os.PathLike[str]) -> LocalAdminToken:
    """Make sure `path` holds a valid admin token: keep the one there if it still works,
    otherwise create one (subject "local-admin") and write it to `path` with 0600."""
    target = Path(path)
    if target.exists():
        try:
            secret = read_token_file(target)
            token_id = token_id_of(secret)
        except (OSError, TokenFormatError, UnicodeDecodeError):
            token_id, secret = "", ""
        if token_id:
            with read_transaction(engine) as conn:
                record = token_store.get_token(conn, token_id)
            if (
                record is not None
                and record.role == Role.ADMIN.value
                and not record.plan_names
                and record.active(clocks.now_ms())
                and secret_matches(secret, record.secret_hash)
            ):
                return LocalAdminToken(target, token_id, created=False)
    record, secret = create_token(engine, TokenSpec(LOCAL_ADMIN_SUBJECT, Role.ADMIN))
    write_token_file(target, secret)
    log.info("created local admin token %s in %s", record.id, target)
    return LocalAdminToken(target, record.id, created=True)


#: The bootstrap admin token's file in a data dir (the one `ikasched up` uses too).
BOOTSTRAP_TOKEN_FILE = "admin.token"


def token_count(engine: Engine) -> int:
    """How many tokens the store holds, revoked and expired ones included."""
    with read_transaction(engine) as conn:
        return len(token_store.list_tokens(conn, include_inactive=True))


def first_start_admin_token(engine: Engine, data_dir: str | os.PathLike[str]) -> Path | None:
    """On an empty token store, write an admin token to `data_dir`/admin.token (mode 0600)
    and return its path; None when the store already holds tokens (docs/architecture.md §7)."""
    if token_count(engine):
        return None
    target = Path(data_dir) / BOOTSTRAP_TOKEN_FILE
    _record, secret = create_token(engine, TokenSpec(LOCAL_ADMIN_SUBJECT, Role.ADMIN))
    write_token_file(target, secret)
    return target


def new_bootstrap_token(
    engine: Engine, path: str | os.PathLike[str], *, force: bool = False
) -> LocalAdminToken:
    """`ikasched token bootstrap`: a new admin token written to `path` (mode 0600). Refused
    (FailedPrecondition) when the store already holds tokens, unless `force`."""
    held = token_count(engine)
    if held and not force:
        raise FailedPrecondition(
            f"the token store already holds {held} token(s); use `ikasched token create`"
            " with an admin token, or --force to make another admin token anyway"
        )
    record, secret = create_token(engine, TokenSpec(LOCAL_ADMIN_SUBJECT, Role.ADMIN))
    write_token_file(path, secret)
    log.info("created bootstrap admin token %s in %s", record.id, path)
    return LocalAdminToken(Path(path), record.id, created=True)
