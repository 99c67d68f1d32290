"""The compiled plan: small immutable records plus the indexes the machine needs.

A `Plan` is built once per plan version (`compile_plan`) and shared, read-only, by every
instance of that version. Nothing here does I/O or knows about protobuf.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ikasched_common.errors import InvalidArgument


class Status(StrEnum):
    """Ikasan's InstanceStatus, same names as the proto enum."""

    RUNNING = "RUNNING"
    SKIPPED_RUNNING = "SKIPPED_RUNNING"
    COMPLETE = "COMPLETE"
    SKIPPED_COMPLETE = "SKIPPED_COMPLETE"
    WAITING = "WAITING"
    ERROR = "ERROR"
    ERROR_ACKNOWLEDGED = "ERROR_ACKNOWLEDGED"
    KILLED = "KILLED"
    SKIPPED = "SKIPPED"
    ON_HOLD = "ON_HOLD"
    RELEASED = "RELEASED"
    ENDED = "ENDED"
    DISABLED = "DISABLED"
    LOCK_QUEUED = "LOCK_QUEUED"
    PREPARED = "PREPARED"


class JobKind(StrEnum):
    """The job type (the proto oneof)."""

    COMMAND = "COMMAND"
    QUARTZ = "QUARTZ"
    FILE = "FILE"
    GLOBAL = "GLOBAL"
    START = "START"
    TERMINAL = "TERMINAL"
    LOCAL = "LOCAL"
    BRIDGING = "BRIDGING"


# Agent-name constants of the virtual jobs (Ikasan's JobConstants).
GLOBAL_EVENT = "GLOBAL_EVENT"
CONTEXT_START_JOB = "CONTEXT_START_JOB"
CONTEXT_TERMINAL_JOB = "CONTEXT_TERMINAL_JOB"
LOCAL_EVENT_JOB = "LOCAL_EVENT_JOB"
BRIDGING_JOB = "BRIDGING_JOB"

VIRTUAL_AGENT_NAMES: Mapping[JobKind, str] = {
    JobKind.GLOBAL: GLOBAL_EVENT,
    JobKind.START: CONTEXT_START_JOB,
    JobKind.TERMINAL: CONTEXT_TERMINAL_JOB,
    JobKind.LOCAL: LOCAL_EVENT_JOB,
    JobKind.BRIDGING: BRIDGING_JOB,
}
# Virtual jobs the machine resolves itself (a global one goes through the coordinator).
LOCAL_VIRTUAL_KINDS = frozenset({JobKind.START, JobKind.TERMINAL, JobKind.LOCAL, JobKind.BRIDGING})
QUARTZ_BASED_KINDS = frozenset({JobKind.QUARTZ, JobKind.FILE})
# Jobs parked in heldJobs when their target is held (docs/semantics.md §4.1 step 3).
PARKABLE_KINDS = frozenset({JobKind.COMMAND, JobKind.LOCAL})

MANUAL_FIRE_GROUP = "group (manual fire)"


def default_identifier(agent_name: str, job_name: str) -> str:
    return f"{agent_name}-{job_name}"


@dataclass(frozen=True, slots=True)
class Parameter:
    """A context parameter or a parameter a job consumes."""

    name: str
    default_value: str = ""
    secret: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What a command job runs; carried through to the initiation unchanged."""

    command_line: str = ""
    working_directory: str = ""
    successful_return_codes: tuple[int, ...] = ()
    min_execution_time: int = 0
    max_execution_time: int = 0
    days_of_week_to_run: tuple[int, ...] = ()
    participates_in_lock: bool = False
    execution_environment_properties: str = ""
    timeout_seconds: int = 0
    retry_count: int = 0
    retry_delay_seconds: int = 0
    run_as_user: str = ""


@dataclass(frozen=True, slots=True)
class JobDef:
    """One job of the plan, whatever the number of child contexts it appears in."""

    identifier: str
    agent_name: str
    job_name: str
    kind: JobKind
    description: str = ""
    display_name: str = ""
    priority: int = 0
    owner: str = ""
    parameters: tuple[Parameter, ...] = ()
    repeatable: bool = False
    target_residing_context_only: bool = False
    held_contexts: frozenset[str] = frozenset()
    skipped_contexts: frozenset[str] = frozenset()
    command: CommandSpec | None = None
    ignore_environment_group: bool = False  # global jobs only


@dataclass(frozen=True, slots=True)
class Grouping:
    """One level of logic: (and || or) && !not, AND-ed with `nested`.

    Operands are job identifiers (str) or nested groupings evaluated by the base rule.
    """

    all_of: tuple[Operand, ...] = ()
    any_of: tuple[Operand, ...] = ()
    none_of: tuple[Operand, ...] = ()
    nested: Grouping | None = None

    def identifiers(self) -> Iterator[str]:
        for ops in (self.all_of, self.any_of, self.none_of):
            for op in ops:
                if isinstance(op, str):
                    yield op
                else:
                    yield from op.identifiers()
        if self.nested is not None:
            yield from self.nested.identifiers()


Operand = str | Grouping


@dataclass(frozen=True, slots=True)
class Dependency:
    """A target job and the logic that raises it; no grouping = a root job."""

    target: str
    grouping: Grouping | None
    mentions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LockParticipant:
    identifier: str
    child_context_name: str  # empty: the job in any child context
    weight: int = 1


@dataclass(frozen=True, slots=True)
class LockDef:
    name: str
    capacity: int
    participants: tuple[LockParticipant, ...] = ()
    exclusive: bool = False


@dataclass(frozen=True, slots=True)
class LockClaim:
    """What one job occurrence asks of one lock."""

    name: str
    capacity: int
    exclusive: bool
    weight: int


@dataclass(frozen=True, slots=True)
class ContextSpec:
    """The plan tree as written (input of `compile_plan`)."""

    name: str
    jobs: tuple[str, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    contexts: tuple[ContextSpec, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    locks: tuple[LockDef, ...] = ()


@dataclass(frozen=True, slots=True)
class ContextDef:
    """A compiled (child) context with its indexes."""

    name: str
    parent: str | None
    depth: int
    children: tuple[str, ...]
    jobs: tuple[str, ...]
    job_set: frozenset[str]
    dependencies: tuple[Dependency, ...]
    parameters: Mapping[str, str]
    # job identifier -> indexes into `dependencies` whose grouping mentions it
    mentioned_by: Mapping[str, tuple[int, ...]]
    # target identifier -> indexes of dependencies (with a grouping) raising it here
    raised_by: Mapping[str, tuple[int, ...]]
    # jobs referenced by no grouping here (Ikasan's getJobsOutsideLogicalGrouping)
    jobs_outside_logic: tuple[str, ...]
    # jobs that "transition from other contexts": listed here, raised by no dependency here,
    # and owned by another context; they count COMPLETE for allLogicSatisfied and are ignored
    # by the active/error flags
    external_jobs: frozenset[str]
    logic_dependencies: tuple[int, ...]
    # precomputed state keys: jobs counted by the status flags, jobs outside logic
    flag_keys: tuple[tuple[str, str], ...] = ()
    outside_keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PlanFlags:
    environment_group: str = ""
    quartz_jobs_disabled: bool = False
    end_upon_completion: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled plan version, shared by all its instances."""

    name: str
    version: str
    flags: PlanFlags
    root: str
    contexts: Mapping[str, ContextDef]
    order: tuple[str, ...]  # depth-first, root first
    bottom_up: tuple[str, ...]  # deepest first
    jobs: Mapping[str, JobDef]
    job_contexts: Mapping[str, tuple[str, ...]]  # identifier -> childContextNames
    by_agent_job: Mapping[tuple[str, str], str]
    locks: tuple[LockDef, ...]
    lock_claims: Mapping[tuple[str, str], tuple[LockClaim, ...]] = field(default_factory=dict)
    global_job_names: frozenset[str] = frozenset()
    # context -> itself, its parent, ... up to the root
    ancestry: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def context(self, name: str) -> ContextDef:
        return self.contexts[name]

    def ancestors(self, name: str) -> tuple[str, ...]:
        """The context itself, then its parent, up to the root."""
        return self.ancestry[name]

    def subtree(self, name: str) -> tuple[str, ...]:
        out = [name]
        for child in self.contexts[name].children:
            out.extend(self.subtree(child))
        return tuple(out)

    def resolve_identifier(self, job_identifier: str, agent_name: str, job_name: str) -> str | None:
        if job_identifier and job_identifier in self.jobs:
            return job_identifier
        return self.by_agent_job.get((agent_name, job_name))

    def claims_for(self, identifier: str, context: str) -> tuple[LockClaim, ...]:
        found = self.lock_claims.get((identifier, context))
        if found is not None:
            return found
        return self.lock_claims.get((identifier, ""), ())


def _walk(spec: ContextSpec) -> Iterator[tuple[ContextSpec, str | None, int]]:
    stack: list[tuple[ContextSpec, str | None, int]] = [(spec, None, 0)]
    while stack:
        cur, parent, depth = stack.pop()
        yield cur, parent, depth
        for child in reversed(cur.contexts):
            stack.append((child, cur.name, depth + 1))


def compile_plan(
    root: ContextSpec,
    jobs: Iterable[JobDef],
    *,
    version: str = "1",
    flags: PlanFlags | None = None,
) -> Plan:
    """Check references and precompute every index; raises InvalidArgument naming the field."""
    job_map: dict[str, JobDef] = {}
    for job in jobs:
        if job.identifier in job_map:
            raise InvalidArgument(f"job {job.identifier!r} is defined twice", field="jobs")
        job_map[job.identifier] = job
    walked = list(_walk(root))
    names = [c.name for c, _, _ in walked]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InvalidArgument(f"child context names must be unique: {dup}", field="contexts")
    job_contexts: dict[str, list[str]] = {}
    for spec, _, _ in walked:
        for ident in spec.jobs:
            if ident not in job_map:
                raise InvalidArgument(
                    f"context {spec.name!r} lists unknown job {ident!r}", field="scheduled_jobs"
                )
            job_contexts.setdefault(ident, []).append(spec.name)
    # A job's owner: the first context (depth-first) whose logic raises it, else the first
    # that lists it. Elsewhere, unless raised there too, it "transitions from other contexts".
    owners: dict[str, str] = {}
    for spec, _, _ in walked:
        for d in spec.dependencies:
            if d.grouping is not None:
                owners.setdefault(d.target, spec.name)
    for spec, _, _ in walked:
        for ident in spec.jobs:
            owners.setdefault(ident, spec.name)
    contexts: dict[str, ContextDef] = {}
    for spec, parent, depth in walked:
        job_set = frozenset(spec.jobs)
        deps = tuple(
            Dependency(
                d.target,
                d.grouping,
                frozenset(d.grouping.identifiers()) if d.grouping else frozenset(),
            )
            for d in spec.dependencies
        )
        mentioned: dict[str, list[int]] = {}
        raised: dict[str, list[int]] = {}
        operands: set[str] = set()
        for i, dep in enumerate(deps):
            if dep.target not in job_set:
                raise InvalidArgument(
                    f"dependency target {dep.target!r} is not a job of context {spec.name!r}",
                    field="job_dependencies",
                )
            for ident in dep.mentions:
                if ident not in job_set:
                    raise InvalidArgument(
                        f"grouping of {dep.target!r} in context {spec.name!r} names "
                        f"{ident!r}, which is not a job of that context",
                        field="job_dependencies",
                    )
                mentioned.setdefault(ident, []).append(i)
                operands.add(ident)
            if dep.grouping is not None:
                raised.setdefault(dep.target, []).append(i)
        external = frozenset(j for j in spec.jobs if j not in raised and owners[j] != spec.name)
        contexts[spec.name] = ContextDef(
            name=spec.name,
            parent=parent,
            depth=depth,
            children=tuple(c.name for c in spec.contexts),
            jobs=tuple(dict.fromkeys(spec.jobs)),
            job_set=job_set,
            dependencies=deps,
            parameters={p.name: p.default_value for p in spec.parameters},
            mentioned_by={k: tuple(v) for k, v in mentioned.items()},
            raised_by={k: tuple(v) for k, v in raised.items()},
            jobs_outside_logic=tuple(j for j in dict.fromkeys(spec.jobs) if j not in operands),
            external_jobs=external,
            logic_dependencies=tuple(i for i, d in enumerate(deps) if d.grouping is not None),
            flag_keys=tuple((j, spec.name) for j in dict.fromkeys(spec.jobs) if j not in external),
            outside_keys=tuple(
                (j, spec.name) for j in dict.fromkeys(spec.jobs) if j not in operands
            ),
        )
    locks = tuple(lock for spec, _, _ in walked for lock in spec.locks)
    claims: dict[tuple[str, str], list[LockClaim]] = {}
    for lock in locks:
        for p in lock.participants:
            if p.identifier not in job_map:
                raise InvalidArgument(
                    f"lock {lock.name!r} names unknown job {p.identifier!r}", field="job_locks"
                )
            claims.setdefault((p.identifier, p.child_context_name), []).append(
                LockClaim(lock.name, max(lock.capacity, 1), lock.exclusive, max(p.weight, 1))
            )
    order = tuple(names)
    bottom_up = tuple(sorted(order, key=lambda n: -contexts[n].depth))
    by_agent_job = {(j.agent_name, j.job_name): j.identifier for j in job_map.values()}
    ancestry: dict[str, tuple[str, ...]] = {}
    for name in order:
        parent = contexts[name].parent
        ancestry[name] = (name, *(ancestry[parent] if parent is not None else ()))
    return Plan(
        name=root.name,
        version=version,
        flags=flags or PlanFlags(),
        root=root.name,
        contexts=contexts,
        order=order,
        bottom_up=bottom_up,
        jobs=job_map,
        job_contexts={k: tuple(v) for k, v in job_contexts.items()},
        by_agent_job=by_agent_job,
        locks=locks,
        lock_claims={k: tuple(v) for k, v in claims.items()},
        global_job_names=frozenset(
            j.job_name for j in job_map.values() if j.kind is JobKind.GLOBAL
        ),
        ancestry=ancestry,
    )
