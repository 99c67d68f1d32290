"""Test doubles: an in-memory Orchestration over the real engine that writes the real store,
and a TimerHost whose timers fire when a test moves the ManualClock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from ikasched.v1 import plan_pb2
from ikasched_common.blackout import epoch_ms
from ikasched_common.clock import Clock, ManualClock
from ikasched_common.dispatch import Fire, FireCallback
from ikasched_common.errors import FailedPrecondition, NotFound
from ikasched_common.quartz import CronTrigger
from ikasched_dashboard.engine.effects import (
    ContextStatusChanged,
    Effect,
    InstanceComplete,
    JobStatusChanged,
    RaiseInitiation,
)
from ikasched_dashboard.engine.inputs import Activate, End, Hold, Input, ProcessEvent
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import JobKind, Plan
from ikasched_dashboard.engine.snapshot import from_snapshot, to_snapshot
from ikasched_dashboard.engine.state import InstanceState, JobKey
from ikasched_dashboard.interfaces import NewInstance, VerbResult
from ikasched_dashboard.plans.convert import plan_from_proto
from ikasched_dashboard.store import changes as change_store
from ikasched_dashboard.store import instances as instance_store
from ikasched_dashboard.store import plans as plan_store
from ikasched_dashboard.store.db import read_transaction, write_transaction


@dataclass(frozen=True, slots=True)
class EndCall:
    instance_id: str
    actor: str
    time_ms: int
    kill_running_jobs: bool


@dataclass
class _Live:
    machine: ContextMachine
    state: InstanceState
    row: instance_store.InstanceRow


class FakeOrchestration:
    """Orchestration over real ContextMachines; every change is written to the store (rows,
    snapshot as JSON, audit) in one transaction, as the real orchestrator does."""

    def __init__(
        self, engine: Engine, clock: Clock, on_complete: Callable[[str], object] | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.on_complete = on_complete
        self.live: dict[str, _Live] = {}
        self.plans: dict[tuple[str, int], Plan] = {}
        self.ended: list[EndCall] = []
        self.dropped: list[str] = []
        self.activated: list[str] = []
        self.killed: list[tuple[str, str, str, bool, str]] = []
        self.global_events: list[tuple[str, str, bool, str]] = []
        self.provisioned: list[str] = []
        self.removed: list[str] = []
        self.completions: list[str] = []

    # -- helpers ------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return epoch_ms(self.clock.now())

    def plan(self, name: str, version: int = 0) -> tuple[Plan, plan_store.PlanRecord]:
        with read_transaction(self.engine) as conn:
            record = plan_store.get_plan(conn, name, version)
        if record is None:
            raise NotFound(f"plan {name} not found")
        key = (name, record.version)
        if key not in self.plans:
            self.plans[key] = plan_from_proto(
                plan_pb2.Context.FromString(record.plan), version=str(record.version)
            )
        return self.plans[key], record

    def recover(self) -> None:
        """Rebuild machines from the store's snapshots (a dashboard restart)."""
        with read_transaction(self.engine) as conn:
            snaps = instance_store.load_snapshots(conn)
            rows = {s.id: instance_store.get_instance(conn, s.id) for s in snaps}
        for snap in snaps:
            row = rows[snap.id]
            assert row is not None
            plan, _ = self.plan(row.plan_name, row.plan_version)
            state = from_snapshot(plan, json.loads(snap.snapshot)["state"])
            self.live[snap.id] = _Live(ContextMachine(plan), state, row)

    def _job_rows(self, plan: Plan, state: InstanceState) -> list[instance_store.JobInstanceRow]:
        out = []
        for (ident, ctx), js in state.jobs.items():
            jdef = plan.jobs[ident]
            out.append(
                instance_store.JobInstanceRow(
                    instance_id=state.instance_id,
                    child_context=ctx,
                    job_identifier=ident,
                    job_type=jdef.kind.value,
                    status=js.status.value,
                    job_name=jdef.job_name,
                    agent_name=jdef.agent_name,
                    held=js.held,
                    skip=js.skip,
                    initiation_raised=js.raised,
                    killed=js.killed,
                    pid=js.pid,
                    error_acknowledged=js.error_acknowledged,
                    initiation_id=js.initiation.initiation_id if js.initiation else "",
                )
            )
        return out

    def _audit(
        self, live: _Live, effects: Sequence[Effect], actor: str
    ) -> list[change_store.AuditEntry]:
        out = []
        for e in effects:
            if isinstance(e, JobStatusChanged):
                out.append(
                    change_store.AuditEntry(
                        time=e.time_ms or self.now_ms(),
                        instance_id=live.row.id,
                        plan_name=live.row.plan_name,
                        from_status=e.previous.value,
                        to_status=e.status.value,
                        job_identifier=e.job_identifier,
                        child_context=e.child_context_name,
                        cause=e.cause,
                        actor=actor,
                    )
                )
            elif isinstance(e, ContextStatusChanged):
                out.append(
                    change_store.AuditEntry(
                        time=e.time_ms or self.now_ms(),
                        instance_id=live.row.id,
                        plan_name=live.row.plan_name,
                        from_status=e.previous.value,
                        to_status=e.status.value,
                        child_context=e.context_name,
                        cause=e.cause,
                        actor=actor,
                    )
                )
        return out

    def _commit(
        self,
        live: _Live,
        effects: Sequence[Effect],
        actor: str,
        *,
        new: bool = False,
        **row_changes: object,
    ) -> None:
        from dataclasses import replace

        state = live.state
        row = replace(
            live.row,
            status=state.status.value,
            updated_time=self.now_ms(),
            run_until_manually_ended=state.run_until_manually_ended,
            dry_run=state.dry_run,
            quartz_disabled=state.quartz_disabled,
            **row_changes,  # type: ignore[arg-type]
        )
        live.row = row
        snapshot = json.dumps({"state": to_snapshot(state)}).encode()
        entries = self._audit(live, effects, actor)
        with write_transaction(self.engine) as conn:
            if new:
                instance_store.insert_instances(conn, [row])
                instance_store.insert_job_instances(conn, self._job_rows(live.machine.plan, state))
                entries.insert(
                    0,
                    change_store.AuditEntry(
                        time=self.now_ms(),
                        instance_id=row.id,
                        plan_name=row.plan_name,
                        from_status="",
                        to_status=row.status,
                        child_context=row.plan_name,
                        cause="create",
                        actor=actor,
                    ),
                )
            else:
                instance_store.update_instances(conn, [row])
                instance_store.update_job_instances(conn, self._job_rows(live.machine.plan, state))
            instance_store.write_snapshots(conn, [(row.id, snapshot)])
            change_store.append_audit(conn, entries)

    def _get(self, instance_id: str) -> _Live:
        live = self.live.get(instance_id)
        if live is None:
            raise NotFound(f"instance {instance_id} not found")
        return live

    def step(self, instance_id: str, event: Input, actor: str) -> VerbResult:
        live = self._get(instance_id)
        if live.state.ended:
            raise FailedPrecondition(f"instance {instance_id} has ENDED")
        before = live.state
        state, effects = live.machine.apply(before, event)
        live.state = state
        self._commit(live, effects, actor)
        changed: list[JobKey] = [k for k, js in state.jobs.items() if before.jobs.get(k) != js]
        for e in effects:
            if isinstance(e, InstanceComplete):
                self.completions.append(instance_id)
                if self.on_complete is not None:
                    self.on_complete(instance_id)
        return VerbResult(instance_id, tuple(changed))

    def deliver(self, instance_id: str, event: ProcessEvent) -> VerbResult:
        """An agent's process event."""
        return self.step(instance_id, event, f"agent:{event.agent_name}")

    # -- Orchestration ------------------------------------------------------------------------

    async def create_instance(self, spec: NewInstance) -> str:
        plan, record = self.plan(spec.plan_name)
        machine = ContextMachine(plan)
        instance_id = str(uuid.uuid4())
        state = machine.new_instance(
            instance_id, parameters=spec.parameters, prepared=spec.prepared
        )
        effects: list[Effect] = []
        if spec.hold_command_jobs:
            for (ident, ctx), js in state.jobs.items():
                if plan.jobs[ident].kind is JobKind.COMMAND and not js.held:
                    try:
                        state, more = machine.apply(state, Hold(ident, ctx, spec.created_by))
                        effects.extend(more)
                    except FailedPrecondition:
                        pass
        proto = plan_pb2.Context.FromString(record.plan)
        now = self.now_ms()
        row = instance_store.InstanceRow(
            id=instance_id,
            plan_name=spec.plan_name,
            plan_version=record.version,
            status=state.status.value,
            created_time=now,
            updated_time=now,
            start_time=spec.start_time_ms,
            projected_end_time=spec.projected_end_time_ms,
            timezone=proto.timezone or "UTC",
            created_by=spec.created_by,
            reset_from=spec.reset_from_instance_id,
            environment_group=proto.environment_group,
        )
        live = _Live(machine, state, row)
        self.live[instance_id] = live
        self._commit(live, effects, spec.created_by, new=True)
        return instance_id

    async def activate_instance(
        self, instance_id: str, *, time_ms: int, projected_end_time_ms: int = 0
    ) -> None:
        live = self._get(instance_id)
        state, effects = live.machine.apply(live.state, Activate(time_ms))
        live.state = state
        self.activated.append(instance_id)
        self._commit(
            live, effects, "schedule", start_time=time_ms, projected_end_time=projected_end_time_ms
        )

    async def apply(self, instance_id: str, verb: Input) -> VerbResult:
        return self.step(instance_id, verb, getattr(verb, "actor", "") or "engine")

    async def end_instance(
        self, instance_id: str, *, actor: str, time_ms: int, kill_running_jobs: bool = True
    ) -> None:
        live = self._get(instance_id)
        self.ended.append(EndCall(instance_id, actor, time_ms, kill_running_jobs))
        if live.state.ended:
            return
        state, effects = live.machine.apply(live.state, End(time_ms, actor))
        live.state = state
        self._commit(live, effects, actor, end_time=time_ms)

    async def drop_prepared(self, instance_id: str) -> None:
        self.dropped.append(instance_id)
        self.live.pop(instance_id, None)
        with write_transaction(self.engine) as conn:
            instance_store.delete_instances(conn, [instance_id])

    async def kill_job(
        self,
        instance_id: str,
        job_identifier: str,
        child_context_name: str,
        *,
        destroy: bool,
        actor: str,
    ) -> VerbResult:
        live = self._get(instance_id)
        js = live.state.jobs.get((job_identifier, child_context_name))
        if js is None:
            raise NotFound(f"job {job_identifier} not found in {child_context_name}")
        if js.status.value != "RUNNING":
            raise FailedPrecondition(f"cannot kill job {job_identifier}: it is {js.status}")
        self.killed.append((instance_id, job_identifier, child_context_name, destroy, actor))
        return VerbResult(instance_id, ((job_identifier, child_context_name),))

    async def raise_global_event(
        self,
        job_name: str,
        *,
        environment_group: str,
        ignore_environment_group: bool,
        actor: str,
        time_ms: int,
        plans: frozenset[str] | None = None,
    ) -> list[str]:
        self.global_events.append((job_name, environment_group, ignore_environment_group, actor))
        return [
            i
            for i, lv in self.live.items()
            if not lv.state.ended
            and not lv.state.prepared
            and (ignore_environment_group or lv.row.environment_group == environment_group)
            and job_name in lv.machine.plan.global_job_names
        ]

    async def plan_provisioned(self, plan_name: str) -> None:
        self.provisioned.append(plan_name)

    async def plan_removed(self, plan_name: str) -> None:
        self.removed.append(plan_name)

    def events_that_can_run(
        self, instance_id: str, job_identifier: str, child_context_name: str
    ) -> Sequence[RaiseInitiation]:
        live = self._get(instance_id)
        jdef = live.machine.plan.jobs.get(job_identifier)
        if jdef is None:
            raise NotFound(f"job {job_identifier} not found")
        event = ProcessEvent(
            id="what-if",
            agent_name=jdef.agent_name,
            job_name=jdef.job_name,
            job_identifier=job_identifier,
            child_context_names=(child_context_name,) if child_context_name else (),
            successful=True,
            time_ms=self.now_ms(),
        )
        return live.machine.events_that_can_run(live.state, event)

    def live_instance_ids(self, plan_name: str | None = None) -> list[str]:
        return [
            i
            for i, lv in self.live.items()
            if not lv.state.ended
            and not lv.state.prepared
            and (plan_name is None or lv.row.plan_name == plan_name)
        ]


@dataclass
class _Timer:
    trigger: CronTrigger
    callback: FireCallback
    grace: timedelta
    next_fire: datetime | None


class ManualTimers:
    """A TimerHost for tests: `await fire_due()` runs every fire due at the clock's now, in
    time order, routing fires later than their grace to `on_misfire` as the Dispatcher does."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.jobs: dict[str, _Timer] = {}
        self.on_misfire: Callable[[Fire], object] | None = None
        self.fired: list[Fire] = []

    def add_job(
        self,
        job_id: str,
        trigger: CronTrigger,
        callback: FireCallback,
        *,
        misfire_grace: timedelta | None = None,
    ) -> datetime | None:
        now = self.clock.now()
        first = trigger.next_fire_time(now - timedelta(microseconds=1))
        self.jobs[job_id] = _Timer(trigger, callback, misfire_grace or timedelta(0), first)
        return first

    def remove_job(self, job_id: str) -> None:
        if self.jobs.pop(job_id, None) is None:
            raise NotFound(job_id)

    def job_ids(self) -> list[str]:
        return sorted(self.jobs)

    def next_fire(self, job_id: str) -> datetime | None:
        return self.jobs[job_id].next_fire

    async def fire_due(self) -> list[Fire]:
        now = self.clock.now()
        done: list[Fire] = []
        while True:
            due = [
                (t.next_fire, jid)
                for jid, t in self.jobs.items()
                if t.next_fire is not None and t.next_fire <= now
            ]
            if not due:
                return done
            at, jid = min(due)
            timer = self.jobs[jid]
            assert at is not None
            timer.next_fire = timer.trigger.next_fire_time(at)
            fire = Fire(jid, at, now)
            self.fired.append(fire)
            done.append(fire)
            target = timer.callback if fire.lateness <= timer.grace else self.on_misfire
            assert target is not None
            result = target(fire)
            if hasattr(result, "__await__"):
                await result

    async def advance_to(self, at: datetime) -> list[Fire]:
        """Move the clock to `at`, stopping at each due fire on the way (timers fire on time)."""
        fired: list[Fire] = []
        while True:
            pending = [
                t.next_fire
                for t in self.jobs.values()
                if t.next_fire is not None and t.next_fire <= at
            ]
            if not pending:
                break
            self.clock.set(max(min(pending), self.clock.now()))
            fired += await self.fire_due()
        self.clock.set(at)
        fired += await self.fire_due()
        return fired


def save_plan(
    engine: Engine, plan: plan_pb2.Context, *, now_ms: int = 0, enabled: bool = True
) -> int:
    """Store a plan version directly (what PlanService.ProvisionPlan does); its version."""
    import hashlib

    from google.protobuf import json_format

    data = plan.SerializeToString(deterministic=True)
    with write_transaction(engine) as conn:
        outcome = plan_store.save_plan_version(
            conn,
            name=plan.name,
            plan=data,
            plan_json=json_format.MessageToJson(plan),
            plan_hash=hashlib.sha256(data).hexdigest(),
            agent_names=(),
            now=now_ms,
            actor="test",
            enabled=enabled,
        )
    return outcome.version
