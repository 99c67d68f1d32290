"""What every operator servicer shares: the store, the orchestrator, the lifecycle, the clock,
the actor of the running call, and small request helpers (paging, required fields)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from ikasched.v1 import agent_pb2, common_pb2, plan_pb2
from ikasched_common.blackout import epoch_ms
from ikasched_common.clock import Clock, SystemClock
from ikasched_common.config import DEFAULT_MAX_MESSAGE_BYTES
from ikasched_common.errors import InvalidArgument, NotFound, ResourceExhausted
from ikasched_common.journal import DeadLetterJournal, Journal
from ikasched_common.link.session import LinkSettings
from ikasched_common.secrets import SecretBox
from ikasched_common.suggest import did_you_mean
from ikasched_common.waits import wait_event
from ikasched_dashboard.interfaces import Orchestration
from ikasched_dashboard.lifecycle import Lifecycle
from ikasched_dashboard.plans.limits import (
    MAX_PARAMETER_BYTES,
    MAX_PARAMETER_VALUE_BYTES,
    MAX_PARAMETERS,
)
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import read_transaction, write_transaction

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
ANONYMOUS = "anonymous"

T = TypeVar("T")


def default_actor() -> str:
    """The authenticated principal's subject (security interceptor), else "anonymous"."""
    from ikasched_dashboard.security import current_actor

    return current_actor(ANONYMOUS)


def default_plan_access(plan_name: str) -> None:
    """PermissionDenied unless the caller's token may touch the plan (plan-limited tokens)."""
    from ikasched_dashboard.security import current_principal, require_plan_access

    require_plan_access(current_principal(), plan_name)


def default_visible_plans() -> frozenset[str] | None:
    """The plans the caller may see; None = every plan."""
    from ikasched_dashboard.security import current_principal, visible_plans

    return visible_plans(current_principal())


def json_snapshot(data: bytes) -> Mapping[str, Any]:
    """Instance snapshots as the orchestrator stores them: JSON of engine.snapshot data, bare
    or under "state" (with the orchestrator's own bookkeeping beside it)."""
    loaded = json.loads(data)
    if not isinstance(loaded, dict):
        return {}
    state = loaded.get("state")
    return state if isinstance(state, dict) else loaded


@dataclass(frozen=True, slots=True)
class LogRequest:
    """One log read for GetJobLogs, resolved to an agent and an execution."""

    agent_name: str
    initiation_id: str
    stream: int  # agent_pb2.LogStream value
    offset: int
    follow: bool
    max_bytes: int


class LogFetcher(Protocol):
    """Streams a job execution's log from its agent (the gateway provides the real one)."""

    def fetch(self, request: LogRequest) -> AsyncIterator[agent_pb2.LogChunk]: ...


class AgentLoadView(Protocol):
    """What AgentService shows of an agent's reported load (logstream.AgentLoad)."""

    @property
    def running_jobs(self) -> int: ...

    @property
    def queued_jobs(self) -> int: ...


class CommitSignal:
    """Wakes watch streams when the orchestrator commits a batch, so a change reaches a watcher
    at once instead of on its next poll (the poll stays as a fallback)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Called on the event loop after a commit."""
        self._event.set()
        self._event = asyncio.Event()

    def mark(self) -> asyncio.Event:
        """Take before reading the change log; `wait(mark)` then returns at once if a commit
        came in between (no wake-up is lost to the read)."""
        return self._event

    @staticmethod
    async def wait(mark: asyncio.Event, timeout: float) -> None:
        """Return once a commit happened after `mark` was taken, or after `timeout` seconds."""
        await wait_event(mark, timeout)


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Everything the operator services need; built once by the dashboard process."""

    engine: Engine
    orchestration: Orchestration
    lifecycle: Lifecycle
    clock: Clock = field(default_factory=SystemClock)
    # Who is calling: the security interceptor's principal, "anonymous" without one.
    actor: Callable[[], str] = default_actor
    # Plan-limited tokens: refuse a plan the caller may not touch; the plans it may see.
    plan_access: Callable[[str], None] = default_plan_access
    visible_plans: Callable[[], frozenset[str] | None] = default_visible_plans
    # The dashboard's inbound journal and its dead letters (QueueService); None = not served.
    inbox: Journal | None = None
    inbox_type: str = "ikasched.v1.AgentMessage"
    dead_letters: DeadLetterJournal | None = None
    log_fetcher: LogFetcher | None = None
    # Seals values of secret parameters before they reach the orchestrator (None: stored as given).
    secret_box: SecretBox | None = None
    # An agent's load as it last reported it on the lane (None: not reported / not connected).
    agent_load: Callable[[str], AgentLoadView | None] = lambda _name: None
    snapshot_decoder: Callable[[bytes], Mapping[str, Any]] = json_snapshot
    # How often a watch polls the change log for new commits (without a commit signal, or as
    # the fallback when one is set).
    watch_poll_seconds: float = 0.05
    commit_signal: CommitSignal | None = None
    # Tells the agents' links that rows were added to their outboxes (outside a commit).
    notify_agents: Callable[[Sequence[str]], None] = lambda _names: None
    # What the dashboard can send: --max-message-bytes (operator RPCs) and the link's frame
    # limit (a provisioned plan must fit both: services.plan_size).
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_frame_bytes: int = LinkSettings().max_frame_bytes
    # Instances quarantined at start (id -> why their snapshot cannot be loaded).
    quarantined_instances: Mapping[str, str] = field(default_factory=dict)
    # Ends an agent's current link (it reconnects and is synced afresh); False: not connected.
    disconnect_agent: Callable[[str], bool] = lambda _name: False

    def now_ms(self) -> int:
        return epoch_ms(self.clock.now())

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a read transaction off the event loop."""

        def run() -> T:
            with read_transaction(self.engine) as conn:
                return work(conn)

        return await asyncio.to_thread(run)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a write transaction off the event loop."""

        def run() -> T:
            with write_transaction(self.engine) as conn:
                return work(conn)

        return await asyncio.to_thread(run)

    async def plan_record(
        self, name: str, version: int = 0, *, field_name: str = "name"
    ) -> plan_store.PlanRecord:
        require(name, field_name)
        self.plan_access(name)
        record = await self.read(lambda c: plan_store.get_plan(c, name, version))
        if record is None:
            what = f"plan {name!r}" + (f" version {version}" if version else "")
            hint = ""
            if not version:
                names = await self.read(plan_store.plan_names)
                hint = did_you_mean(name, (n for n in names if self.may_see(n)))
            raise NotFound(f"{what} not found{hint}")
        return record

    async def plan_proto(self, name: str, version: int = 0) -> plan_pb2.Context:
        record = await self.plan_record(name, version)
        return plan_pb2.Context.FromString(record.plan)

    async def instance_row(
        self, instance_id: str, *, field_name: str = "context_instance_id"
    ) -> instance_store.InstanceRow:
        require(instance_id, field_name)
        row = await self.read(lambda c: instance_store.get_instance(c, instance_id))
        if row is None:
            raise NotFound(f"instance {instance_id!r} not found")
        self.plan_access(row.plan_name)
        return row

    def may_see(self, plan_name: str) -> bool:
        visible = self.visible_plans()
        return visible is None or plan_name in visible


def require(value: str, field_name: str) -> str:
    if not value:
        raise InvalidArgument("required", field=field_name)
    return value


def not_negative(**values: int) -> None:
    """Refuse the first negative value, naming its field (the keyword)."""
    for name, value in values.items():
        if value < 0:
            raise InvalidArgument("must not be negative", field=name)


def page_size(page: common_pb2.PageRequest, field_name: str = "page.page_size") -> int:
    if page.page_size < 0:
        raise InvalidArgument("must not be negative", field=field_name)
    if page.page_size > MAX_PAGE_SIZE:
        raise ResourceExhausted(f"{field_name}: at most {MAX_PAGE_SIZE}, got {page.page_size}")
    return page.page_size or DEFAULT_PAGE_SIZE


def encode_token(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def decode_token(token: str, field_name: str = "page.page_token") -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("not a token this server gave out", field=field_name) from exc


def parameter_pairs(
    params: Any, field_name: str = "context_parameters"
) -> tuple[tuple[str, str], ...]:
    """(name, value) pairs of ContextParameterInstance messages; names required and unique,
    values within the sizes every link message to an agent must respect (limits.py)."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    total = 0
    for n, p in enumerate(params):
        if n >= MAX_PARAMETERS:
            raise InvalidArgument(
                f"at most {MAX_PARAMETERS} parameters (limit MAX_PARAMETERS)", field=field_name
            )
        size = len(p.value.encode("utf-8"))
        if size > MAX_PARAMETER_VALUE_BYTES:
            raise InvalidArgument(
                f"value is {size} bytes; at most {MAX_PARAMETER_VALUE_BYTES}"
                " (limit MAX_PARAMETER_VALUE_BYTES)",
                field=f"{field_name}[{n}].value",
            )
        total += size
        if total > MAX_PARAMETER_BYTES:
            raise InvalidArgument(
                f"values come to more than {MAX_PARAMETER_BYTES} bytes together"
                " (limit MAX_PARAMETER_BYTES)",
                field=field_name,
            )
        if not p.name:
            raise InvalidArgument("required", field=f"{field_name}[{n}].name")
        if p.name in seen:
            raise InvalidArgument(
                f"parameter {p.name!r} given twice", field=f"{field_name}[{n}].name"
            )
        seen.add(p.name)
        out.append((p.name, p.value))
    return tuple(out)
