"""A built batch's commit: its rows, built from the instances it touched, written in ONE
transaction (runs on the DB thread, one batch at a time).

Job rows are cached per instance so a batch reads none back: a changed job's new row is
built from its previous one. The cache may hold rows of a batch that rolled back, so a failed
commit drops it (`drop_cache`).
"""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import Connection, Engine

from ikasched_common.clock import Clock
from ikasched_dashboard.engine.model import Plan, Status
from ikasched_dashboard.engine.snapshot import coordinator_to_snapshot
from ikasched_dashboard.engine.state import JobState
from ikasched_dashboard.orchestrator import messages as out
from ikasched_dashboard.orchestrator.history_rows import ended_run, instance_event, job_events
from ikasched_dashboard.orchestrator.snapshots import SnapshotWriter
from ikasched_dashboard.orchestrator.steps import Batch, JobRef, Layers, Live
from ikasched_dashboard.store import batches, instances
from ikasched_dashboard.store import messages as message_store
from ikasched_dashboard.store.batches import BatchRows, PlanGiven
from ikasched_dashboard.store.db import write_transaction
from ikasched_dashboard.store.instances import JobInstanceRow

_INSTANCE_DONE = frozenset({Status.COMPLETE, Status.ENDED})

JobRows = dict[tuple[str, str], JobInstanceRow]  # (child context, job identifier) -> row
#: The words of a status reason the orchestrator sets while a job's agent is unreachable.
UNREACHABLE = " unreachable since "


def is_unreachable_reason(row: JobInstanceRow) -> bool:
    return row.status_reason.startswith("agent ") and UNREACHABLE in row.status_reason


class BatchCommitter:
    """Writes batches on top of the committed states in `layers` (read only here)."""

    def __init__(self, engine: Engine, layers: Layers, clock: Clock) -> None:
        self._engine = engine
        self._layers = layers
        self._clock = clock
        self._job_rows: dict[str, JobRows] = {}
        self._snapshots = SnapshotWriter()

    def forget(self, instance_id: str) -> None:
        """An instance ended or was dropped: nothing of it is written again."""
        self._job_rows.pop(instance_id, None)
        self._snapshots.forget(instance_id)

    def drop_cache(self) -> None:
        self._job_rows.clear()

    def commit(self, batch: Batch) -> None:
        """Write the batch; AlreadyProcessed if one of its message ids was processed before."""
        now = self._clock.now_ms()
        rows = BatchRows(audits=batch.audits, outbox=batch.outbox)
        with write_transaction(self._engine) as conn:
            batches.claim_processed(conn, batch.processed, now)
            for iid, live in batch.lives.items():
                if iid not in batch.forget:
                    self._instance_rows(conn, batch, iid, live, now, rows)
            rows.deleted = [i for i in batch.forget if i not in batch.new_ids]
            if batch.coord is not None and batch.coord is not self._layers.coord:
                rows.coordinator = json.dumps(
                    coordinator_to_snapshot(batch.coord), separators=(",", ":")
                ).encode()
            for agent in sorted(batch.supersede):  # before this batch's own sync rows go in
                message_store.supersede_syncs(conn, agent, out.superseded)
            batches.write_batch(conn, rows, now)

    def _instance_rows(
        self, conn: Connection, batch: Batch, iid: str, live: Live, now: int, rows: BatchRows
    ) -> None:
        state = live.state
        status = state.status
        before = live.row
        row = live.row = batches.instance_row(
            live.row,
            status=status.value,
            finished=status in _INSTANCE_DONE,
            now=now,
            run_until_manually_ended=state.run_until_manually_ended,
            dry_run=state.dry_run,
            quartz_disabled=state.quartz_disabled,
        )
        plan = live.compiled.plan
        snapshot = self._snapshots.text(state, live.retries)
        if iid in batch.new_ids:
            rows.new_instances.append(row)
            rows.new_snapshots.append((iid, snapshot))
            cache: JobRows = {}
            for (ident, ctx), js in state.jobs.items():
                jr = self._job_row(batch, plan, iid, ident, ctx, js, None)
                cache[(ctx, ident)] = jr
                rows.new_jobs.append(jr)
            self._job_rows[iid] = cache
            return
        rows.changed_instances.append((row, snapshot))
        ended = instance_event(before, row)
        if ended is not None:
            rows.events.append(ended)
        base = self._layers.committed[iid].state
        cache = self._job_rows.get(iid) or self._load_jobs(conn, iid)
        changed: dict[tuple[str, str], JobInstanceRow] = {}
        for key, js in state.jobs.items():
            if base.jobs.get(key) is js:
                continue
            ident, ctx = key
            old = cache.get((ctx, ident))
            jr = self._job_row(batch, plan, iid, ident, ctx, js, old)
            if old is not None and jr.status != old.status and is_unreachable_reason(jr):
                jr = replace(jr, status_reason="")  # the agent's word on the job came back
            changed[(ctx, ident)] = jr
        for ref, reason in batch.reasons.items():
            found = changed.get((ref.child_context, ref.job_identifier)) or cache.get(
                (ref.child_context, ref.job_identifier)
            )
            if ref.instance_id != iid or found is None or found.status_reason == reason:
                continue
            if reason or is_unreachable_reason(found):  # "": clear an unreachable reason only
                changed[(ref.child_context, ref.job_identifier)] = replace(
                    found, status_reason=reason
                )
        for key, jr in changed.items():
            old = cache.get(key)
            run = ended_run(row, old, jr, batch.facts.get(JobRef(iid, key[1], key[0])))
            if run is not None:
                rows.runs.append(run)
            rows.events.extend(job_events(row, old, jr, run))
            cache[key] = jr
            rows.changed_jobs.append(jr)

    def _load_jobs(self, conn: Connection, iid: str) -> JobRows:
        cache = {
            (r.child_context, r.job_identifier): r for r in instances.jobs_of_instance(conn, iid)
        }
        self._job_rows[iid] = cache
        return cache

    @staticmethod
    def _job_row(
        batch: Batch,
        plan: Plan,
        iid: str,
        ident: str,
        ctx: str,
        js: JobState,
        old: JobInstanceRow | None,
    ) -> JobInstanceRow:
        given = None
        if old is None:
            jdef = plan.jobs[ident]
            given = PlanGiven(jdef.kind.value, jdef.job_name, jdef.agent_name)
        ref = JobRef(iid, ident, ctx)
        return batches.job_row(
            iid,
            ident,
            ctx,
            js.status.value,
            js,
            old=old,
            plan_given=given,
            facts=batch.facts.get(ref),
            ack=batch.acks.get(ref),
        )
