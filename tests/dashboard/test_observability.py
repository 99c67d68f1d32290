"""Observability: Prometheus text scraped over HTTP from a running dashboard, the registry's
exposition format, and structured logs (JSON and text)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from pathlib import Path

import pytest

from ikasched_common.logging import configure_logging
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.metrics import Registry
from ikasched_dashboard.testing import (
    SimAgent,
    chain_plan,
    provision,
    running_dashboard,
    wait_until,
)
from tests.dashboard.support import orchestrator_idle

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(
    text: str,
) -> tuple[dict[str, str], dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """(type by family, value by (sample name, labels)); fails on a malformed line."""
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = _SAMPLE.match(line)
        assert match, f"malformed sample line: {line!r}"
        labels = frozenset(_LABEL.findall(match.group(3) or ""))
        samples[(match.group(1), labels)] = float(match.group(4))
    return types, samples


async def http_get(port: int, path: str) -> tuple[int, dict[str, str], str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert int(headers["Content-Length"]) == len(body)
    return int(lines[0].split()[1]), headers, body.decode()


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_metrics_are_scraped_over_http_after_a_run(tmp_path: Path) -> None:
    length = 3

    async def scenario() -> None:
        async with running_dashboard(tmp_path, metrics_listen="127.0.0.1:0") as proc:
            assert proc.metrics_port > 0
            a1 = SimAgent("a1", f"127.0.0.1:{proc.port}", triggers=["a1-start"])
            await a1.start()
            try:
                await provision(proc, chain_plan("m", ["a1"], length))
                iid = await proc.orchestrator.create_instance(NewInstance("m", 1))
                await wait_until(
                    lambda: (
                        (s := proc.orchestrator.instance_state(iid)) is None
                        or s.status.value == "COMPLETE"
                    )
                )
                await orchestrator_idle(proc.orchestrator)
                status, headers, body = await http_get(proc.metrics_port, "/metrics")
                assert status == 200
                assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
                types, samples = parse_exposition(body)
                # the trigger's fire event, then starting + completion of each job
                events = 1 + 2 * length
                assert _value(samples, "ikasched_process_events_total") == events
                assert types["ikasched_process_events_total"] == "counter"
                assert _value(samples, "ikasched_instances", status="COMPLETE") == 1
                assert _value(samples, "ikasched_agents_connected") == 1
                assert _value(samples, "ikasched_journal_depth", journal="inbox") == 0
                assert _value(samples, "ikasched_journal_depth", journal="dead_letters") == 0
                assert ("ikasched_outbox_depth", frozenset({("agent", "a1")})) in samples
                assert _value(samples, "ikasched_link_frames_total", direction="received") > 0
                assert _value(samples, "ikasched_link_frames_total", direction="sent") > 0
                # the batch histogram counts every committed batch, buckets cumulative
                assert types["ikasched_orchestration_batch_seconds"] == "histogram"
                batches = _value(samples, "ikasched_orchestrator_batches_total")
                count = _value(samples, "ikasched_orchestration_batch_seconds_count")
                inf = _value(samples, "ikasched_orchestration_batch_seconds_bucket", le="+Inf")
                assert batches == count == inf >= 1
                buckets = sorted(
                    (float(dict(labels)["le"]), v)
                    for (name, labels), v in samples.items()
                    if name == "ikasched_orchestration_batch_seconds_bucket"
                )
                assert [v for _, v in buckets] == sorted(v for _, v in buckets)
                status, _, _ = await http_get(proc.metrics_port, "/other")
                assert status == 404
            finally:
                await a1.stop()

    asyncio.run(scenario())


def test_metrics_off_by_default(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_dashboard(tmp_path) as proc:
            assert proc.metrics_port == 0
            assert proc.metrics is not None  # counted, not served

    asyncio.run(scenario())


def test_registry_exposition_format() -> None:
    registry = Registry()
    counter = registry.counter("x_total", "Things.", ("kind",))
    gauge = registry.gauge("y", "Level.")
    hist = registry.histogram("z_seconds", "Durations.", (0.1, 1.0))
    counter.inc(2, {"kind": 'a"b\\c'})
    counter.set_total(1, {"kind": 'a"b\\c'})  # a counter never moves back
    gauge.set(-1.5)
    for value in (0.05, 0.1, 0.5, 3.0):
        hist.observe(value)
    with pytest.raises(ValueError):
        counter.inc(-1, {"kind": "a"})
    with pytest.raises(ValueError):
        counter.inc(1)  # missing label
    types, samples = parse_exposition(asyncio.run(registry.render()))
    assert types == {"x_total": "counter", "y": "gauge", "z_seconds": "histogram"}
    assert samples[("x_total", frozenset({("kind", 'a\\"b\\\\c')}))] == 2
    assert samples[("y", frozenset())] == -1.5
    assert [
        samples[("z_seconds_bucket", frozenset({("le", le)}))] for le in ("0.1", "1", "+Inf")
    ] == [2, 3, 4]
    assert samples[("z_seconds_count", frozenset())] == 4
    assert samples[("z_seconds_sum", frozenset())] == pytest.approx(3.65)


def test_json_logs_one_object_per_line_with_extras_and_exception() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging("debug", "json", stream=out)
        configure_logging("info", "json", stream=out)  # replaces, does not add
        ours = [h for h in root.handlers if h not in saved[1]]
        assert len(ours) == 1
        log = logging.getLogger("ikasched.test")
        log.debug("hidden at info")
        log.info("batch %d committed", 7, extra={"events": 12, "agent": "a1", "obj": object()})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("failed")
        lines = out.getvalue().splitlines()
        assert len(lines) == 2
        first, second = (json.loads(line) for line in lines)
        assert first["message"] == "batch 7 committed"
        assert (first["level"], first["logger"]) == ("INFO", "ikasched.test")
        assert (first["events"], first["agent"]) == (12, "a1")
        assert first["obj"].startswith("<object object")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
        assert second["level"] == "ERROR" and "RuntimeError: boom" in second["exception"]
    finally:
        for handler in [h for h in root.handlers if h not in saved[1]]:
            root.removeHandler(handler)
        root.setLevel(saved[0])


def test_text_logs_are_readable_lines_with_key_values() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging(logging.WARNING, "text", stream=out)
        log = logging.getLogger("ikasched.text")
        log.info("not shown")
        log.warning("agent %s slow", "a2", extra={"lag_ms": 250, "note": "two words"})
        (line,) = out.getvalue().splitlines()
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING ikasched\.text: agent a2 slow"
            r' lag_ms=250 note="two words"',
            line,
        ), line
        with pytest.raises(ValueError):
            configure_logging("info", "xml", stream=out)
        with pytest.raises(ValueError):
            configure_logging("loud", "text", stream=out)
    finally:
        for handler in [h for h in root.handlers if h not in saved[1]]:
            root.removeHandler(handler)
        root.setLevel(saved[0])
