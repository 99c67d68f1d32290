"""A small plan builder and an in-memory world (machines + coordinator + fake agents) for tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ikasched_dashboard.engine.coordinator import (
    Coordinator,
    CoordinatorState,
    Delivery,
    LiveInstance,
    RegisterInstance,
)
from ikasched_dashboard.engine.effects import (
    Effect,
    GlobalEvent,
    LockRelease,
    LockRequest,
    RaiseInitiation,
)
from ikasched_dashboard.engine.inputs import Input, LockGranted, LockQueued, ProcessEvent
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import (
    VIRTUAL_AGENT_NAMES,
    CommandSpec,
    ContextSpec,
    Dependency,
    Grouping,
    JobDef,
    JobKind,
    LockDef,
    LockParticipant,
    Operand,
    Parameter,
    Plan,
    PlanFlags,
    Status,
    compile_plan,
)
from ikasched_dashboard.engine.state import InstanceState

AGENT = "agent"


def cmd(
    name: str,
    *,
    repeatable: bool = False,
    trco: bool = False,
    params: Mapping[str, str] | None = None,
    retry: int = 0,
    retry_delay: int = 0,
    held_in: Iterable[str] = (),
    skipped_in: Iterable[str] = (),
    priority: int = 0,
) -> JobDef:
    """A command job whose identifier is its name."""
    return JobDef(
        identifier=name,
        agent_name=AGENT,
        job_name=name,
        kind=JobKind.COMMAND,
        priority=priority,
        parameters=tuple(Parameter(k, v) for k, v in (params or {}).items()),
        repeatable=repeatable,
        target_residing_context_only=trco,
        held_contexts=frozenset(held_in),
        skipped_contexts=frozenset(skipped_in),
        command=CommandSpec(
            command_line=f"run {name}", retry_count=retry, retry_delay_seconds=retry_delay
        ),
    )


def timer(name: str) -> JobDef:
    return JobDef(identifier=name, agent_name=AGENT, job_name=name, kind=JobKind.QUARTZ)


def virtual(kind: JobKind, name: str, *, ignore_group: bool = False) -> JobDef:
    agent = VIRTUAL_AGENT_NAMES[kind]
    return JobDef(
        identifier=f"{agent}-{name}",
        agent_name=agent,
        job_name=name,
        kind=kind,
        ignore_environment_group=ignore_group,
    )


def AND(*ops: Operand) -> Grouping:
    return Grouping(all_of=ops)


def OR(*ops: Operand) -> Grouping:
    return Grouping(any_of=ops)


def G(
    and_: Sequence[Operand] = (),
    or_: Sequence[Operand] = (),
    not_: Sequence[Operand] = (),
    nested: Grouping | None = None,
) -> Grouping:
    return Grouping(tuple(and_), tuple(or_), tuple(not_), nested)


def ctx(
    name: str,
    jobs: Sequence[str] = (),
    deps: Mapping[str, Grouping | None] | None = None,
    contexts: Sequence[ContextSpec] = (),
    params: Mapping[str, str] | None = None,
    locks: Sequence[LockDef] = (),
) -> ContextSpec:
    return ContextSpec(
        name=name,
        jobs=tuple(jobs),
        dependencies=tuple(Dependency(t, g) for t, g in (deps or {}).items()),
        contexts=tuple(contexts),
        parameters=tuple(Parameter(k, v) for k, v in (params or {}).items()),
        locks=tuple(locks),
    )


def lock(
    name: str,
    capacity: int,
    *members: tuple[str, str] | tuple[str, str, int],
    exclusive: bool = False,
) -> LockDef:
    parts = tuple(LockParticipant(m[0], m[1], m[2] if len(m) == 3 else 1) for m in members)
    return LockDef(name, capacity, parts, exclusive)


def build(root: ContextSpec, jobs: Iterable[JobDef], **flags: object) -> Plan:
    return compile_plan(root, jobs, flags=PlanFlags(**flags))  # type: ignore[arg-type]


_ids = itertools.count(1)


def ev(
    job: str,
    *,
    ok: bool = True,
    starting: bool = False,
    children: Sequence[str] = (),
    agent: str = AGENT,
    **kw: object,
) -> ProcessEvent:
    """A process event for a command/timer job named `job` (identifier = name)."""
    return ProcessEvent(
        id=f"e{next(_ids)}",
        agent_name=agent,
        job_name=job,
        job_identifier=job,
        child_context_names=tuple(children),
        successful=ok and not starting,
        job_starting=starting,
        **kw,  # type: ignore[arg-type]
    )


def raised(effects: Iterable[Effect]) -> list[RaiseInitiation]:
    return [e for e in effects if isinstance(e, RaiseInitiation)]


def raised_ids(effects: Iterable[Effect]) -> list[str]:
    return [e.job_identifier for e in raised(effects)]


@dataclass
class Run:
    """One instance driven step by step, keeping every effect."""

    plan: Plan
    instance_id: str = "i1"
    parameters: tuple[tuple[str, str], ...] = ()
    machine: ContextMachine = field(init=False)
    state: InstanceState = field(init=False)
    log: list[Effect] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.machine = ContextMachine(self.plan)
        self.state = self.machine.new_instance(self.instance_id, parameters=self.parameters)

    def __call__(self, item: Input) -> tuple[Effect, ...]:
        before = self.state
        self.state, effects = self.machine.apply(self.state, item)
        assert before is not self.state
        self.log.extend(effects)
        return effects

    def status(self, job: str, child: str) -> Status:
        return self.state.job(job, child).status

    def ctx(self, name: str) -> Status:
        return self.state.contexts[name]

    def contexts(self) -> dict[str, Status]:
        return dict(self.state.contexts)

    def finish(self, job: str, *, ok: bool = True, **kw: object) -> tuple[Effect, ...]:
        """Agent answers for a job: starting then done."""
        out = list(self(ev(job, starting=True, **kw)))  # type: ignore[arg-type]
        out.extend(self(ev(job, ok=ok, **kw)))  # type: ignore[arg-type]
        return tuple(out)


@dataclass
class World:
    """Several instances plus the coordinator, wired as the orchestrator would wire them."""

    coordinator: Coordinator = field(default_factory=Coordinator)
    cstate: CoordinatorState = field(default_factory=Coordinator.empty)
    runs: dict[str, Run] = field(default_factory=dict)
    sent: list[tuple[str, RaiseInitiation]] = field(default_factory=list)

    def add(self, plan: Plan, instance_id: str) -> Run:
        run = Run(plan, instance_id)
        self.runs[instance_id] = run
        self.cstate, _ = self.coordinator.apply(
            self.cstate,
            RegisterInstance(
                LiveInstance(instance_id, plan.flags.environment_group, plan.global_job_names)
            ),
        )
        return run

    def send(self, instance_id: str, item: Input) -> None:
        queue: list[tuple[str, Input]] = [(instance_id, item)]
        while queue:
            target, inp = queue.pop(0)
            for effect in self.runs[target](inp):
                if isinstance(effect, RaiseInitiation):
                    self.sent.append((target, effect))
                elif isinstance(effect, (LockRequest, LockRelease, GlobalEvent)):
                    self.cstate, outs = self.coordinator.apply(self.cstate, effect)
                    for out in outs:
                        if isinstance(out, Delivery):
                            queue.append((out.instance_id, out.event))
                        elif isinstance(out, (LockGranted, LockQueued)):
                            queue.append((out.instance_id, out))

    def sent_jobs(self) -> list[tuple[str, str]]:
        return [(i, e.job_identifier) for i, e in self.sent]


# ---- plans several scenario modules share


def chain() -> Plan:
    return build(
        ctx("P", ["A", "B", "C"], {"A": None, "B": AND("A"), "C": AND("B")}),
        [cmd("A"), cmd("B"), cmd("C")],
    )


def nested() -> Plan:
    """R{A} > C1{A,B} > C11{B,D};  R > C2{A,E}.  B after A (C1), D after B (C11), E after A (C2)."""
    return build(
        ctx(
            "R",
            ["A"],
            {"A": None},
            contexts=[
                ctx(
                    "C1",
                    ["A", "B"],
                    {"B": AND("A")},
                    contexts=[ctx("C11", ["B", "D"], {"D": AND("B")})],
                ),
                ctx("C2", ["A", "E"], {"E": AND("A")}),
            ],
        ),
        [cmd("A"), cmd("B"), cmd("D"), cmd("E")],
    )
