"""Start-up recovery of the lifecycle.

After a (re)start every live instance is resumed (its end timer re-armed; an instance without
a projected end, TTL 0, has none and is resumed as it is) or ENDED (past its projected end,
outside its window; a blackout ends nothing); window starts that fell while the
dashboard was down are caught up: of several late ones only the newest is created, the others
and those beyond the misfire grace are recorded as missed; stale PREPARED instances are dropped,
start triggers armed and the next PREPARED instance made.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from ikasched_common.blackout import epoch_ms, from_epoch_ms
from ikasched_common.dispatch import catch_up
from ikasched_dashboard.interfaces import Orchestration
from ikasched_dashboard.lifecycle_records import LifecycleRecords
from ikasched_dashboard.lifecycle_windows import (
    PlanWindow,
    RecoveryReport,
    RecoveryTally,
    seconds_text,
    start_job_id,
)
from ikasched_dashboard.store import instances as instance_store

if TYPE_CHECKING:
    from ikasched_dashboard.lifecycle import Lifecycle

log = logging.getLogger("ikasched_dashboard.lifecycle")

RECOVERY_ACTOR = "recovery"
# Live statuses of an instance that restart recovery considers (docs/semantics.md §9.6).
RECOVERABLE = ("WAITING", "RUNNING", "ERROR", "COMPLETE")
_NOT_LIVE = ("ENDED", "PREPARED")


class StartupRecovery:
    """One run of start-up recovery over the lifecycle's plans and instances."""

    def __init__(
        self, lifecycle: Lifecycle, records: LifecycleRecords, orchestration: Orchestration
    ) -> None:
        self._lifecycle = lifecycle
        self._records = records
        self._orch = orchestration
        self._tally = RecoveryTally()

    async def run(self) -> RecoveryReport:
        life = self._lifecycle
        known = set()
        calendars = await self._records.calendars()
        for record in await self._records.plans():
            known.add(record.name)
            try:
                window = PlanWindow.of_record(record, calendars)
                if window.enabled:
                    window.next_start(life.clock.now())  # every time in it representable
            except Exception as exc:  # a row this version cannot load must not stop start-up
                log.error(
                    "recovery: plan %s version %d quarantined: it cannot be loaded (%s: %s); "
                    "no timers and no new instances until a corrected version is provisioned",
                    record.name,
                    record.version,
                    type(exc).__name__,
                    exc,
                )
                self._tally.quarantined.append(record.name)
                continue
            life.remember_window(window)
            async with life.lock(record.name):
                try:
                    await self._recover_plan(window)
                except Exception as exc:
                    log.error(
                        "recovery: plan %s quarantined: its recovery failed (%s: %s)",
                        record.name,
                        type(exc).__name__,
                        exc,
                    )
                    life.remove_timer(start_job_id(record.name))
                    self._tally.quarantined.append(record.name)
        # instances of deleted plans: keep their end timers
        for row in await self._records.instances("", excluding=_NOT_LIVE):
            if row.plan_name not in known:
                await self._recover_live(row, None)
        return self._tally.report()

    async def _recover_plan(self, window: PlanWindow) -> None:
        life, acc = self._lifecycle, self._tally
        now = life.clock.now()
        now_ms = epoch_ms(now)
        rows = await self._records.instances(window.name, excluding=("ENDED",))
        for row in rows:
            if row.status in RECOVERABLE:
                await self._recover_live(row, window)
        if window.enabled and window.trigger is not None:
            # a late window start activates its PREPARED instance, so catch up first
            await self._catch_up(window, rows, now)
        # PREPARED: dropped when disabled or past; kept when future
        for row in await self._records.instances(window.name, statuses=("PREPARED",)):
            if not window.enabled or row.start_time <= now_ms:
                await self._orch.drop_prepared(row.id)
                acc.dropped.append(row.id)
        if not window.enabled or window.trigger is None:
            life.remove_timer(start_job_id(window.name))
            return
        life.arm_start(window)
        prepared = await life.prepare_next(window, now)
        if prepared:
            acc.prepared.append(prepared)

    async def _recover_live(
        self, row: instance_store.InstanceRow, window: PlanWindow | None
    ) -> None:
        verdict = self._recover_instance(row, window)
        if verdict:
            await self._lifecycle.end_as(row.id, RECOVERY_ACTOR, kill_running_jobs=True)
            self._tally.ended.append(row.id)
            log.info("recovery: instance %s of %s ENDED (%s)", row.id, row.plan_name, verdict)

    def _recover_instance(self, row: instance_store.InstanceRow, window: PlanWindow | None) -> str:
        """Resume (re-arm the end timer) or say why the instance must end."""
        now = self._lifecycle.clock.now()
        now_ms = epoch_ms(now)
        rum = row.run_until_manually_ended
        end = row.projected_end_time
        # TTL 0 (projected end 0) means no end, at runtime and here alike (semantics §9.6):
        # such an instance lives until an operator ends it, like "run until manually ended".
        endless = rum or end == 0
        if not endless and end <= now_ms:
            return "past its projected end"
        if endless or row.start_time <= now_ms < end:
            # a blackout stops creation, not live instances: the running dashboard ends none
            # when one begins, so recovery does not either (Ikasan ends them; see §9.5)
            if not endless:
                self._lifecycle.arm_end(row.id, end)
            self._tally.resumed.append(row.id)
            return ""
        return "outside its operating window"

    async def _catch_up(
        self, window: PlanWindow, rows: list[instance_store.InstanceRow], now: datetime
    ) -> None:
        assert window.trigger is not None
        acc = self._tally
        missed = await self._records.missed_runs(window.name)
        marks = [window.created_time_ms]
        marks += [r.start_time for r in rows if r.status != "PREPARED"]
        marks += [m.scheduled_time for m in missed]
        ended = await self._records.last_ended(window.name)
        marks += [r.start_time for r in ended]
        last = from_epoch_ms(max(marks))
        if last >= now:
            return
        due = catch_up(window.trigger, last, now, window.grace)
        late = [f for f in due.late if not window.blackout.contains(f)]
        gone = [f for f in due.missed if not window.blackout.contains(f)]
        if gone:
            acc.missed.extend(
                await self._records.record_missed(
                    window.name,
                    gone,
                    now,
                    "dashboard was down; more than the misfire grace of"
                    f" {seconds_text(window.grace)} late",
                )
            )
        if late:
            acc.missed.extend(
                await self._records.record_missed(
                    window.name,
                    late[:-1],
                    now,
                    "dashboard was down; superseded by a later window start that was created late",
                )
            )
            outcome = await self._lifecycle.window_start_unlocked(
                window.name, late[-1], RECOVERY_ACTOR
            )
            acc.late.append(outcome)
