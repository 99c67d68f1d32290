"""What the lifecycle reads and writes in the store, off the event loop: plans, instances,
missed runs, and decisions without a status change kept in the audit trail."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine

from ikasched_common.blackout import epoch_ms, from_epoch_ms
from ikasched_common.calendars import CalendarBook
from ikasched_common.clock import Clock
from ikasched_dashboard.store import calendars as calendar_store
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import missed_runs as missed_store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import read_transaction, write_transaction

log = logging.getLogger("ikasched_dashboard.lifecycle")

SCHEDULE_ACTOR = "schedule"
_ALL = 1_000_000

T = TypeVar("T")


class LifecycleRecords:
    """The lifecycle's store access; times come from the lifecycle's clock."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    async def read(self, work: Callable[[Connection], T]) -> T:
        """A read transaction off the event loop (the store may wait on a writer)."""

        def run() -> T:
            with read_transaction(self._engine) as conn:
                return work(conn)

        return await asyncio.to_thread(run)

    async def write(self, work: Callable[[Connection], object]) -> None:
        def run() -> None:
            with write_transaction(self._engine) as conn:
                work(conn)

        await asyncio.to_thread(run)

    async def plan(self, plan_name: str) -> plan_store.PlanRecord | None:
        return await self.read(lambda c: plan_store.get_plan(c, plan_name))

    async def calendars(self) -> CalendarBook:
        """Every stored calendar (docs/semantics.md §13)."""
        return await self.read(calendar_store.calendar_book)

    async def plans(self) -> list[plan_store.PlanRecord]:
        return await self.read(lambda c: plan_store.list_plans(c, limit=_ALL))

    async def instances(
        self, plan_name: str, statuses: Iterable[str] = (), excluding: Iterable[str] = ()
    ) -> list[instance_store.InstanceRow]:
        return await self.read(
            lambda c: instance_store.list_instances(
                c,
                plan_name=plan_name,
                statuses=tuple(statuses),
                excluding_statuses=tuple(excluding),
                limit=_ALL,
            )
        )

    async def last_ended(self, plan_name: str) -> list[instance_store.InstanceRow]:
        """The plan's latest ENDED instance (none or one)."""
        return await self.read(
            lambda c: instance_store.list_instances(
                c, plan_name=plan_name, statuses=("ENDED",), limit=1
            )
        )

    async def instance(self, instance_id: str) -> instance_store.InstanceRow | None:
        return await self.read(lambda c: instance_store.get_instance(c, instance_id))

    async def missed_runs(self, plan_name: str) -> list[missed_store.MissedRunRecord]:
        return await self.read(
            lambda c: missed_store.list_missed_runs(c, plan_name=plan_name, limit=_ALL)
        )

    async def note(self, plan_name: str, detail: str, *, cause: str, actor: str) -> None:
        """A decision without a status change: logged and kept in the audit trail."""
        log.info("plan %s: %s", plan_name, detail)
        entry = change_store.AuditEntry(
            time=epoch_ms(self._clock.now()),
            instance_id="",
            plan_name=plan_name,
            from_status="",
            to_status="",
            cause=cause,
            actor=actor,
            detail=detail,
        )
        await self.write(lambda c: change_store.append_audit(c, [entry]))

    async def record_missed(
        self, plan_name: str, fires: Iterable[datetime], now: datetime, reason: str
    ) -> list[missed_store.MissedRunRecord]:
        """Missed window starts, each with an audit note (once, however often noticed)."""
        records = [
            missed_store.MissedRunRecord(plan_name, epoch_ms(f), epoch_ms(now), reason)
            for f in fires
        ]
        if not records:
            return records
        notes = [
            change_store.AuditEntry(
                time=epoch_ms(now),
                instance_id="",
                plan_name=plan_name,
                from_status="",
                to_status="",
                cause="missed-run",
                actor=SCHEDULE_ACTOR,
                detail=f"missed window start at {from_epoch_ms(r.scheduled_time).isoformat()}: "
                f"{reason}",
            )
            for r in records
        ]

        def record(c: Connection) -> None:
            # a restart that notices the same gap again adds neither a row nor a note
            if missed_store.record_missed_runs(c, records):
                change_store.append_audit(c, notes)

        await self.write(record)
        for r in records:
            log.warning(
                "plan %s: missed window start at %s: %s",
                plan_name,
                from_epoch_ms(r.scheduled_time).isoformat(),
                reason,
            )
        return records
