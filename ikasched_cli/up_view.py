"""The live view of `ikasched up` on a terminal: plans, then the live instances (hello first)
with their jobs in dependency order, cut to fit the window; drawn with rich.live on the
alternate screen, so redraws replace each other instead of filling the scrollback."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ikasched_cli.client import Client

_STYLES = {
    "COMPLETE": "green",
    "SKIPPED_COMPLETE": "green",
    "RUNNING": "cyan",
    "SKIPPED_RUNNING": "cyan",
    "ERROR": "red",
    "KILLED": "red",
    "ERROR_ACKNOWLEDGED": "yellow",
    "ON_HOLD": "yellow",
    "LOCK_QUEUED": "yellow",
    "WAITING": "dim",
    "SKIPPED": "dim",
    "DISABLED": "dim",
    "ENDED": "magenta",
}


def status_cell(status: str) -> Text:
    return Text(status, style=_STYLES.get(status, ""))


def dependency_order(plan: Any, identifiers: Sequence[str]) -> list[str]:
    """`identifiers` with every job after the jobs its logic names, directly or through jobs
    not listed (context start and terminal jobs); stable otherwise, a cycle keeps its order."""
    from ikasched_cli.graph import build_graph

    edges = [e for e in build_graph(plan).edges if e.source != e.target]
    nodes = list(
        dict.fromkeys([*identifiers, *(e.source for e in edges), *(e.target for e in edges)])
    )
    before: dict[str, set[str]] = {n: set() for n in nodes}
    for edge in edges:
        before[edge.target].add(edge.source)
    placed: list[str] = []
    done: set[str] = set()
    pending = nodes
    while pending:
        ready = [n for n in pending if before[n] <= done] or pending[:1]
        for node in ready:
            placed.append(node)
            done.add(node)
        pending = [n for n in pending if n not in done]
    wanted = set(identifiers)
    return [n for n in placed if n in wanted]


class ViewSource:
    """What the view shows, read from the dashboard (plans cached by name and version)."""

    def __init__(self, client: Client) -> None:
        from ikasched.v1 import instance_service_pb2_grpc, plan_service_pb2_grpc

        self.client = client
        self._plans = client.stub(plan_service_pb2_grpc.PlanServiceStub)
        self._instances = client.stub(instance_service_pb2_grpc.InstanceServiceStub)
        self._plan_cache: dict[tuple[str, int], Any] = {}

    def plans(self) -> list[Any]:
        from ikasched.v1 import common_pb2, plan_service_pb2

        return list(
            self.client.call(
                self._plans.ListPlans,
                plan_service_pb2.ListPlansRequest(page=common_pb2.PageRequest(page_size=50)),
            ).plans
        )

    def live(self, first: str) -> list[Any]:
        from ikasched.v1 import common_pb2, instance_service_pb2

        found = list(
            self.client.call(
                self._instances.ListInstances,
                instance_service_pb2.ListInstancesRequest(
                    page=common_pb2.PageRequest(page_size=50)
                ),
            ).instances
        )
        found.sort(key=lambda i: (i.id != first, -i.created_date_time))
        return found

    def instance(self, iid: str) -> Any:
        from ikasched.v1 import instance_service_pb2

        return self.client.call(
            self._instances.GetInstance,
            instance_service_pb2.GetInstanceRequest(context_instance_id=iid),
        )

    def plan(self, name: str, version: int) -> Any:
        from ikasched.v1 import plan_service_pb2

        key = (name, version)
        if key not in self._plan_cache:
            self._plan_cache[key] = self.client.call(
                self._plans.GetPlan, plan_service_pb2.GetPlanRequest(name=name, version=version)
            ).plan
        return self._plan_cache[key]


def _table(*headers: str) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ellipsis")
    return table


def render_view(source: ViewSource, hello_id: str, footer: str, height: int) -> RenderableType:
    """The screen, at most `height` lines: title, plans, as many jobs of the live instances as
    fit (the rest counted), and the footer."""
    from ikasched_cli import output
    from ikasched_cli.commands_instance import status_name

    title = Text(f"ikasched up  {time.strftime('%H:%M:%S')}", style="bold")
    footer_block = [Text(""), Text(footer, style="dim")]
    # title, footer (with its blank line), and one line kept for "... more instances"
    room = height - 1 - (footer.count("\n") + 2) - 1
    blocks: list[RenderableType] = [title]
    plans = source.plans()
    shown = plans[: max(1, min(len(plans), room // 3 - 2))]
    plan_table = _table("PLAN", "VERSION", "ENABLED", "LIVE", "NEXT FIRE")
    for p in shown:
        plan_table.add_row(
            p.name,
            str(p.version),
            "yes" if p.enabled else "no",
            str(p.live_instances),
            output.time_text(p.next_fire_time),
        )
    blocks += [Text(""), plan_table]
    room -= 2 + len(shown)  # blank line, header, rows
    if len(plans) > len(shown):
        blocks.append(Text(f"... {len(plans) - len(shown)} more plan(s)", style="dim"))
        room -= 1
    live = source.live(hello_id)
    for n, brief in enumerate(live):
        if room < 5:  # blank, heading, header, a job, "... more jobs"
            blocks.append(
                Text(f"... {len(live) - n} more live instance(s): ikasched instance list")
            )
            break
        inst = source.instance(brief.id)
        order = dependency_order(
            source.plan(inst.context_name, inst.plan_version), [j.identifier for j in inst.jobs]
        )
        rank = {ident: i for i, ident in enumerate(order)}
        jobs = sorted(inst.jobs, key=lambda j: rank.get(j.identifier, len(rank)))
        head = Text(f"{inst.context_name} {inst.id}  ")
        head.append_text(status_cell(status_name(inst.status)))
        room -= 3  # blank line, heading, table header
        fit = jobs if len(jobs) <= room else jobs[: room - 1]
        job_table = _table("JOB", "CONTEXT", "STATUS")
        for j in fit:
            job_table.add_row(
                j.identifier, j.child_context_name or "-", status_cell(status_name(j.status))
            )
        blocks += [Text(""), head, job_table]
        room -= len(fit)
        if len(fit) < len(jobs):
            blocks.append(Text(f"  ... {len(jobs) - len(fit)} more job(s)", style="dim"))
            room -= 1
    return Group(*blocks, *footer_block)


class LiveView:
    """rich.live on the alternate screen; `draw` redraws in place to the terminal's size."""

    def __init__(self, client: Client, hello_id: str, footer: str) -> None:
        from rich.live import Live

        self.console = Console()
        self._source = ViewSource(client)
        self._hello, self._footer = hello_id, footer
        self._live = Live(
            Text(""),
            console=self.console,
            screen=True,
            auto_refresh=False,
            vertical_overflow="crop",
        )

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def draw(self) -> None:
        height = self.console.size.height
        self._live.update(
            render_view(self._source, self._hello, self._footer, height), refresh=True
        )
