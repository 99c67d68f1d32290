"""What the trigger host keeps across agent restarts: per (instance, job) cursors and the
files already reported, one JSON file per instance under ``state_dir/triggers/``."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["JobRecord", "TriggerState"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class JobRecord:
    """What must survive an agent restart for one (instance, job)."""

    cursor_ms: int | None = None  # fires at or before this are handled
    sla_cursor_ms: int | None = None  # SLA fires at or before this are judged
    last_arrival_ms: int | None = None  # when files were last reported
    reported: set[str] = field(default_factory=set)  # file keys already reported

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor_ms": self.cursor_ms,
            "sla_cursor_ms": self.sla_cursor_ms,
            "last_arrival_ms": self.last_arrival_ms,
            "reported": sorted(self.reported),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRecord:
        def opt_int(name: str) -> int | None:
            value = data.get(name)
            return int(value) if isinstance(value, int) else None

        return cls(
            opt_int("cursor_ms"),
            opt_int("sla_cursor_ms"),
            opt_int("last_arrival_ms"),
            {str(k) for k in data.get("reported", [])},
        )


class TriggerState:
    """Per-instance JSON files of JobRecords under ``state_dir/triggers/``, replaced atomically.

    A rename survives the agent being killed; ``fsync=True`` (the agent's ``power`` durability)
    also flushes each file to the disk so it survives a power loss.
    """

    def __init__(self, state_dir: Path | str, *, fsync: bool = False) -> None:
        self.fsync = fsync
        self.directory = Path(state_dir) / "triggers"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._records: dict[str, dict[str, JobRecord]] = {}
        self._write_lock = asyncio.Lock()
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text("utf-8"))
                jobs = {j: JobRecord.from_json(r) for j, r in data["jobs"].items()}
                self._records[str(data["instance"])] = jobs
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("ignoring unreadable trigger state %s: %s", path, exc)

    def _path(self, instance_id: str) -> Path:
        digest = hashlib.sha256(instance_id.encode()).hexdigest()[:40]
        return self.directory / f"{digest}.json"

    def record(self, instance_id: str, job_id: str) -> JobRecord:
        """The (mutable) record, created empty when absent."""
        return self._records.setdefault(instance_id, {}).setdefault(job_id, JobRecord())

    def instances(self) -> list[str]:
        return sorted(self._records)

    async def save(self, instance_id: str) -> None:
        jobs = self._records.get(instance_id, {})
        text = json.dumps(
            {"instance": instance_id, "jobs": {j: r.to_json() for j, r in jobs.items()}},
            sort_keys=True,
        )
        async with self._write_lock:
            await asyncio.to_thread(self._write, self._path(instance_id), text, self.fsync)

    async def drop(self, instance_id: str) -> None:
        self._records.pop(instance_id, None)
        async with self._write_lock:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(os.unlink, self._path(instance_id))

    @staticmethod
    def _write(path: Path, text: str, fsync: bool) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:  # the rename itself must reach the disk too
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
