"""The effect interpreter: applies an input to its instance's machine and turns the engine's
effects into the step's rows (audits, run facts, acknowledgements, outbox messages, retry
timers) and into the coordinator inputs and virtual re-entries they cause, all in memory.

Agent messages come in here too. Holds: the machine only holds WAITING/RELEASED jobs, so a
job the dashboard knows has started (RUNNING) is refused FAILED_PRECONDITION by the machine
itself; a held job whose initiation was raised gets a CancelInitiation. The agent's
"cancelled" answer (not successful, outcome EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY, naming
the parked initiation) is recorded and dropped here so the hold stands. If the agent had
started it before the cancel arrived, its starting/completion events apply as usual (reality
wins; the audit trail shows hold then RUNNING).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from ikasched.v1 import agent_pb2, events_pb2
from ikasched_common.clock import Clock
from ikasched_dashboard.engine.coordinator import (
    Coordinator,
    Delivery,
    LiveInstance,
    RegisterInstance,
    UnregisterInstance,
)
from ikasched_dashboard.engine.effects import (
    Audit,
    CancelInitiation,
    ContextStatusChanged,
    GlobalEvent,
    InstanceComplete,
    JobStatusChanged,
    KillJob,
    LockRelease,
    LockRequest,
    RaiseInitiation,
    ScheduleRetry,
)
from ikasched_dashboard.engine.inputs import (
    AcknowledgeError,
    End,
    HoldAll,
    Input,
    LockGranted,
    LockQueued,
    ProcessEvent,
    RetryDue,
)
from ikasched_dashboard.engine.state import InstanceState
from ikasched_dashboard.interfaces import NewInstance
from ikasched_dashboard.orchestrator import messages as out
from ikasched_dashboard.orchestrator.run_facts import (
    outcome_reason,
    run_facts,
    source_facts,
)
from ikasched_dashboard.orchestrator.steps import (
    CompiledPlan,
    JobRef,
    Layers,
    Live,
    Retry,
    ScheduledRetry,
    Step,
)
from ikasched_dashboard.plans.convert import event_from_proto
from ikasched_dashboard.store.batches import NO_FACTS, ErrorAck, RunFacts
from ikasched_dashboard.store.changes import AuditEntry
from ikasched_dashboard.store.instances import InstanceRow

log = logging.getLogger(__name__)

CANCELLED_OUTCOME = "EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY"


class EffectInterpreter:
    """Applies inputs within a step; see the module doc."""

    def __init__(self, layers: Layers, clock: Clock) -> None:
        self._layers = layers
        self._clock = clock
        self._coordinator = Coordinator()

    # ---- instances ---------------------------------------------------------------------------
    def create(self, step: Step, spec: NewInstance, compiled: CompiledPlan, iid: str) -> str:
        plan = compiled.plan
        now = self._clock.now_ms()
        state = compiled.machine.new_instance(
            iid, parameters=spec.parameters, prepared=spec.prepared
        )
        row = InstanceRow(
            id=iid,
            plan_name=plan.name,
            plan_version=compiled.version,
            status=state.status.value,
            created_time=now,
            updated_time=now,
            start_time=spec.start_time_ms,
            projected_end_time=spec.projected_end_time_ms,
            timezone=compiled.proto.timezone or "UTC",
            created_by=spec.created_by,
            reset_from=spec.reset_from_instance_id,
            environment_group=plan.flags.environment_group,
            quartz_disabled=state.quartz_disabled,
            owner=compiled.proto.owner,
        )
        live = Live(state, compiled, row)
        step.lives[iid] = live
        self._layers.building.new_ids.add(iid)
        step.audits.append(
            AuditEntry(
                time=now,
                instance_id=iid,
                plan_name=plan.name,
                from_status="",
                to_status=state.status.value,
                job_identifier="",
                child_context=plan.name,
                cause="create",
                actor=spec.created_by,
                detail="instance created",
            )
        )
        self.register(step, live, prepared=spec.prepared)
        if not spec.prepared:
            self.publish(step, live)
            if spec.hold_command_jobs:
                self.feed(
                    step,
                    iid,
                    HoldAll(plan.root, spec.created_by, now, id="create:hold"),
                    spec.created_by,
                )
        return iid

    def register(self, step: Step, live: Live, *, prepared: bool) -> None:
        plan = live.compiled.plan
        self.coordinate(
            step,
            RegisterInstance(
                LiveInstance(
                    live.state.instance_id,
                    plan.flags.environment_group,
                    plan.global_job_names,
                    prepared,
                )
            ),
            "register",
        )

    def publish(self, step: Step, live: Live) -> None:
        """Queue the instance's activation for each of its agents."""
        now = self._clock.now_ms()
        for agent in live.compiled.agents:
            act = out.activation(
                live.state,
                live.compiled.plan,
                agent,
                start_time=live.row.start_time,
                projected_end_time=live.row.projected_end_time,
                timezone=live.row.timezone,
            )
            step.outbox.append(out.activate(act, agent, now))

    # ---- inputs and their effects ------------------------------------------------------------
    def coordinate(
        self, step: Step, item: Any, actor: str, *, plans: frozenset[str] | None = None
    ) -> list[str]:
        """Apply a coordinator input; returns the instances a delivered event reached.
        `plans`: deliver only to instances of these plans (None: every plan)."""
        state, outputs = self._coordinator.apply(self._layers.coord_state(step), item)
        step.coord = state
        reached: list[str] = []
        for o in outputs:
            match o:
                case Delivery() if plans is not None and not self._of_plans(step, o, plans):
                    continue
                case Delivery():
                    reached.append(o.instance_id)
                    self.feed(step, o.instance_id, o.event, "engine")
                case LockGranted() | LockQueued():
                    self.feed(step, o.instance_id, o, "engine")
        return reached

    def _of_plans(self, step: Step, delivery: Delivery, plans: frozenset[str]) -> bool:
        live = self._layers.seen_live(step, delivery.instance_id)
        return live is not None and live.state.plan_name in plans

    def feed(
        self,
        step: Step,
        instance_id: str,
        first: Input,
        actor: str,
        *,
        kill_running_jobs: bool = True,
        source: events_pb2.ContextualisedScheduledProcessEvent | None = None,
    ) -> None:
        """Apply an input and everything it causes (coordinator, completion ends). `source`:
        the agent's process event that `first` was made from (its reason, host and the event
        itself become the job's run facts)."""
        live = self._layers.live(step, instance_id)
        machine = live.compiled.machine
        old = live.state
        new, effects = machine.apply(old, first)
        live.state = new
        now = self._clock.now_ms()
        plan_name = old.plan_name
        event = first if isinstance(first, ProcessEvent) else None
        # the job the event is about (its status changes take the event's run facts)
        about = (
            live.compiled.plan.resolve_identifier(
                event.job_identifier, event.agent_name, event.job_name
            )
            if event is not None
            else None
        )
        if isinstance(first, RetryDue):
            live.retries.pop((first.job_identifier, first.child_context_name), None)
        changed = step.jobs_changed.setdefault(instance_id, [])
        status_changed = False
        # Effects that feed an instance again (the coordinator's deliveries and grants, the
        # end of a completed instance) run after this input's own rows are recorded, so the
        # change log holds this input's transitions before the ones they cause.
        follow_ups: list[Any] = []
        for e in effects:
            match e:
                case JobStatusChanged():
                    changed.append((e.job_identifier, e.child_context_name))
                    status_changed = True
                    t = e.time_ms or now
                    step.audits.append(
                        AuditEntry(
                            time=t,
                            instance_id=instance_id,
                            plan_name=plan_name,
                            from_status=e.previous.value,
                            to_status=e.status.value,
                            job_identifier=e.job_identifier,
                            child_context=e.child_context_name,
                            cause=e.cause,
                            actor=actor,
                        )
                    )
                    ref = JobRef(instance_id, e.job_identifier, e.child_context_name)
                    mine = event is not None and e.job_identifier == about
                    learned = run_facts(
                        self._layers.facts(step, ref) or NO_FACTS,
                        e,
                        t,
                        event if mine else None,
                        source if mine else None,
                        actor,
                    )
                    if learned is not None:
                        step.facts[ref] = learned
                case ContextStatusChanged():
                    step.audits.append(
                        AuditEntry(
                            time=e.time_ms or now,
                            instance_id=instance_id,
                            plan_name=plan_name,
                            from_status=e.previous.value,
                            to_status=e.status.value,
                            job_identifier="",
                            child_context=e.context_name,
                            cause=e.cause,
                            actor=actor,
                        )
                    )
                case Audit():
                    if isinstance(first, AcknowledgeError) and e.job_identifier:
                        ref = JobRef(instance_id, e.job_identifier, e.child_context_name)
                        step.acks[ref] = ErrorAck(
                            message=first.message,
                            ticket=first.ticket_id,
                            user=e.actor or actor,
                            time=e.time_ms or now,
                        )
                    step.audits.append(
                        AuditEntry(
                            time=e.time_ms or now,
                            instance_id=instance_id,
                            plan_name=plan_name,
                            from_status="",
                            to_status="",
                            job_identifier=e.job_identifier,
                            child_context=e.child_context_name,
                            cause=e.cause,
                            actor=e.actor or actor,
                            detail=f"{e.action} {e.detail}".strip(),
                        )
                    )
                case RaiseInitiation():
                    step.outbox.append(out.initiation(e, now))
                case CancelInitiation():
                    step.outbox.append(out.cancel(e, instance_id, now))
                case KillJob():
                    step.outbox.append(out.kill(e, instance_id, now, user=actor))
                case LockRequest() | LockRelease() | GlobalEvent():
                    follow_ups.append(e)
                case ScheduleRetry():
                    due = (first.time_ms or now) + e.delay_seconds * 1000
                    job = (e.job_identifier, e.child_context_name)
                    live.retries[job] = Retry(e.attempt, due)
                    step.retries.append(ScheduledRetry(instance_id, job, e.attempt, due))
                case InstanceComplete() if e.end_instance:
                    follow_ups.append(e)
        for e in follow_ups:
            if not isinstance(e, InstanceComplete):
                self.coordinate(step, e, actor)
            elif not self._layers.live(step, instance_id).state.ended:
                self.feed(
                    step,
                    instance_id,
                    End(first.time_ms or now, "engine", id=f"complete:{instance_id}"),
                    "engine",
                )
        if event is not None and not status_changed:
            self._repeat_run_facts(step, instance_id, event, old, new, now, source)
        live = self._layers.live(step, instance_id)
        if live.state.ended and not old.ended:
            live.retries.clear()
            step.ended.add(instance_id)
            self.coordinate(step, UnregisterInstance(instance_id), actor)
            for agent in live.compiled.agents:
                step.outbox.append(
                    out.remove(instance_id, agent, now, kill_running_jobs=kill_running_jobs)
                )

    def _repeat_run_facts(
        self,
        step: Step,
        instance_id: str,
        ev: ProcessEvent,
        old: InstanceState,
        new: InstanceState,
        now: int,
        source: events_pb2.ContextualisedScheduledProcessEvent | None,
    ) -> None:
        """A repeat run of a COMPLETE job changes no status, so its start, end and return code
        come from the event itself (rare: only repeatable jobs, late duplicates and the
        completion of a job already marked killed get here)."""
        ident = ev.job_identifier or f"{ev.agent_name}-{ev.job_name}"
        t = ev.time_ms or now
        for key, js in new.jobs.items():
            if key[0] != ident or old.jobs.get(key) is js:
                continue
            ref = JobRef(instance_id, key[0], key[1])
            facts = self._layers.facts(step, ref) or NO_FACTS
            if ev.job_starting:
                facts = RunFacts(t, 0, None, "", *source_facts(source), cleared=True)
            else:
                reason = outcome_reason(ev, source)
                host, raw = source_facts(source)
                facts = replace(
                    facts, end=t, return_code=ev.return_code, reason=reason, host=host, event=raw
                )
            step.facts[ref] = facts

    # ---- agent messages ----------------------------------------------------------------------
    def on_message(self, step: Step, agent: str, message: agent_pb2.AgentMessage) -> bool:
        """An agent's message: a process event is fed to its instance (or dropped, audited,
        when it cannot apply); anything else is audited. Returns True when the event was
        refused (it speaks for a job, instance or initiation that is not the link agent's,
        docs/architecture.md §7.3): audited, and not recorded as processed, so a forged id
        cannot shadow the genuine event."""
        kind = message.WhichOneof("body")
        if kind != "process_event":
            about = self._layers.seen_live(step, message.alert.context_instance_id)
            step.audits.append(
                AuditEntry(
                    time=self._clock.now_ms(),
                    instance_id=message.alert.context_instance_id,
                    plan_name=about.state.plan_name if about is not None else "",
                    from_status="",
                    to_status="",
                    job_identifier=message.alert.job_identifier,
                    child_context="",
                    cause=message.id,
                    actor=f"agent:{agent}",
                    detail=f"{kind}: {_alert_type(message.alert)}: {message.alert.message}"[:500],
                    kind="alert",
                )
            )
            return False
        pe = message.process_event
        iid = pe.context_instance_id
        ev = event_from_proto(pe)
        live = self._layers.seen_live(step, iid)
        refused = event_refusal(live, agent, ev) or _claimed_report(message.id, ev)
        if refused:
            log.warning("process event %s from agent %s refused: %s", message.id, agent, refused)
            step.audits.append(
                AuditEntry(
                    time=self._clock.now_ms(),
                    instance_id=iid,
                    plan_name=live.state.plan_name if live is not None else pe.context_name,
                    from_status="",
                    to_status="",
                    job_identifier=pe.job_identifier,
                    child_context="",
                    cause=pe.id,
                    actor=f"agent:{agent}",
                    detail=f"event refused: agent {agent!r} tried {_what(ev)}: {refused}"[:500],
                )
            )
            return True
        why = self._why_dropped(live, ev)
        if why:
            log.info("process event %s from %s dropped: %s", message.id, agent, why)
            step.audits.append(
                AuditEntry(
                    time=self._clock.now_ms(),
                    instance_id=iid,
                    plan_name=pe.context_name,
                    from_status="",
                    to_status="",
                    job_identifier=pe.job_identifier,
                    child_context="",
                    cause=pe.id,
                    actor=f"agent:{agent}",
                    detail=f"event dropped: {why}",
                )
            )
            return False
        self.feed(step, iid, ev, f"agent:{agent}", source=pe)
        return False

    @staticmethod
    def _why_dropped(live: Live | None, ev: ProcessEvent) -> str:
        """Why an authorized process event cannot apply ("": it can)."""
        if live is None:
            return "unknown instance"
        if live.state.ended:
            return "instance ENDED"
        if not ev.job_starting and not ev.successful:
            ident = live.compiled.plan.resolve_identifier(
                ev.job_identifier, ev.agent_name, ev.job_name
            )
            parked = [
                init
                for (j, _c), init in live.state.held_initiations.items()
                if j == ident and init.initiation_id == ev.initiation_id
            ]
            if parked and ev.outcome == CANCELLED_OUTCOME:
                return "cancel confirmed for a held job"
        return ""


def event_refusal(live: Live | None, link: str, ev: ProcessEvent) -> str:
    """Why an agent may not send this process event ("": it may). `link`: the agent whose
    link it came over. An agent speaks only for itself, for jobs of its own, and for the
    initiations the dashboard raised for that job in that instance (with their attempt)."""
    if ev.agent_name != link:
        return f"the event names agent {ev.agent_name!r} but came over {link!r}'s link"
    if live is None:
        return ""  # unknown instance: dropped, it touches nothing
    state = live.state
    ident = live.compiled.plan.resolve_identifier(ev.job_identifier, ev.agent_name, ev.job_name)
    if ident is None:
        return ""  # unknown job: the engine ignores it, audited
    owner = live.compiled.plan.jobs[ident].agent_name
    if owner != link:
        return f"job {ident} of instance {state.instance_id} is assigned to agent {owner!r}"
    if not ev.initiation_id:
        return ""  # a trigger's fire (time, file) names no initiation
    if not ev.initiation_id.startswith(f"{state.instance_id}:"):
        return f"initiation {ev.initiation_id!r} was not raised in instance {state.instance_id}"
    own = [init for init in _initiations(state) if init.job_identifier == ident]
    for init in own:
        if init.initiation_id == ev.initiation_id:
            if ev.attempt and init.attempt and ev.attempt != init.attempt:
                return f"initiation {ev.initiation_id} is attempt {init.attempt}, not {ev.attempt}"
            return ""
    for init in _initiations(state):
        if init.initiation_id == ev.initiation_id:
            return f"initiation {ev.initiation_id} was raised for job {init.job_identifier}"
    return ""  # an earlier initiation of this job (a late or repeated report)


# An agent's reports of an initiation carry the ids "<initiation id>:starting|completed"
# (docs/architecture.md §7.3); an initiation id is "<instance id>:<n>".
_REPORT_ID = re.compile(r"(.+:\d+):(starting|completed)")


def _claimed_report(message_id: str, ev: ProcessEvent) -> str:
    """Why a message id is not this event's to use (""), e.g. another initiation's report
    id: once processed it would make the dashboard drop the genuine report as a replay."""
    shaped = _REPORT_ID.fullmatch(message_id)
    if shaped is not None and shaped.group(1) != ev.initiation_id:
        return f"message id {message_id!r} is the report id of initiation {shaped.group(1)}"
    return ""


def _initiations(state: InstanceState) -> list[RaiseInitiation]:
    """Every initiation the instance still knows of: the latest of each job, parked ones."""
    found = [js.initiation for js in state.jobs.values() if js.initiation is not None]
    found.extend(state.held_initiations.values())
    found.extend(state.lock_pending.values())
    return found


def _what(ev: ProcessEvent) -> str:
    verb = "starting" if ev.job_starting else ("completing" if ev.successful else "failing")
    job = ev.job_identifier or f"{ev.agent_name}-{ev.job_name}"
    where = f" (initiation {ev.initiation_id}, attempt {ev.attempt})" if ev.initiation_id else ""
    return f"{verb} job {job}{where}"


def _alert_type(alert: agent_pb2.AgentAlert) -> str:
    """The alert's type by name (ALERT_OVERDUE, ...), which audit_alerts reads back."""
    return agent_pb2.AgentAlert.AlertType.Name(alert.type)
