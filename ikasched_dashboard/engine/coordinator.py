"""The cross-instance coordinator: job locks and global events, one serial owner
(docs/architecture.md §5).

Pure: `Coordinator.apply(state, input) -> (state, outputs)`. Inputs are the machines' LockRequest
/ LockRelease / GlobalEvent effects plus instance registration; outputs are addressed inputs for
machines: LockGranted / LockQueued, and Delivery(instance_id, ProcessEvent) for global events.
The orchestrator feeds every output to the named instance's inbox in the same transaction.

Lock rules (docs/semantics.md §7), partitioned by environment group:
- a lock is taken while the holders' weights plus the asker's would exceed its capacity;
- while an exclusive lock is held no other lock is granted, and an exclusive lock is granted
  only when no other lock of the group is held;
- waiters queue FIFO on the first lock that blocks them;
- on release the released lock's queue is drained in order while its head fits, then the head of
  every other queue of the group is tried once (for an exclusive lock that is Ikasan's "one
  waiter from each non-exclusive queue"; for the rest it frees waiters that another lock or an
  exclusive hold was blocking). A waiter that is still blocked by another lock moves to that
  lock's queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import assert_never

from ikasched_dashboard.engine.effects import GlobalEvent, LockRelease, LockRequest
from ikasched_dashboard.engine.inputs import LockGranted, LockQueued, ProcessEvent
from ikasched_dashboard.engine.model import GLOBAL_EVENT, LockClaim

LockKey = tuple[str, str]  # (environment group, lock name)


@dataclass(frozen=True, slots=True)
class Holder:
    instance_id: str
    job_identifier: str
    child_context_name: str
    weight: int


@dataclass(frozen=True, slots=True)
class Waiter:
    instance_id: str
    job_identifier: str
    child_context_name: str
    claims: tuple[LockClaim, ...]


@dataclass(frozen=True, slots=True)
class LockState:
    name: str
    capacity: int
    exclusive: bool
    holders: tuple[Holder, ...] = ()
    queue: tuple[Waiter, ...] = ()

    @property
    def weight(self) -> int:
        return sum(h.weight for h in self.holders)


@dataclass(frozen=True, slots=True)
class LiveInstance:
    """What the coordinator knows of an instance: enough to route global events."""

    instance_id: str
    environment_group: str
    global_job_names: frozenset[str]
    prepared: bool = False


@dataclass(frozen=True, slots=True)
class RegisterInstance:
    instance: LiveInstance


@dataclass(frozen=True, slots=True)
class UnregisterInstance:
    """The instance ended: its locks and queue places are given up."""

    instance_id: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A global event's successful process event for one instance."""

    instance_id: str
    event: ProcessEvent


@dataclass(frozen=True, slots=True)
class CoordinatorState:
    locks: Mapping[LockKey, LockState]
    instances: Mapping[str, LiveInstance]


CoordinatorInput = LockRequest | LockRelease | GlobalEvent | RegisterInstance | UnregisterInstance
Output = LockGranted | LockQueued | Delivery


def _holder_key(h: Holder | Waiter) -> tuple[str, str, str]:
    return (h.instance_id, h.job_identifier, h.child_context_name)


class Coordinator:
    """Stateless; the state is passed in and returned."""

    @staticmethod
    def empty() -> CoordinatorState:
        return CoordinatorState(locks={}, instances={})

    def apply(
        self, state: CoordinatorState, item: CoordinatorInput
    ) -> tuple[CoordinatorState, tuple[Output, ...]]:
        work = _Work(state)
        match item:
            case LockRequest():
                work.request(item)
            case LockRelease():
                work.release(
                    item.environment_group,
                    (item.instance_id, item.job_identifier, item.child_context_name),
                    cancel_queued=item.cancel_queued,
                )
            case GlobalEvent():
                work.broadcast(item)
            case RegisterInstance():
                work.instances[item.instance.instance_id] = item.instance
            case UnregisterInstance():
                work.unregister(item.instance_id)
            case _:
                assert_never(item)
        return CoordinatorState(work.locks, work.instances), tuple(work.out)


class _Work:
    def __init__(self, state: CoordinatorState) -> None:
        self.locks: dict[LockKey, LockState] = dict(state.locks)
        self.instances: dict[str, LiveInstance] = dict(state.instances)
        self.out: list[Output] = []

    # -- locks ---------------------------------------------------------------------------------

    def lock(self, group: str, claim: LockClaim) -> LockState:
        key = (group, claim.name)
        found = self.locks.get(key)
        if found is None:
            found = LockState(claim.name, claim.capacity, claim.exclusive)
            self.locks[key] = found
        return found

    def blocking(self, group: str, claims: tuple[LockClaim, ...]) -> LockClaim | None:
        """The first claim that cannot be granted now, or None when all can."""
        names = {c.name for c in claims}
        others_held = [
            ls for (g, n), ls in self.locks.items() if g == group and n not in names and ls.holders
        ]
        for claim in claims:
            ls = self.lock(group, claim)
            if ls.weight + claim.weight > ls.capacity:
                return claim
            if any(o.exclusive for o in others_held):
                return claim
            if ls.exclusive and others_held:
                return claim
        return None

    def grant(self, group: str, who: Waiter) -> None:
        for claim in who.claims:
            key = (group, claim.name)
            ls = self.locks[key]
            holder = Holder(
                who.instance_id, who.job_identifier, who.child_context_name, claim.weight
            )
            self.locks[key] = LockState(
                ls.name, ls.capacity, ls.exclusive, (*ls.holders, holder), ls.queue
            )
        self.out.append(LockGranted(who.instance_id, who.job_identifier, who.child_context_name))

    def enqueue(self, group: str, claim: LockClaim, who: Waiter) -> None:
        key = (group, claim.name)
        ls = self.locks[key]
        self.locks[key] = LockState(
            ls.name, ls.capacity, ls.exclusive, ls.holders, (*ls.queue, who)
        )

    def request(self, req: LockRequest) -> None:
        group = req.environment_group
        who = Waiter(req.instance_id, req.job_identifier, req.child_context_name, req.claims)
        self.forget(group, _holder_key(who), holders=False)  # a repeated request queues once
        blocked = self.blocking(group, req.claims)
        if blocked is None:
            self.grant(group, who)
        else:
            self.enqueue(group, blocked, who)
            self.out.append(LockQueued(who.instance_id, who.job_identifier, who.child_context_name))

    def forget(self, group: str, key: tuple[str, str, str], *, holders: bool) -> list[str]:
        """Remove the occurrence from queues (and holders); returns the names of freed locks."""
        freed: list[str] = []
        for (g, name), ls in list(self.locks.items()):
            if g != group:
                continue
            queue = tuple(w for w in ls.queue if _holder_key(w) != key)
            kept = ls.holders
            if holders:
                kept = tuple(h for h in ls.holders if _holder_key(h) != key)
                if len(kept) != len(ls.holders):
                    freed.append(name)
            if queue != ls.queue or kept != ls.holders:
                self.locks[(g, name)] = LockState(ls.name, ls.capacity, ls.exclusive, kept, queue)
        return freed

    def release(self, group: str, key: tuple[str, str, str], *, cancel_queued: bool) -> None:
        freed = self.forget(group, key, holders=True)
        if cancel_queued:
            self.forget(group, key, holders=False)
        for name in sorted(freed):
            self.poll(group, name)

    def poll(self, group: str, name: str) -> None:
        """Grant the released lock's queue in order, then one head from each other queue."""
        self.drain(group, name, only_one=False)
        for g, other in sorted(self.locks):
            if g == group and other != name:
                self.drain(group, other, only_one=True)

    def drain(self, group: str, name: str, *, only_one: bool) -> None:
        while True:
            ls = self.locks[(group, name)]
            if not ls.queue:
                return
            head = ls.queue[0]
            blocked = self.blocking(group, head.claims)
            if blocked is not None and blocked.name == name:
                return  # still blocked here: FIFO, nobody overtakes it
            self.locks[(group, name)] = LockState(
                ls.name, ls.capacity, ls.exclusive, ls.holders, ls.queue[1:]
            )
            if blocked is None:
                self.grant(group, head)
            else:
                self.enqueue(group, blocked, head)  # blocked elsewhere: wait there
            if only_one:
                return

    def unregister(self, instance_id: str) -> None:
        self.instances.pop(instance_id, None)
        touched: set[tuple[str, str]] = set()
        for (g, name), ls in list(self.locks.items()):
            holders = tuple(h for h in ls.holders if h.instance_id != instance_id)
            queue = tuple(w for w in ls.queue if w.instance_id != instance_id)
            if holders != ls.holders or queue != ls.queue:
                self.locks[(g, name)] = LockState(
                    ls.name, ls.capacity, ls.exclusive, holders, queue
                )
            if holders != ls.holders:
                touched.add((g, name))
        for g, name in sorted(touched):
            self.poll(g, name)

    # -- global events -------------------------------------------------------------------------

    def broadcast(self, ev: GlobalEvent) -> None:
        """Every live (not PREPARED) instance of the group whose plan has the global job; a
        skipped global event reaches only the instance that raised it."""
        if ev.skipped:
            targets: Iterable[str] = [ev.origin_instance_id]
        else:
            targets = sorted(
                i.instance_id
                for i in self.instances.values()
                if not i.prepared
                and ev.job_name in i.global_job_names
                and (ev.ignore_environment_group or i.environment_group == ev.environment_group)
            )
        for instance_id in targets:
            self.out.append(
                Delivery(
                    instance_id,
                    ProcessEvent(
                        id=f"{ev.cause}>{instance_id}",
                        agent_name=GLOBAL_EVENT,
                        job_name=ev.job_name,
                        successful=True,
                        skipped=ev.skipped,
                        output_parameters=ev.output_parameters,
                        time_ms=ev.time_ms,
                    ),
                )
            )
