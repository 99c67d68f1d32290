"""The orchestration engine: pure plan model, per-instance ContextMachine, lock/global coordinator.

No I/O, no clock, no protobuf or SQL here; ``ikasched_dashboard.plans.convert`` maps the
protocol onto these types (``plan_from_proto``, ``event_from_proto``, ``initiation_to_proto``).

How an orchestrator drives it (one serial owner per instance, one for the coordinator):

- ``plan = plan_from_proto(ctx, version=...)`` once per plan version; ``ContextMachine(plan)``
  is stateless and shared by every instance of that version.
- ``state = machine.new_instance(instance_id, parameters=..., prepared=...)``; then for every
  input (process event, verb, ``RetryDue``, ``LockGranted``/``LockQueued``, ``Activate``, ``End``):
  ``state, effects = machine.apply(state, input)``. A refused verb raises ``FailedPrecondition``
  or ``NotFound`` and yields no state. Commit ``state`` (``snapshot.to_snapshot``) with the
  effects in one transaction, then act on the effects:

  - ``RaiseInitiation`` -> ``initiation_to_proto`` -> outbox to ``agent_name``;
  - ``LockRequest`` / ``LockRelease`` / ``GlobalEvent`` -> ``Coordinator.apply``; each output
    (``LockGranted``, ``LockQueued``, ``Delivery(instance_id, event)``) goes to that instance's
    inbox in the same transaction;
  - ``ScheduleRetry`` -> deliver ``RetryDue`` after ``delay_seconds``;
  - ``CancelInitiation`` -> ask the agent not to start it; if the agent already started it,
    refuse the verb that caused it (FAILED_PRECONDITION) and discard the new state;
  - ``KillJob`` -> agent kill; ``InstanceComplete(end_instance=True)`` -> end the instance
    (``End`` input, ``UnregisterInstance`` to the coordinator);
  - ``JobStatusChanged`` / ``ContextStatusChanged`` / ``Audit`` -> rows and watch streams.
- Register each live instance with the coordinator (``RegisterInstance(LiveInstance(...))``,
  ``prepared=True`` for PREPARED ones, registered again when activated).

The machine's documented design choices (virtual jobs, locks, holds, retry) are in
``machine.py``'s module docstring; the lock rules are in ``coordinator.py``'s.
"""

from ikasched_dashboard.engine.coordinator import (
    Coordinator,
    CoordinatorState,
    Delivery,
    LiveInstance,
    RegisterInstance,
    UnregisterInstance,
)
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import JobKind, Plan, Status, compile_plan
from ikasched_dashboard.engine.state import InstanceState, JobState

__all__ = [
    "ContextMachine",
    "Coordinator",
    "CoordinatorState",
    "Delivery",
    "InstanceState",
    "JobKind",
    "JobState",
    "LiveInstance",
    "Plan",
    "RegisterInstance",
    "Status",
    "UnregisterInstance",
    "compile_plan",
]
