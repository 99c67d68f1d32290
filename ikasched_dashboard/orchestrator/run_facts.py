"""A job's run facts from the process events of a batch (docs/semantics.md §2.4): the
agent's outcome reason (or "failed with return code N"), its host and the event itself, secret
values masked. A start clears the previous run's facts, and so does a return to WAITING after
a run ended (reset, retry, manual run); a kill of every running job is "killed by <actor>".
"""

from __future__ import annotations

from dataclasses import replace

from ikasched.v1 import events_pb2
from ikasched_dashboard.engine.effects import JobStatusChanged
from ikasched_dashboard.engine.inputs import ProcessEvent
from ikasched_dashboard.engine.model import Status
from ikasched_dashboard.store.batches import RunFacts

__all__ = ["outcome_reason", "run_facts", "source_facts", "stored_event"]

RUNNING = frozenset({Status.RUNNING, Status.SKIPPED_RUNNING})
FINISHED = frozenset({Status.COMPLETE, Status.SKIPPED_COMPLETE, Status.ERROR, Status.KILLED})

SECRET_MASK = "***"


def stored_event(source: events_pb2.ContextualisedScheduledProcessEvent) -> bytes:
    """The process event as a job row keeps it: secret parameter values masked."""
    copy = events_pb2.ContextualisedScheduledProcessEvent()
    copy.CopyFrom(source)
    for param in copy.internal_event_driven_job.context_parameters:
        if param.secret and param.default_value:
            param.default_value = SECRET_MASK
    return copy.SerializeToString()


def source_facts(
    source: events_pb2.ContextualisedScheduledProcessEvent | None,
) -> tuple[str | None, bytes | None]:
    if source is None:
        return None, None
    return source.agent_hostname, stored_event(source)


def outcome_reason(
    ev: ProcessEvent, source: events_pb2.ContextualisedScheduledProcessEvent | None
) -> str:
    """Why a run ended as it did: the agent's words, else the return code of a failure."""
    said = source.outcome_reason if source is not None else ""
    if said or ev.successful:
        return said
    return f"failed with return code {ev.return_code}"


def run_facts(
    facts: RunFacts,
    change: JobStatusChanged,
    t: int,
    event: ProcessEvent | None,
    source: events_pb2.ContextualisedScheduledProcessEvent | None,
    actor: str,
) -> RunFacts | None:
    """The run facts after a job's status change (None: it changes none). A start clears the
    previous run's facts; so does going back to wait after a run ended (a reset, a retry)."""
    host, raw = source_facts(source)
    if change.status in RUNNING:
        return RunFacts(t, 0, None, "", host, raw, cleared=True)
    if change.status in FINISHED:
        if event is not None:
            reason = outcome_reason(event, source)
            return replace(
                facts, end=t, return_code=event.return_code, reason=reason, host=host, event=raw
            )
        if change.cause.startswith("verb:kill"):
            return replace(facts, end=t, reason=f"killed by {actor}")
        return replace(facts, end=t)
    if change.previous in FINISHED and change.status is Status.WAITING:
        return RunFacts(cleared=True)
    return None
