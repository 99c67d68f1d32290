"""The stored instance snapshot, assembled as text from pieces cached per instance.

Every touched instance's snapshot is rewritten each batch, yet a batch usually changes one or
two of its jobs and a context status. So the text is spliced: each job's JSON is reused while
its JobState object is, an initiation's while its object is (a status change keeps it), the
contexts' while their statuses are, and the rarely changing rest (parameters, held and pending
initiations, flags) while its maps are the same objects (the machine copies them only on
write) and its flags are equal. The result parses to {"state": to_snapshot(state),
"retries": [[job, context, attempt, due], ...]}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol

from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.engine.snapshot import (
    FORMAT,
    Scope,
    compact_initiation,
    job_flags,
    settled_fields,
)
from ikasched_dashboard.engine.state import InstanceState, JobKey, JobState

_dumps = json.JSONEncoder(separators=(",", ":")).encode
_str: Callable[[str], str] = encode_basestring_ascii  # a JSON string literal, as _dumps writes it


class _Retry(Protocol):
    @property
    def attempt(self) -> int: ...
    @property
    def due_ms(self) -> int: ...


Retries = Mapping[JobKey, _Retry]  # job -> its pending retry


@dataclass(slots=True)
class _Pieces:
    head: str  # '{"state":{"format":..,"plan_version":..,"jobs":['
    scope: Scope
    jobs: dict[JobKey, tuple[JobState, str]] = field(default_factory=dict)
    inits: dict[JobKey, tuple[RaiseInitiation, str]] = field(default_factory=dict)
    contexts: tuple[tuple[Status, ...], str] | None = None
    settled: tuple[tuple[Any, ...], tuple[Any, ...], str] | None = None


class SnapshotWriter:
    """Per-instance caches; `text` is called by one thread at a time (the commit's)."""

    def __init__(self) -> None:
        self._pieces: dict[str, _Pieces] = {}

    def forget(self, instance_id: str) -> None:
        self._pieces.pop(instance_id, None)

    def cached(self, instance_id: str) -> int:
        """How many job texts are cached for an instance (tests)."""
        found = self._pieces.get(instance_id)
        return 0 if found is None else len(found.jobs)

    def text(self, state: InstanceState, retries: Retries) -> bytes:
        iid = state.instance_id
        p = self._pieces.get(iid)
        if p is None:
            top = {
                "format": FORMAT,
                "instance_id": iid,
                "plan_name": state.plan_name,
                "plan_version": state.plan_version,
            }
            head = '{"state":' + _dumps(top)[:-1] + ',"jobs":['
            p = self._pieces[iid] = _Pieces(head, Scope(iid, state.plan_name))
        jobs = p.jobs
        parts: list[str] = []
        for key, js in state.jobs.items():
            hit = jobs.get(key)
            if hit is None or hit[0] is not js:
                hit = jobs[key] = (js, self._job(p, key, js))
            parts.append(hit[1])
        statuses = tuple(state.contexts.values())
        ctx = p.contexts
        if ctx is None or ctx[0] != statuses:
            ctx = p.contexts = (
                statuses,
                _dumps({k: v.value for k, v in state.contexts.items()}),
            )
        values = (
            state.quartz_disabled,
            state.run_until_manually_ended,
            state.dry_run,
            state.dry_run_parameters,
            state.prepared,
            state.ended,
        )
        shared = (state.parameters, state.held_initiations, state.lock_pending, state.lock_holding)
        settled = p.settled
        if (
            settled is None
            or settled[0] != values
            or not all(a is b for a, b in zip(settled[1], shared, strict=True))
        ):
            settled = p.settled = (values, shared, _dumps(settled_fields(state))[1:-1])
        retry_text = (
            _dumps(
                [[j, c, retries[j, c].attempt, retries[j, c].due_ms] for j, c in sorted(retries)]
            )
            if retries
            else "[]"
        )
        return (
            f'{p.head}{",".join(parts)}],"contexts":{ctx[1]},{settled[2]},'
            f'"seq":{state.seq}}},"retries":{retry_text}}}'
        ).encode()

    @staticmethod
    def _job(p: _Pieces, key: JobKey, js: JobState) -> str:
        # snapshot.compact_job's list written directly (the encoder's setup costs more than
        # these six values), its initiation spliced in from the cache
        last = js.last_event_id
        prefix = p.scope.instance_id + ":"
        last_text = "[" + _str(last[len(prefix) :]) + "]" if last.startswith(prefix) else _str(last)
        base = (
            f"[{_str(key[0])},{_str(key[1])},{_str(js.status.value)},{job_flags(js)},"
            f"{int(js.pid)},{last_text}"
        )
        init = js.initiation
        if init is None:
            return base + "]"
        hit = p.inits.get(key)
        if hit is None or hit[0] is not init:
            hit = p.inits[key] = (init, _dumps(compact_initiation(p.scope, key, init)))
        return base + "," + hit[1] + "]"
