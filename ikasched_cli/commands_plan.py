"""`ikasched plan ...`: apply, validate, get, list, export, delete, enable, disable, graph,
next-fires."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import FAILED, USAGE, Client, CliError, connect


def _plans_stub(client: Client) -> Any:
    from ikasched.v1 import plan_service_pb2_grpc

    return client.stub(plan_service_pb2_grpc.PlanServiceStub)


def load_files(paths: list[str]) -> list[tuple[str, Any]]:
    """Every plan of the given files and directories; all problems at once as CliError."""
    from ikasched_dashboard.plans.loader import (
        LoadProblem,
        PlanLoadError,
        load_plan_dir,
        load_plan_file,
    )

    plans: list[tuple[str, Any]] = []
    problems: list[LoadProblem] = []
    for raw in paths:
        path = Path(raw)
        try:
            if path.is_dir():
                plans.extend((p.source, p.plan) for p in load_plan_dir(path))
            elif path.exists():
                plans.append((str(path), load_plan_file(path)))
            else:
                problems.append(LoadProblem("", "no such file or directory", str(path)))
        except PlanLoadError as exc:
            problems.extend(exc.problems)
    if problems:
        for problem in problems:
            print(f"ikasched: {problem}", file=sys.stderr)
        raise CliError(
            f"{len(problems)} problem(s) in plan files; nothing was applied"
            if len(problems) > 1
            else "plan file has a problem; nothing was applied"
        )
    if not plans:
        raise CliError("no plan files found (.yaml, .yml or .json)", USAGE)
    return plans


def validate(args: argparse.Namespace) -> int:
    """Every file of every -f (a directory: each plan file under it) is checked and reported,
    broken ones included; non-zero if any has an error."""
    from ikasched_dashboard.plans.loader import PlanLoadError, load_plan_file, plan_files
    from ikasched_dashboard.plans.validation import Severity, validate_plan

    rows: list[dict[str, str]] = []

    def problem(file: str, path: str, message: str, severity: str = "ERROR") -> None:
        rows.append({"file": file, "path": path, "severity": severity, "message": message})

    owner: dict[str, str] = {}
    for raw in args.file:
        path = Path(raw)
        if path.is_dir():
            files = plan_files(path)
            if not files:
                problem(str(path), "", "no plan files (.yaml, .yml or .json) in this directory")
        elif path.exists():
            files = [path]
        else:
            problem(str(path), "", "no such file or directory")
            continue
        for file in files:
            source = str(file)
            try:
                plan = load_plan_file(file)
            except PlanLoadError as exc:
                for p in exc.problems:
                    problem(p.source or source, p.path, p.message)
                continue
            if plan.name in owner:
                problem(
                    source, "name", f"plan name {plan.name!r} is also used by {owner[plan.name]}"
                )
                continue
            owner[plan.name] = source
            for found in validate_plan(plan):
                problem(source, found.path, found.message, found.severity.name)
            if not any(r["file"] == source for r in rows):
                problem(source, "", f"plan {plan.name!r} is valid", "OK")
    errors = sum(1 for r in rows if r["severity"] == Severity.ERROR.name)
    human = "\n".join(
        f"{r['file']}: {r['path'] + ': ' if r['path'] else ''}{r['severity'].lower()}: "
        f"{r['message']}"
        if r["severity"] != "OK"
        else f"{r['file']}: {r['message']}"
        for r in rows
    )
    output.emit(args.output, {"valid": errors == 0, "problems": rows}, human)
    return FAILED if errors else 0


def apply(args: argparse.Namespace) -> int:
    from ikasched.v1 import plan_service_pb2

    plans = load_files(args.file)
    client = connect(args)
    stub = _plans_stub(client)
    results = []
    for source, plan in plans:
        response = client.call(
            stub.ProvisionPlan,
            plan_service_pb2.ProvisionPlanRequest(plan=plan, dry_run=args.dry_run),
        )
        results.append((source, response))
    data = [
        {
            "file": s,
            "name": r.plan.name,
            "version": r.plan.version,
            "created": r.created,
            "unchanged": r.unchanged,
            "changes": list(r.changes),
            "warnings": [f"{w.path}: {w.message}" for w in r.warnings],
        }
        for s, r in results
    ]
    lines = []
    for source, r in results:
        verb = "unchanged" if r.unchanged else "created" if r.created else "updated"
        if args.dry_run and not r.unchanged:
            verb = f"would be {verb}"
        lines.append(f"plan {r.plan.name} {verb} (version {r.plan.version}) from {source}")
        for change in r.changes:
            mark = change[:1] if change[:1] in "+-~" else "~"
            text = change[1:].lstrip() if change[:1] in "+-~" else change
            lines.append(f"  {mark} {text}")
        for warning in r.warnings:
            lines.append(f"  ! warning: {warning.path}: {warning.message}")
    output.emit(args.output, data, "\n".join(lines))
    return 0


def _summary_row(p: Any) -> list[str]:
    return [
        p.name,
        str(p.version),
        "yes" if p.enabled else "no",
        str(p.job_count),
        str(p.live_instances),
        p.time_window_start or "-",
        p.timezone or "-",
        output.time_text(p.next_fire_time),
    ]


_SUMMARY_HEADERS = ["NAME", "VERSION", "ENABLED", "JOBS", "LIVE", "WINDOW", "TIMEZONE", "NEXT FIRE"]


def list_plans(args: argparse.Namespace) -> int:
    from ikasched.v1 import common_pb2, plan_service_pb2

    client = connect(args)
    stub = _plans_stub(client)
    plans: list[Any] = []
    token = ""
    while True:
        response = client.call(
            stub.ListPlans,
            plan_service_pb2.ListPlansRequest(
                name_contains=args.name_contains,
                page=common_pb2.PageRequest(page_size=500, page_token=token),
            ),
        )
        plans.extend(response.plans)
        token = response.next_page_token
        if not token:
            break
    text = output.table([_summary_row(p) for p in plans], _SUMMARY_HEADERS)
    for p in plans:
        if p.load_error:
            text += f"\nplan {p.name} is quarantined: {p.load_error}"
    output.emit(args.output, [output.message_dict(p) for p in plans], text)
    return 0


def _get_plan(client: Client, name: str, version: int = 0) -> Any:
    from ikasched.v1 import plan_service_pb2

    return client.call(
        _plans_stub(client).GetPlan, plan_service_pb2.GetPlanRequest(name=name, version=version)
    )


def get(args: argparse.Namespace) -> int:
    client = connect(args)
    response = _get_plan(client, args.name, args.plan_version)
    s = response.summary
    human = output.kv_block(
        {
            "name": s.name,
            "version": str(s.version),
            "enabled": "yes" if s.enabled else "no",
            "description": s.description or "-",
            "owner": s.owner or "-",
            "window": s.time_window_start or "-",
            "timezone": s.timezone or "-",
            "next fire": output.time_text(s.next_fire_time),
            "jobs": str(s.job_count),
            "live instances": str(s.live_instances),
            "agents": ", ".join(s.agent_names) or "-",
            "updated": f"{output.time_text(s.updated_time)} by {s.updated_by or '-'}",
        }
    )
    output.emit(args.output, output.message_dict(response), human)
    return 0


def export(args: argparse.Namespace) -> int:
    if args.format == "ikasan":
        from ikasched_cli.commands_ikasan import export_ikasan

        return export_ikasan(args)
    if args.out:
        raise CliError("--out writes an Ikasan bundle: use it with --format ikasan", USAGE)
    from ikasched.v1 import plan_service_pb2

    client = connect(args)
    fmt = plan_service_pb2.JSON if args.format == "json" else plan_service_pb2.YAML
    response = client.call(
        _plans_stub(client).ExportPlan,
        plan_service_pb2.ExportPlanRequest(name=args.name, version=args.plan_version, format=fmt),
    )
    sys.stdout.write(response.text if response.text.endswith("\n") else response.text + "\n")
    return 0


def delete(args: argparse.Namespace) -> int:
    from ikasched.v1 import plan_service_pb2

    client = connect(args)
    response = client.call(
        _plans_stub(client).DeletePlan,
        plan_service_pb2.DeletePlanRequest(name=args.name, force=args.force),
    )
    output.emit(
        args.output,
        {"name": args.name, "ended_instances": response.ended_instances},
        f"plan {args.name} deleted ({response.ended_instances} instance(s) ended)",
    )
    return 0


def _toggle(args: argparse.Namespace, enable: bool) -> int:
    from ikasched.v1 import plan_service_pb2

    client = connect(args)
    stub = _plans_stub(client)
    if enable:
        summary = client.call(stub.EnablePlan, plan_service_pb2.EnablePlanRequest(name=args.name))
    else:
        summary = client.call(stub.DisablePlan, plan_service_pb2.DisablePlanRequest(name=args.name))
    output.emit(
        args.output,
        output.message_dict(summary),
        f"plan {summary.name} {'enabled' if summary.enabled else 'disabled'}",
    )
    return 0


def enable(args: argparse.Namespace) -> int:
    return _toggle(args, True)


def disable(args: argparse.Namespace) -> int:
    return _toggle(args, False)


def graph(args: argparse.Namespace) -> int:
    from ikasched_cli.graph import build_graph, to_dot, to_mermaid

    if args.file:
        plans = load_files([args.file])
        plan = plans[0][1]
    elif args.name:
        plan = _get_plan(connect(args), args.name).plan
    else:
        raise CliError("name a plan or pass -f FILE", USAGE)
    built = build_graph(plan)
    print(to_mermaid(built) if args.format == "mermaid" else to_dot(built))
    return 0


def next_fires(args: argparse.Namespace) -> int:
    if args.count <= 0:
        raise CliError("--count must be positive", USAGE)
    if args.cron:
        from ikasched_common import clock
        from ikasched_common.quartz import CronTrigger

        trigger = CronTrigger(args.cron, args.tz)
        at = clock.now()
        times: list[dt.datetime] = []
        while len(times) < args.count:
            fire = trigger.next_fire_time(at)
            if fire is None:
                break
            times.append(fire)
            at = fire
        zone = trigger.tz
        texts = [t.astimezone(zone).isoformat() for t in times]
        output.emit(
            args.output,
            {"timezone": trigger.timezone, "fire_times": texts},
            "\n".join(texts) or "no further fire times",
        )
        return 0
    if not args.name:
        raise CliError("name a plan or pass --cron EXPR", USAGE)
    from ikasched.v1 import plan_service_pb2

    client = connect(args)
    response = client.call(
        _plans_stub(client).GetNextFireTimes,
        plan_service_pb2.GetNextFireTimesRequest(
            plan_name=args.name, job_identifier=args.job, count=args.count
        ),
    )
    texts = list(response.fire_times_text) or [output.time_text(t) for t in response.fire_times]
    why = [f"{output.time_text(a.scheduled)} {a.reason}" for a in response.calendar_adjustments]
    data: dict[str, object] = {"timezone": response.timezone, "fire_times": texts}
    if why:
        data["calendar"] = why
    output.emit(
        args.output,
        data,
        "\n".join(texts + [f"  {w}" for w in why]) or "no further fire times",
    )
    return 0
