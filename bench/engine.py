"""Pure ContextMachine throughput: events/s over many instances, beside a dict-update floor.

    python bench/engine.py [--quick] [--instances N]

Each instance runs a 50-command-job plan (5 child contexts of 10 jobs with and/or logic, plus a
timer that starts them) to completion: 1 tick + a starting and a completion event per job. The
event sequence is made once (an agent answering every initiation) and replayed, interleaved
round-robin across all instances as a busy dashboard would see them. The floor is the same
number of events applied as plain `dict[key] = status` updates on one dict per instance.
docs/architecture.md §8 target: >= 30,000 events/s.
"""

from __future__ import annotations

import argparse
import gc
import time

from ikasched_dashboard.engine.effects import RaiseInitiation
from ikasched_dashboard.engine.inputs import ProcessEvent
from ikasched_dashboard.engine.machine import ContextMachine
from ikasched_dashboard.engine.model import (
    CommandSpec,
    ContextSpec,
    Dependency,
    Grouping,
    JobDef,
    JobKind,
    Plan,
    Status,
    compile_plan,
)
from ikasched_dashboard.engine.state import InstanceState

TARGET = 30_000
GC_THRESHOLDS = (50_000, 20, 100)


def bench_plan(children: int = 5, per_child: int = 10) -> Plan:
    jobs = [JobDef("tick", "agent", "tick", JobKind.QUARTZ)]
    specs: list[ContextSpec] = []
    for c in range(children):
        names = [f"c{c}j{j}" for j in range(per_child)]
        deps = [Dependency(names[0], Grouping(all_of=("tick",)))]
        for j in range(1, per_child):
            if j % 3 == 0 and j >= 2:
                grouping = Grouping(all_of=(names[j - 1], names[j - 2]))
            elif j % 3 == 1:
                grouping = Grouping(any_of=(names[j - 1],))
            else:
                grouping = Grouping(all_of=(names[j - 1],))
            deps.append(Dependency(names[j], grouping))
        jobs += [
            JobDef(n, "agent", n, JobKind.COMMAND, command=CommandSpec(command_line="true"))
            for n in names
        ]
        specs.append(ContextSpec(f"C{c}", ("tick", *names), tuple(deps)))
    root = ContextSpec("R", ("tick",), (Dependency("tick", None),), tuple(specs))
    return compile_plan(root, jobs)


def event_sequence(machine: ContextMachine) -> list[ProcessEvent]:
    """One instance's events, answering initiations in the order they were raised."""
    state = machine.new_instance("probe")
    out: list[ProcessEvent] = []
    todo = [ProcessEvent("tick-1", "agent", "tick", "tick", successful=True)]
    n = 0
    while todo:
        ev = todo.pop(0)
        out.append(ev)
        state, effects = machine.apply(state, ev)
        for e in effects:
            if isinstance(e, RaiseInitiation):
                n += 1
                common = dict(
                    agent_name=e.agent_name,
                    job_name=e.job_name,
                    job_identifier=e.job_identifier,
                    child_context_names=e.child_context_names,
                )
                todo.append(ProcessEvent(f"s{n}", job_starting=True, **common))  # type: ignore[arg-type]
                todo.append(ProcessEvent(f"d{n}", successful=True, **common))  # type: ignore[arg-type]
    if state.status is not Status.COMPLETE:
        raise SystemExit(f"bench plan did not complete: {state.status}")
    return out


def run_machine(
    machine: ContextMachine, instances: int, events: list[ProcessEvent]
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for every event of every instance."""
    states: list[InstanceState] = [machine.new_instance(f"i{i}") for i in range(instances)]
    apply = machine.apply
    start, cpu = time.perf_counter(), time.process_time()
    for ev in events:
        for i in range(instances):
            states[i] = apply(states[i], ev)[0]
    elapsed, cpu_elapsed = time.perf_counter() - start, time.process_time() - cpu
    if any(s.status is not Status.COMPLETE for s in states):
        raise SystemExit("an instance did not complete")
    return elapsed, cpu_elapsed


def run_floor(plan: Plan, instances: int, events: list[ProcessEvent]) -> float:
    keys = [(j, c) for c in plan.order for j in plan.contexts[c].jobs]
    states = [dict.fromkeys(keys, "WAITING") for _ in range(instances)]
    first_ctx = {j: c for j, c in reversed(keys)}
    start = time.perf_counter()
    for ev in events:
        key = (ev.job_identifier, first_ctx[ev.job_identifier])
        value = "RUNNING" if ev.job_starting else "COMPLETE"
        for i in range(instances):
            states[i][key] = value
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 instances instead of 1,000")
    parser.add_argument("--instances", type=int, default=0)
    args = parser.parse_args()
    instances = args.instances or (100 if args.quick else 1000)
    plan = bench_plan()
    machine = ContextMachine(plan)
    events = event_sequence(machine)
    total = len(events) * instances
    # as the dashboard runs (docs/architecture.md §8): start-up objects frozen, young-generation GC
    # tuned
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    machine_s, machine_cpu = min(
        run_machine(machine, instances, events) for _ in range(2 if args.quick else 1)
    )
    floor_s = min(run_floor(plan, instances, events) for _ in range(3))
    machine_rate = total / machine_s
    floor_rate = total / floor_s
    print(f"plan: {len(plan.jobs) - 1} command jobs in {len(plan.order) - 1} child contexts; "
          f"{len(events)} events per instance; {instances} instances; {total} events")  # fmt: skip
    print(f"context machine : {machine_rate:>12,.0f} events/s  ({machine_s:.2f} s wall, "
          f"{total / machine_cpu:,.0f} events/s by this process's CPU time)")  # fmt: skip
    print(f"dict-update floor: {floor_rate:>12,.0f} events/s  ({floor_s:.3f} s)")
    print(f"machine / floor : {machine_rate / floor_rate:.3f}   (gc thresholds {GC_THRESHOLDS})")
    verdict = "meets" if machine_rate >= TARGET else "MISSES"
    print(f"target >= {TARGET:,} events/s: {verdict}")


if __name__ == "__main__":
    main()
