"""Security fixtures: a migrated SQLite store per test (copied from one migrated template),
tokens of every kind, a certificate set, and a real grpc.aio server with every service of
protos/ registered behind the auth interceptor."""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer as AioHealthServicer
from grpc_reflection.v1alpha import reflection
from sqlalchemy import Engine

from ikasched.v1 import (
    admin_service_pb2_grpc,
    agent_pb2_grpc,
    instance_service_pb2_grpc,
    job_service_pb2_grpc,
    plan_service_pb2_grpc,
)
from ikasched_common.auth import Role
from ikasched_common.tls import Pki, generate_pki
from ikasched_dashboard.interceptor import AuthInterceptor
from ikasched_dashboard.security import SERVICE_FILES, Authenticator
from ikasched_dashboard.services.tokens import TokenServicer, TokenSpec, create_token
from ikasched_dashboard.store import db
from ikasched_dashboard.store import tokens as token_store

_GRPC_MODULES = {
    "admin_service_pb2": admin_service_pb2_grpc,
    "agent_pb2": agent_pb2_grpc,
    "instance_service_pb2": instance_service_pb2_grpc,
    "job_service_pb2": job_service_pb2_grpc,
    "plan_service_pb2": plan_service_pb2_grpc,
}


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ikasched.db"
    db.upgrade(db.default_url(path.parent))
    return path


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ikasched.db"
    shutil.copyfile(template_db, target)
    return target


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    engine = db.create_engine_for(db.default_url(db_path.parent))
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return generate_pki(tmp_path_factory.mktemp("pki"))


@dataclass(frozen=True, slots=True)
class Tokens:
    """Secrets of one token per kind, all in the test's store."""

    viewer: str
    operator: str
    admin: str
    agent_a1: str
    plan_a_admin: str
    plan_a_operator: str
    expired: str
    revoked: str
    wrong: str


def make_token(engine: Engine, role: Role, subject: str = "", **kwargs: Any) -> str:
    _record, secret = create_token(engine, TokenSpec(subject or role.value.lower(), role, **kwargs))
    return secret


@pytest.fixture
def tokens(engine: Engine) -> Tokens:
    now = int(time.time() * 1000)
    _rec, expired = create_token(
        engine, TokenSpec("old", Role.ADMIN, ttl_seconds=1), now_ms=now - 60_000
    )
    revoked_rec, revoked = create_token(engine, TokenSpec("gone", Role.ADMIN))
    with db.write_transaction(engine) as conn:
        token_store.revoke_token(conn, revoked_rec.id, now)
    admin = make_token(engine, Role.ADMIN, "alice")
    # Right id, wrong secret: the hash comparison must refuse it.
    wrong = admin[: admin.rindex("_") + 1] + "x" * 43
    return Tokens(
        viewer=make_token(engine, Role.VIEWER, "vera"),
        operator=make_token(engine, Role.OPERATOR, "otto"),
        admin=admin,
        agent_a1=make_token(engine, Role.AGENT, "agent a1", agent_name="a1"),
        plan_a_admin=make_token(engine, Role.ADMIN, "pat", plan_names=("A",)),
        plan_a_operator=make_token(engine, Role.OPERATOR, "olga", plan_names=("A",)),
        expired=expired,
        revoked=revoked,
        wrong=wrong,
    )


@dataclass
class Served:
    server: grpc.aio.Server
    port: int
    authenticator: Authenticator
    target: str = field(init=False)

    def __post_init__(self) -> None:
        self.target = f"127.0.0.1:{self.port}"


@asynccontextmanager
async def serve(
    engine: Engine,
    *,
    reflection_open: bool = False,
    overrides: Mapping[str, object] | None = None,
    credentials: grpc.ServerCredentials | None = None,
    authenticator: Authenticator | None = None,
) -> AsyncIterator[Served]:
    """Every ikasched service (the generated base servicers, which answer UNIMPLEMENTED,
    unless `overrides` names a servicer for it), the real TokenService, health and reflection,
    on 127.0.0.1:0 behind AuthInterceptor."""
    auth = authenticator or Authenticator(engine)
    server = grpc.aio.server(interceptors=[AuthInterceptor(auth, reflection_open=reflection_open)])
    chosen: dict[str, object] = {"TokenService": TokenServicer(engine, auth)}
    chosen.update(overrides or {})
    names = []
    for module in SERVICE_FILES:
        # every service file's *_grpc module, also those added after this table was written
        grpc_module = _GRPC_MODULES.get(module.__name__.rsplit(".", 1)[-1]) or (
            importlib.import_module(f"{module.__name__}_grpc")
        )
        for service in module.DESCRIPTOR.services_by_name.values():
            servicer = chosen.get(service.name) or getattr(grpc_module, f"{service.name}Servicer")()
            add: Callable[[object, grpc.aio.Server], None] = getattr(
                grpc_module, f"add_{service.name}Servicer_to_server"
            )
            add(servicer, server)
            names.append(service.full_name)
    health_servicer = AioHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    names += [health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield Served(server, port, auth)
    finally:
        await server.stop(None)


def stub(factory: Any, channel: grpc.aio.Channel) -> Any:
    """A generated stub (their constructors are untyped)."""
    return factory(channel)
