"""The agent never echoes a secret value back in a process event, and seals secret values
before its inbox journal keeps them (docs/architecture.md §7.5)."""

from __future__ import annotations

from ikasched.v1 import agent_pb2, common_pb2, events_pb2
from ikasched_agent.events import process_event
from ikasched_agent.journals import SealingInbox
from ikasched_common.journal import MemoryJournal
from ikasched_common.secrets import SecretBox, generate_key, is_sealed, open_secret_parameters

SECRET = "pl41n-s3cret"


def _initiation() -> events_pb2.SchedulerJobInitiationEvent:
    init = events_pb2.SchedulerJobInitiationEvent(id="i:1", job_name="j", context_name="p")
    job = init.internal_event_driven_job
    job.command_line = "true"
    job.context_parameters.add(name="PASSWORD", default_value=SECRET, secret=True)
    job.context_parameters.add(name="PLAIN", default_value="shown")
    init.context_parameters.append(
        common_pb2.ContextParameterInstance(name="TOKEN", value=SECRET, secret=True)
    )
    return init


def test_process_events_carry_no_secret_default() -> None:
    event = process_event(_initiation(), agent_name="a", hostname="h", job_starting=True)
    assert SECRET.encode() not in event.SerializeToString()
    shown = {p.name: p.default_value for p in event.internal_event_driven_job.context_parameters}
    assert shown == {"PASSWORD": "***", "PLAIN": "shown"}


def test_the_inbox_journal_keeps_secret_values_sealed() -> None:
    box = SecretBox(generate_key())
    inner = MemoryJournal()
    inbox = SealingInbox(inner, box)
    message = agent_pb2.DashboardMessage(id="m", initiation=_initiation())
    inbox.append([message.SerializeToString(), b"\xff not a message"])
    stored, junk = inner.peek(2)
    assert SECRET.encode() not in stored.value and junk.value == b"\xff not a message"
    kept = agent_pb2.DashboardMessage.FromString(stored.value)
    assert is_sealed(kept.initiation.context_parameters[0].value)
    open_secret_parameters(kept, box)
    assert kept.initiation.context_parameters[0].value == SECRET
    assert kept.initiation.internal_event_driven_job.context_parameters[0].default_value == SECRET
