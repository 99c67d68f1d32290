"""What the agent knows between restarts: provisioned jobs, held instances, dry-run mode, and
the initiations it accepted but has not yet reported complete.

`Registry` is pure state: `apply(message)` takes one provisioning/instance/dry-run message and
answers what changed. `RegistryLog` persists it as a log of those same serialized
`DashboardMessage`s in a journal (replayed on load, compacted into a snapshot when the log
outgrows the state), so the records a restart reads are exactly the messages the dashboard sent.

`HeldInitiations` is the set of accepted initiations without a reported completion, one journal
item each; on restart they go to `Executor.recover` (docs/architecture.md §4.6).

No I/O except through the `Journal` handed in; callers decide which thread runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ikasched.v1 import agent_pb2, plan_pb2
from ikasched_agent.protocol import DashboardMessage, Initiation
from ikasched_common.journal import Journal, JournalItem

#: Message bodies that change the registry.
REGISTRY_BODIES = frozenset(
    {
        "provision_jobs",
        "remove_plan_jobs",
        "activate_instance",
        "remove_instance",
        "sync_instances",
        "set_dry_run_mode",
    }
)

#: How many abandoned sync ids the registry remembers (their late parts are ignored).
_DISCARDED_KEPT = 64

#: The log is rewritten as a snapshot once it holds this many more records than the state needs.
COMPACT_SLACK = 256


@dataclass(frozen=True, slots=True)
class ProvisionedPlan:
    """The jobs of one plan provisioned to this agent."""

    context_name: str
    plan_version: int
    timezone: str
    jobs: Mapping[str, plan_pb2.SchedulerJob]  # by job identifier

    def to_message(self) -> agent_pb2.ProvisionJobs:
        return agent_pb2.ProvisionJobs(
            context_name=self.context_name,
            plan_version=self.plan_version,
            timezone=self.timezone,
            jobs=list(self.jobs.values()),
        )


@dataclass(frozen=True, slots=True)
class DryRunMode:
    """Agent-wide and per-job simulation (per-job wins over agent-wide)."""

    agent_wide: bool = False
    per_job: Mapping[str, bool] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    def applies_to(self, job_name: str) -> bool:
        return self.per_job.get(job_name, self.agent_wide)

    def to_message(self) -> agent_pb2.SetDryRunMode:
        return agent_pb2.SetDryRunMode(
            dry_run_mode=self.agent_wide,
            job_dry_run=dict(self.per_job),
            dry_run_file_list=list(self.files),
        )


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """What one applied message changed (for the trigger host and running jobs)."""

    kind: str
    plans_changed: tuple[str, ...] = ()
    plans_removed: tuple[str, ...] = ()
    instances_added: tuple[str, ...] = ()
    instances_removed: tuple[str, ...] = ()
    #: One part of a sync in parts that is not complete yet: nothing changed so far.
    partial: bool = False
    #: The whole message a completed sync in parts stands for (its parts' contents together).
    assembled: DashboardMessage | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an initiation is not run here (reported as a failed completion)."""

    reason: str


class Registry:
    """Provisioned plans, held instances and dry-run mode, in memory."""

    def __init__(self, agent_name: str) -> None:
        self.agent_name = agent_name
        self._plans: dict[str, ProvisionedPlan] = {}
        self._instances: dict[str, agent_pb2.ActivateInstance] = {}
        self._dry_run = DryRunMode()
        # syncs in parts not complete yet: key ("instances" or "plan:<name>") -> (sync id,
        # parts received by number)
        self._parts: dict[str, tuple[str, dict[int, DashboardMessage]]] = {}
        self._discarded: dict[str, None] = {}  # recent sync ids given up: late parts ignored

    # ---- reading -------------------------------------------------------------------------
    @property
    def plans(self) -> Mapping[str, ProvisionedPlan]:
        return self._plans

    @property
    def instances(self) -> Mapping[str, agent_pb2.ActivateInstance]:
        return self._instances

    @property
    def dry_run(self) -> DryRunMode:
        return self._dry_run

    def job(self, context_name: str, job_identifier: str) -> plan_pb2.SchedulerJob | None:
        plan = self._plans.get(context_name)
        return None if plan is None else plan.jobs.get(job_identifier)

    def check(self, initiation: Initiation) -> Refusal | None:
        """None when this agent may run the initiation; otherwise why not (Ikasan's DevNull
        route, made visible)."""
        if initiation.agent_name and initiation.agent_name != self.agent_name:
            return Refusal(
                f"initiation for agent {initiation.agent_name!r} reached agent {self.agent_name!r}"
            )
        job = self.job(initiation.context_name, initiation.job_identifier)
        if job is None:
            return Refusal(
                f"job {initiation.job_identifier!r} of plan {initiation.context_name!r} is not"
                f" provisioned to agent {self.agent_name!r}"
            )
        if job.WhichOneof("job_type") != "internal_event_driven_job":
            return Refusal(
                f"job {initiation.job_identifier!r} is a {job.WhichOneof('job_type')}, not a"
                " command job"
            )
        # An initiation for an instance this registry does not hold is still run: the
        # dashboard raised it for an instance it holds active, and the link is ordered (a
        # RemoveInstance would come after it). It carries the job, parameters and dry-run flag
        # it needs; refusing it would fail a job the dashboard considers due.
        instance = self._instances.get(initiation.context_instance_id)
        if (
            instance is not None
            and instance.job_identifiers
            and initiation.job_identifier not in instance.job_identifiers
        ):
            return Refusal(
                f"job {initiation.job_identifier!r} takes no part in instance"
                f" {initiation.context_instance_id!r} on agent {self.agent_name!r}"
            )
        return None

    def prepare(self, initiation: Initiation) -> Initiation:
        """The initiation as it will run: dry-run mode of the agent, job and instance applied."""
        instance = self._instances.get(initiation.context_instance_id)
        simulate = self._dry_run.applies_to(initiation.job_name) or (
            instance is not None and instance.dry_run
        )
        if not simulate or initiation.dry_run:
            return initiation
        out = Initiation()
        out.CopyFrom(initiation)
        out.dry_run = True
        if (
            not out.HasField("dry_run_parameters")
            and instance is not None
            and instance.HasField("dry_run_parameters")
        ):
            out.dry_run_parameters.CopyFrom(instance.dry_run_parameters)
        return out

    # ---- changing ------------------------------------------------------------------------
    def apply(self, message: DashboardMessage) -> RegistryChange:
        """Apply one registry message; idempotent (a replay leaves the same state)."""
        kind = message.WhichOneof("body") or ""
        whole = self._gather(kind, message)
        if whole is None:
            return RegistryChange(kind, partial=True)
        change = self._apply_whole(kind, whole)
        if whole is not message:
            return replace(change, assembled=whole)
        return change

    def _gather(self, kind: str, message: DashboardMessage) -> DashboardMessage | None:
        """`message` itself, or for a part of a sync in parts (docs/architecture.md §4.11)
        None until its last part arrived, then one message with every part's content. A part
        of another sync id starts over: the older sync was superseded before it completed."""
        if kind == "sync_instances":
            body: agent_pb2.SyncInstances | agent_pb2.ProvisionJobs = message.sync_instances
            key = "instances"
        elif kind == "provision_jobs":
            body = message.provision_jobs
            key = f"plan:{message.provision_jobs.context_name}"
        else:
            return message
        if body.parts <= 1 and not body.sync_id:
            return message
        if body.sync_id in self._discarded:
            return None
        got = self._parts.get(key)
        if got is None or got[0] != body.sync_id:
            if got is not None:
                self._discarded[got[0]] = None
                while len(self._discarded) > _DISCARDED_KEPT:
                    del self._discarded[next(iter(self._discarded))]
            got = (body.sync_id, {})
            self._parts[key] = got
        got[1][body.part] = message
        if len(got[1]) < body.parts:
            return None
        del self._parts[key]
        parts = [got[1][n] for n in sorted(got[1])]
        whole = DashboardMessage()
        whole.CopyFrom(parts[0])
        if kind == "sync_instances":
            del whole.sync_instances.instances[:]
            for part in parts:
                whole.sync_instances.instances.extend(part.sync_instances.instances)
        else:
            del whole.provision_jobs.jobs[:]
            for part in parts:
                whole.provision_jobs.jobs.extend(part.provision_jobs.jobs)
        return whole

    def _apply_whole(self, kind: str, message: DashboardMessage) -> RegistryChange:
        if kind == "provision_jobs":
            p = message.provision_jobs
            have = self._plans.get(p.context_name)
            if have is not None and p.plan_version and p.plan_version < have.plan_version:
                # a sync's provisioning read before a newer version was queued: keep the newer
                return RegistryChange(kind)
            self._plans[p.context_name] = ProvisionedPlan(
                p.context_name,
                p.plan_version,
                p.timezone,
                # identifier defaults to <agent_name>-<job_name>, as plans may leave it out
                {job.identifier or f"{job.agent_name}-{job.job_name}": job for job in p.jobs},
            )
            return RegistryChange(kind, plans_changed=(p.context_name,))
        if kind == "remove_plan_jobs":
            name = message.remove_plan_jobs.context_name
            gone = self._plans.pop(name, None)
            return RegistryChange(kind, plans_removed=(name,) if gone is not None else ())
        if kind == "activate_instance":
            a = message.activate_instance
            new = a.context_instance_id not in self._instances
            self._instances[a.context_instance_id] = a
            return RegistryChange(kind, instances_added=(a.context_instance_id,) if new else ())
        if kind == "remove_instance":
            iid = message.remove_instance.context_instance_id
            gone_instance = self._instances.pop(iid, None)
            return RegistryChange(
                kind, instances_removed=(iid,) if gone_instance is not None else ()
            )
        if kind == "sync_instances":
            wanted = {a.context_instance_id: a for a in message.sync_instances.instances}
            removed = tuple(i for i in self._instances if i not in wanted)
            added = tuple(i for i in wanted if i not in self._instances)
            self._instances = wanted
            return RegistryChange(kind, instances_added=added, instances_removed=removed)
        if kind == "set_dry_run_mode":
            d = message.set_dry_run_mode
            self._dry_run = DryRunMode(
                d.dry_run_mode, dict(d.job_dry_run), tuple(d.dry_run_file_list)
            )
            return RegistryChange(kind)
        raise ValueError(f"not a registry message: {kind or 'empty body'}")

    def snapshot(self) -> list[DashboardMessage]:
        """Messages that rebuild this state when applied to an empty registry."""
        out = [
            DashboardMessage(id=f"snapshot:plan:{name}", provision_jobs=plan.to_message())
            for name, plan in sorted(self._plans.items())
        ]
        out.append(
            DashboardMessage(
                id="snapshot:instances",
                sync_instances=agent_pb2.SyncInstances(instances=list(self._instances.values())),
            )
        )
        out.append(
            DashboardMessage(id="snapshot:dry_run", set_dry_run_mode=self._dry_run.to_message())
        )
        for _key, (_sync_id, parts) in sorted(self._parts.items()):
            out.extend(parts[n] for n in sorted(parts))  # a sync in parts still arriving
        return out


def all_items(journal: Journal, page: int = 1000) -> Iterator[JournalItem]:
    """Every item of a journal, oldest first."""
    after: int | None = None
    while True:
        items = journal.peek(page, after)
        if not items:
            return
        yield from items
        after = items[-1].key


class RegistryLog:
    """Persists a Registry as a log of registry messages in a journal (blocking calls)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    @property
    def journal(self) -> Journal:
        return self._journal

    def load(self, registry: Registry) -> int:
        """Replay the log into `registry`; returns how many records were read."""
        count = 0
        for item in all_items(self._journal):
            registry.apply(DashboardMessage.FromString(item.value))
            count += 1
        return count

    def record(self, messages: Sequence[DashboardMessage]) -> None:
        """Append applied messages (bodies only matter; ids are kept for tracing)."""
        if messages:
            self._journal.append([m.SerializeToString() for m in messages])

    def needs_compaction(self, live_records: int) -> bool:
        """True when the log holds far more records than a snapshot of `live_records`."""
        return len(self._journal) > live_records + COMPACT_SLACK

    def compact(self, snapshot: Sequence[DashboardMessage]) -> None:
        """Replace the log by `snapshot` (Registry.snapshot(), taken by the caller so the
        registry is read on its own thread). Append first, then remove: a crash in between
        only leaves a log that replays to the same state."""
        old = [item.key for item in all_items(self._journal)]
        self._journal.append([m.SerializeToString() for m in snapshot])
        self._journal.remove(old)


@dataclass(frozen=True, slots=True)
class HeldInitiation:
    """An accepted initiation without a reported completion."""

    key: int
    initiation: Initiation


class HeldInitiations:
    """Accepted initiations by id, one journal item each (blocking calls)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._by_id: dict[str, HeldInitiation] = {}

    @property
    def journal(self) -> Journal:
        return self._journal

    def load(self) -> list[Initiation]:
        """Read what the journal holds; a duplicate id (a crash between two writes) keeps the
        first item and drops the others."""
        self._by_id.clear()
        extra: list[int] = []
        for item in all_items(self._journal):
            init = Initiation.FromString(item.value)
            if init.id in self._by_id:
                extra.append(item.key)
            else:
                self._by_id[init.id] = HeldInitiation(item.key, init)
        if extra:
            self._journal.remove(extra)
        return [h.initiation for h in self._by_id.values()]

    def add(self, initiations: Iterable[Initiation]) -> list[Initiation]:
        """Hold these (ids already held are skipped); returns those newly held."""
        new: list[Initiation] = []
        seen: set[str] = set()
        for init in initiations:
            if init.id not in self._by_id and init.id not in seen:
                new.append(init)
                seen.add(init.id)
        if new:
            keys = self._journal.append([i.SerializeToString() for i in new])
            for key, init in zip(keys, new, strict=True):
                self._by_id[init.id] = HeldInitiation(key, init)
        return new

    def release(self, initiation_ids: Iterable[str]) -> int:
        """Forget these (their completion is in the outbox); returns how many were held."""
        keys = [h.key for i in initiation_ids if (h := self._by_id.pop(i, None)) is not None]
        if keys:
            self._journal.remove(keys)
        return len(keys)

    def get(self, initiation_id: str) -> Initiation | None:
        held = self._by_id.get(initiation_id)
        return None if held is None else held.initiation

    def of_instance(self, context_instance_id: str) -> list[str]:
        # a copy first: the journal thread may change the dict meanwhile
        held = tuple(self._by_id.values())
        return [
            h.initiation.id for h in held if h.initiation.context_instance_id == context_instance_id
        ]

    def __contains__(self, initiation_id: object) -> bool:
        return initiation_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)
