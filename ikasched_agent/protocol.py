"""The protocol messages the agent speaks, named once for all agent modules.

The process-event message is `ProcessEventMessage` here: `ProcessEvent` is the dashboard
engine's domain record, a different thing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ikasched.v1 import agent_pb2, events_pb2

__all__ = [
    "AgentAlert",
    "AlertSink",
    "DashboardMessage",
    "Emit",
    "EmitMany",
    "Initiation",
    "ProcessEventMessage",
]

Initiation = events_pb2.SchedulerJobInitiationEvent
ProcessEventMessage = events_pb2.ContextualisedScheduledProcessEvent
DashboardMessage = agent_pb2.DashboardMessage
AgentAlert = agent_pb2.AgentAlert

#: Takes one process event; returns once the agent has journaled it in its outbox.
Emit = Callable[[ProcessEventMessage], Awaitable[None]]
#: Takes several process events at once (in order), e.g. to journal them in one transaction.
EmitMany = Callable[[Sequence[ProcessEventMessage]], Awaitable[None]]
#: Takes an operator alert; returns once it is journaled.
AlertSink = Callable[[AgentAlert], Awaitable[None]]
