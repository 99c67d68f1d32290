"""A start's recovery: every live instance's machine state and the coordinator, rebuilt from
their stored snapshots (with the pending retries stored beside each instance's state).

A snapshot this version cannot load quarantines its instance (docs/architecture.md §4.10): it
is logged, kept in the returned map (instance id -> why) that ListInstances and GetInstance
show as `load_error`, and noted in the audit trail once per start (`note_quarantined`)."""

from __future__ import annotations

import json
import logging

from sqlalchemy import Engine

from ikasched_common import clock
from ikasched_dashboard.engine.snapshot import coordinator_from_snapshot, from_snapshot
from ikasched_dashboard.orchestrator.plans import PlanCache
from ikasched_dashboard.orchestrator.steps import Layers, Live, Retry
from ikasched_dashboard.store import instances, locks
from ikasched_dashboard.store.changes import AuditEntry, append_audit
from ikasched_dashboard.store.db import read_transaction, write_transaction

log = logging.getLogger(__name__)


def recover(engine: Engine, plans: PlanCache, layers: Layers) -> dict[str, str]:
    """Fill the committed layer (DB thread, before the consumer starts); returns the
    quarantined instances (id -> why their snapshot cannot be loaded)."""
    quarantined: dict[str, str] = {}
    plans_of: dict[str, str] = {}
    with read_transaction(engine) as conn:
        saved = locks.load_lock_state(conn)
        if saved is not None:
            layers.coord = coordinator_from_snapshot(json.loads(saved.snapshot))
        rows = {
            r.id: r
            for r in instances.list_instances(conn, excluding_statuses=("ENDED",), limit=10**9)
        }
        for snap in instances.load_snapshots(conn):
            row = rows.get(snap.id)
            if row is None:
                continue
            try:
                data = json.loads(snap.snapshot)
                compiled = plans.compile(conn, row.plan_name, int(data["state"]["plan_version"]))
                state = from_snapshot(compiled.plan, data["state"])
                retries = {(j, c): Retry(int(a), int(d)) for j, c, a, d in data.get("retries", [])}
            except Exception as exc:  # a snapshot this version cannot load: start without it
                log.error(
                    "recovery: instance %s of plan %s quarantined: its snapshot cannot be "
                    "loaded (%s: %s); it takes no events until ended",
                    snap.id,
                    row.plan_name,
                    type(exc).__name__,
                    exc,
                )
                quarantined[snap.id] = f"{type(exc).__name__}: {exc}"
                plans_of[snap.id] = row.plan_name
                continue
            if state.ended:
                continue
            layers.committed[snap.id] = Live(state, compiled, row, retries)
    log.info(
        "orchestrator recovered %d instances (%d quarantined)",
        len(layers.committed),
        len(quarantined),
    )
    if quarantined:
        note_quarantined(engine, quarantined, plans_of)
    return quarantined


def note_quarantined(engine: Engine, why: dict[str, str], plans_of: dict[str, str]) -> None:
    """One audit note per quarantined instance, so an admin finds it in the trail too."""
    now = clock.now_ms()
    entries = [
        AuditEntry(
            time=now,
            instance_id=iid,
            plan_name=plans_of[iid],
            from_status="",
            to_status="",
            cause="recovery",
            actor="dashboard",
            detail=f"quarantined: its snapshot cannot be loaded ({reason}); it takes no events"
            " until ended",
        )
        for iid, reason in why.items()
    ]
    with write_transaction(engine) as conn:
        append_audit(conn, entries)
