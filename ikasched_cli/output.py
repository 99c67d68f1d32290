"""Rendering for people (aligned tables, status colours on a TTY) and scripts (json, yaml)."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

FORMATS = ("table", "json", "yaml")

_RESET = "\x1b[0m"
_COLOURS = {
    "COMPLETE": "\x1b[32m",
    "SKIPPED_COMPLETE": "\x1b[32m",
    "RUNNING": "\x1b[36m",
    "SKIPPED_RUNNING": "\x1b[36m",
    "ERROR": "\x1b[31m",
    "KILLED": "\x1b[31m",
    "ERROR_ACKNOWLEDGED": "\x1b[33m",
    "ON_HOLD": "\x1b[33m",
    "LOCK_QUEUED": "\x1b[33m",
    "WAITING": "\x1b[2m",
    "SKIPPED": "\x1b[2m",
    "DISABLED": "\x1b[2m",
    "ENDED": "\x1b[35m",
}


def use_colour(stream: TextIO) -> bool:
    """Colours only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ


def status_text(status: str, colour: bool) -> str:
    code = _COLOURS.get(status)
    return f"{code}{status}{_RESET}" if colour and code else status


def time_text(epoch_ms: int) -> str:
    """Local time of an epoch-millis value; "-" for 0 (unset)."""
    if not epoch_ms:
        return "-"
    return dt.datetime.fromtimestamp(epoch_ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    colour: bool = False,
    status_column: str | None = "STATUS",
) -> str:
    """Left-aligned columns; the status column is coloured after widths are taken."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    status_at = headers.index(status_column) if status_column in headers else -1
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            padded = cell.ljust(widths[i])
            if i == status_at:
                padded = status_text(cell, colour) + " " * (widths[i] - len(cell))
            cells.append(padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def message_dict(message: Any) -> dict[str, Any]:
    """A protobuf message as the dict its proto field names describe (enums by name)."""
    from google.protobuf import json_format

    return dict(json_format.MessageToDict(message, preserving_proto_field_name=True))


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False)
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True)).rstrip("\n")


def emit(fmt: str, data: Any, human: str | None = None, *, stream: TextIO | None = None) -> None:
    """Print `data` as json/yaml, or `human` (a table or text) for the table format."""
    out = stream or sys.stdout
    if fmt == "table":
        text = human if human is not None else dump(data, "yaml")
    else:
        text = dump(data, fmt)
    if text:
        print(text, file=out)


def kv_block(pairs: Mapping[str, str]) -> str:
    width = max((len(k) for k in pairs), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in pairs.items())
