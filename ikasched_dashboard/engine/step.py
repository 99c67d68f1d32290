"""The scratch of one ContextMachine step: copy-on-write maps over the instance state.

Nothing here is shared between steps: a step starts from an immutable InstanceState, changes
its own copies, and `freeze` turns them into the next InstanceState (or the step is dropped).
"""

from __future__ import annotations

from collections import deque

from ikasched_dashboard.engine.effects import Audit, Effect, JobStatusChanged, RaiseInitiation
from ikasched_dashboard.engine.inputs import ProcessEvent
from ikasched_dashboard.engine.model import Plan, Status
from ikasched_dashboard.engine.state import InstanceState, JobKey, JobState


class Step:
    """The mutable scratch of one step; copies of the state's maps, discarded or frozen.

    The step functions (events, verbs, locks, retries, lifecycle, roll-up) take it as `w`.
    """

    __slots__ = (
        "_held", "_holding", "_pending", "cause", "contexts", "dirty", "dry", "dry_raised",
        "dry_run", "dry_run_parameters", "effects", "ended", "jobs", "parameters", "plan",
        "prepared", "quartz_disabled", "run_until_manually_ended", "seq", "state", "time",
        "virtual",
    )  # fmt: skip

    def __init__(
        self,
        plan: Plan,
        state: InstanceState,
        cause: str,
        time_ms: int,
        *,
        dry: bool = False,
    ) -> None:
        self.plan = plan
        self.state = state
        self.cause = cause
        self.time = time_ms
        self.dry = dry
        self.jobs: dict[JobKey, JobState] = dict(state.jobs)
        self.contexts: dict[str, Status] = dict(state.contexts)
        self._held: dict[JobKey, RaiseInitiation] | None = None
        self._pending: dict[JobKey, RaiseInitiation] | None = None
        self._holding: set[JobKey] | None = None
        self.parameters = state.parameters
        self.quartz_disabled = state.quartz_disabled
        self.run_until_manually_ended = state.run_until_manually_ended
        self.dry_run = state.dry_run
        self.dry_run_parameters = state.dry_run_parameters
        self.prepared = state.prepared
        self.ended = state.ended
        self.seq = state.seq
        self.effects: list[Effect] = []
        self.dirty: set[str] = set()
        self.virtual: deque[ProcessEvent] = deque()
        self.dry_raised: list[RaiseInitiation] = []

    # -- copy-on-write accessors -------------------------------------------------------------

    @property
    def held(self) -> dict[JobKey, RaiseInitiation]:
        if self._held is None:
            self._held = dict(self.state.held_initiations)
        return self._held

    @property
    def pending(self) -> dict[JobKey, RaiseInitiation]:
        if self._pending is None:
            self._pending = dict(self.state.lock_pending)
        return self._pending

    @property
    def holding(self) -> set[JobKey]:
        if self._holding is None:
            self._holding = set(self.state.lock_holding)
        return self._holding

    def has_held(self, key: JobKey) -> bool:
        return key in (self._held if self._held is not None else self.state.held_initiations)

    def has_pending(self, key: JobKey) -> bool:
        return key in (self._pending if self._pending is not None else self.state.lock_pending)

    def is_holding(self, key: JobKey) -> bool:
        return key in (self._holding if self._holding is not None else self.state.lock_holding)

    def set_job(self, key: JobKey, new: JobState, cause: str) -> None:
        old = self.jobs[key]
        self.jobs[key] = new
        if old.status is not new.status:
            self.effects.append(
                JobStatusChanged(key[0], key[1], old.status, new.status, cause, self.time)
            )
            self.dirty.add(key[1])

    def audit(
        self, action: str, *, actor: str = "", key: JobKey | None = None, detail: str = ""
    ) -> None:
        ident, ctx = key if key is not None else ("", "")
        self.effects.append(Audit(action, self.cause, actor, ident, ctx, detail, self.time))

    def next_id(self) -> str:
        """The next initiation id: "<instance id>:<n>", deterministic."""
        self.seq += 1
        return f"{self.state.instance_id}:{self.seq}"

    def freeze(self) -> tuple[InstanceState, tuple[Effect, ...]]:
        """The new state and the effects; contexts must be rolled up before."""
        s = self.state
        new = InstanceState(
            instance_id=s.instance_id,
            plan_name=s.plan_name,
            plan_version=s.plan_version,
            jobs=self.jobs,
            contexts=self.contexts,
            parameters=self.parameters,
            held_initiations=self._held if self._held is not None else s.held_initiations,
            lock_pending=self._pending if self._pending is not None else s.lock_pending,
            lock_holding=(
                frozenset(self._holding) if self._holding is not None else s.lock_holding
            ),
            quartz_disabled=self.quartz_disabled,
            run_until_manually_ended=self.run_until_manually_ended,
            dry_run=self.dry_run,
            dry_run_parameters=self.dry_run_parameters,
            prepared=self.prepared,
            ended=self.ended,
            seq=self.seq,
        )
        return new, tuple(self.effects)
