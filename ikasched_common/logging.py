"""Structured logs for the dashboard and the agent.

`configure_logging(level, fmt)` installs one handler on the root logger (replacing the one a
previous call installed, leaving handlers of others alone):

- fmt "json": one JSON object per line: time (UTC, ISO 8601 with milliseconds), level,
  logger, message, then every extra field given through `logging`'s `extra=` (values JSON
  cannot encode are written as their repr), and "exception" with the traceback if any.
- fmt "text": `2026-01-02T03:04:05.678Z INFO  ikasched.x: message key=value ...`, extras
  appended as key=value so the same facts stay greppable.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import sys
from typing import IO, Any, Literal

Format = Literal["json", "text"]

# attributes every LogRecord has: anything else on a record came from `extra=`
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
_MARK = "_ikasched_handler"


def _time(record: logging.LogRecord) -> str:
    moment = _dt.datetime.fromtimestamp(record.created, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call added with `extra=`, in the order given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            data.setdefault(key, _plain(value))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """A readable line: time, level, logger, message, then key=value extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = extra_fields(record)
        if extras:
            line += " " + " ".join(f"{k}={_text_value(v)}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_plain(value))
    return json.dumps(text) if (not text or any(c in text for c in ' "=\n')) else text


def configure_logging(
    level: str | int = "info", fmt: Format | str = "text", *, stream: IO[str] | None = None
) -> logging.Handler:
    """Set the root level and install our handler writing `fmt` to `stream` (stderr)."""
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', not {fmt!r}")
    numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler
