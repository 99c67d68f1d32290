"""Prometheus metrics of the dashboard, in the text exposition format (version 0.0.4).

No client library: the dashboard needs a few counters, gauges and one histogram, and the text
format is small. `Registry` holds families; a family is a Counter, a Gauge or a Histogram with
label names. Values that already live elsewhere (journal depths, outbox rows, instances by
status) are read at scrape time by collect hooks, off the event loop where they touch a store.
`MetricsServer` answers `GET /metrics` over plain HTTP/1.1 on an asyncio server, one request
per connection.

`DashboardMetrics` wires the families to the dashboard's gateway, journals and store:

  ikasched_process_events_total           counter   agent messages processed (committed)
  ikasched_orchestrator_batches_total     counter   orchestration batches committed
  ikasched_orchestration_batch_seconds    histogram batch processed + committed, seconds
  ikasched_journal_depth{journal}         gauge     items in the inbox / dead-letter journal
  ikasched_outbox_depth{agent}            gauge     outbox rows waiting for an agent's ack
  ikasched_instances{status}              gauge     instances by status (stored rows)
  ikasched_agents_connected               gauge     agents with a live link
  ikasched_link_frames_total{direction}   counter   link frames sent / received, all agents
  ikasched_agent_events_refused_total{agent} counter process events an agent may not send
                                                    (another agent's job, instance, initiation)
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from sqlalchemy import Connection

from ikasched_common.journal import Journal
from ikasched_dashboard.gateway import Gateway
from ikasched_dashboard.store import figures, messages

log = logging.getLogger(__name__)

Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[str, ...]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
T = TypeVar("T")
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class DbRead(Protocol):
    """Runs `fn(conn)` in a read transaction on the dashboard's DB thread."""

    def __call__(self, fn: Callable[[Connection], T], /) -> Awaitable[T]: ...


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


@dataclass(slots=True)
class _Family:
    name: str
    help: str
    kind: Kind
    label_names: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)

    def _key(self, labels: Mapping[str, str] | None) -> Labels:
        given = labels or {}
        if set(given) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(given)}")
        return tuple(str(given[n]) for n in self.label_names)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Family):
    """A monotonic count; `set_total` for counts kept elsewhere (never moves back)."""

    def inc(self, amount: float = 1.0, labels: Mapping[str, str] | None = None) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def set_total(self, total: float, labels: Mapping[str, str] | None = None) -> None:
        key = self._key(labels)
        self.values[key] = max(self.values.get(key, 0.0), float(total))

    def lines(self) -> list[str]:
        return [
            f"{self.name}{_labels(self.label_names, k)} {_number(v)}"
            for k, v in sorted(self.values.items())
        ]


class Gauge(_Family):
    """A value that goes up and down; `replace` swaps every labelled value at once."""

    def set(self, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.values[self._key(labels)] = float(value)

    def replace(self, values: Iterable[tuple[Mapping[str, str], float]]) -> None:
        self.values = {self._key(labels): float(v) for labels, v in values}

    def lines(self) -> list[str]:
        return [
            f"{self.name}{_labels(self.label_names, k)} {_number(v)}"
            for k, v in sorted(self.values.items())
        ]


class Histogram(_Family):
    """Observations in cumulative buckets (upper bounds), with their sum and count."""

    def __init__(
        self, name: str, help: str, buckets: Sequence[float], label_names: Labels = ()
    ) -> None:
        super().__init__(name, help, "histogram", label_names)
        self.bounds = tuple(sorted(buckets))
        self._counts: dict[Labels, list[int]] = {}
        self._sums: dict[Labels, float] = {}

    def observe(self, value: float, labels: Mapping[str, str] | None = None) -> None:
        key = self._key(labels)
        counts = self._counts.setdefault(key, [0] * (len(self.bounds) + 1))
        counts[bisect.bisect_left(self.bounds, value)] += 1
        self._sums[key] = self._sums.get(key, 0.0) + value

    def lines(self) -> list[str]:
        out: list[str] = []
        for key, counts in sorted(self._counts.items()):
            running = 0
            for bound, n in zip((*self.bounds, math.inf), counts, strict=True):
                running += n
                le = f'le="{_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {running}")
            out.append(
                f"{self.name}_sum{_labels(self.label_names, key)} {_number(self._sums[key])}"
            )
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {running}")
        return out


Collect = Callable[[], Awaitable[None]]


class Registry:
    """Metric families plus hooks that refresh values right before each scrape."""

    def __init__(self) -> None:
        self._families: dict[str, Counter | Gauge | Histogram] = {}
        self._collectors: list[Collect] = []

    def _add(self, family: Counter | Gauge | Histogram) -> None:
        if family.name in self._families:
            raise ValueError(f"metric {family.name} registered twice")
        self._families[family.name] = family

    def counter(self, name: str, help: str, labels: Labels = ()) -> Counter:
        found = Counter(name, help, "counter", labels)
        self._add(found)
        return found

    def gauge(self, name: str, help: str, labels: Labels = ()) -> Gauge:
        found = Gauge(name, help, "gauge", labels)
        self._add(found)
        return found

    def histogram(
        self, name: str, help: str, buckets: Sequence[float], labels: Labels = ()
    ) -> Histogram:
        found = Histogram(name, help, buckets, labels)
        self._add(found)
        return found

    def on_collect(self, hook: Collect) -> None:
        self._collectors.append(hook)

    async def render(self) -> str:
        for hook in self._collectors:
            try:
                await hook()
            except Exception:  # a failing source must not hide every other metric
                log.exception("metrics collector failed")
        lines: list[str] = []
        for family in self._families.values():
            lines.extend(family.header())
            lines.extend(family.lines())
        return "\n".join(lines) + "\n"


def split_listen(listen: str) -> tuple[str, int]:
    """'host:port' (or '[v6]:port') -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"metrics listen address {listen!r} is not host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


class MetricsServer:
    """GET /metrics over HTTP/1.1 on asyncio; anything else is 404 (or 405)."""

    def __init__(self, registry: Registry, listen: str) -> None:
        self._registry = registry
        self._host, self._wanted_port = split_listen(listen)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._wanted_port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = (await reader.readline()).decode("latin-1").split()
                while (await reader.readline()).strip():
                    pass  # headers: nothing here needs them
            method, path = [*request, "", ""][:2]
            if method != "GET":
                status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
            elif path.split("?", 1)[0] != "/metrics":
                status, body, ctype = "404 Not Found", b"see /metrics\n", "text/plain"
            else:
                status, ctype = "200 OK", CONTENT_TYPE
                body = (await self._registry.render()).encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class DashboardMetrics:
    """The dashboard's families (see the module doc), read from the parts at scrape time."""

    def __init__(
        self,
        gateway: Gateway,
        inbox: Journal,
        dead_letters: Journal,
        db_read: DbRead,
        refused_events: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self._gateway = gateway
        self._refused_events = refused_events
        self._inbox = inbox
        self._dead_letters = dead_letters
        self._db_read = db_read
        r = self.registry = Registry()
        self.events = r.counter(
            "ikasched_process_events_total", "Agent messages processed and committed."
        )
        self.batches = r.counter(
            "ikasched_orchestrator_batches_total", "Orchestration batches committed."
        )
        self.batch_seconds = r.histogram(
            "ikasched_orchestration_batch_seconds",
            "Time to process and commit one orchestration batch.",
            BATCH_BUCKETS,
        )
        self.journal_depth = r.gauge(
            "ikasched_journal_depth", "Items in a dashboard journal.", ("journal",)
        )
        self.outbox_depth = r.gauge(
            "ikasched_outbox_depth", "Outbox rows waiting for the agent's ack.", ("agent",)
        )
        self.instances = r.gauge("ikasched_instances", "Plan instances by status.", ("status",))
        self.agents_connected = r.gauge(
            "ikasched_agents_connected", "Agents with a live link to this dashboard."
        )
        self.link_frames = r.counter(
            "ikasched_link_frames_total", "Link frames over every agent link.", ("direction",)
        )
        self.events_refused = r.counter(
            "ikasched_agent_events_refused_total",
            "Process events refused: they spoke for another agent's job, instance or initiation.",
            ("agent",),
        )
        # frames of sessions that have ended, so the counter never moves back
        self._retired = {"sent": 0, "received": 0}
        self._sessions: dict[str, object] = {}
        self._last: dict[str, tuple[int, int]] = {}
        r.on_collect(self._collect)

    def observe_batch(self, seconds: float, events: int) -> None:
        """Orchestrator batch hook: one committed batch."""
        self.batch_seconds.observe(seconds)
        self.batches.inc()
        self.events.inc(events)

    async def _collect(self) -> None:
        connected = self._gateway.connected_agents()
        self.agents_connected.set(len(connected))
        self._count_frames(connected)
        if self._refused_events is not None:
            for agent, total in sorted(self._refused_events().items()):
                self.events_refused.set_total(total, {"agent": agent})
        loop = asyncio.get_running_loop()
        inbox, dead = self._inbox, self._dead_letters
        inbox_n, dead_n = await loop.run_in_executor(None, lambda: (len(inbox), len(dead)))
        self.journal_depth.replace(
            [({"journal": "inbox"}, inbox_n), ({"journal": "dead_letters"}, dead_n)]
        )
        outbox, statuses = await self._db_read(_store_figures)
        known = set(outbox) | set(connected)
        self.outbox_depth.replace(({"agent": a}, outbox.get(a, 0)) for a in sorted(known))
        self.instances.replace(({"status": s}, n) for s, n in statuses.items())

    def _count_frames(self, connected: Sequence[str]) -> None:
        link = self._gateway.link
        for name in connected:
            session = link.session(name)
            if session is None:
                continue
            sent, received = int(session.frames_sent), int(session.frames_received)
            if self._sessions.get(name) is not session:
                old = self._last.get(name)
                if old is not None:
                    self._retired["sent"] += old[0]
                    self._retired["received"] += old[1]
                self._sessions[name] = session
            self._last[name] = (sent, received)
        for direction, index in (("sent", 0), ("received", 1)):
            total = self._retired[direction] + sum(v[index] for v in self._last.values())
            self.link_frames.set_total(total, {"direction": direction})


def _store_figures(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    outbox = {name: s.size for name, s in messages.outbox_stats(conn).items()}
    return outbox, figures.instance_counts_by_status(conn)
