"""Instance-wide and agent verbs: dry run, parameters, cron jobs, lock queues, kill all,
missed runs, events that can run, rerun, and an agent's dry-run mode."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import USAGE, Client, CliError, connect
from ikasched_cli.commands_instance import (
    instances_stub,
    parse_params,
    resolve_instance,
    status_name,
)


def _jobs_stub(client: Client) -> Any:
    from ikasched.v1 import job_service_pb2_grpc

    return client.stub(job_service_pb2_grpc.JobServiceStub)


def _agents_stub(client: Client) -> Any:
    from ikasched.v1 import admin_service_pb2_grpc

    return client.stub(admin_service_pb2_grpc.AgentServiceStub)


def _show_instance(args: argparse.Namespace, found: Any, what: str) -> int:
    output.emit(
        args.output,
        output.message_dict(found),
        f"instance {found.id} of {found.context_name}: {what}",
    )
    return 0


def _show_jobs(args: argparse.Namespace, response: Any, what: str) -> int:
    rows = [
        [j.identifier, j.child_context_name or "-", status_name(j.status)] for j in response.jobs
    ]
    human = what
    if rows:
        human += "\n" + output.table(
            rows, ["JOB", "CONTEXT", "STATUS"], colour=output.use_colour(sys.stdout)
        )
    output.emit(args.output, output.message_dict(response), human)
    return 0


def _millis(value: float | None, flag: str) -> int:
    if value is None:
        return 0
    if value < 0:
        raise CliError(f"{flag}: expected seconds >= 0, got {value}", USAGE)
    return int(value * 1000)


def dry_run(args: argparse.Namespace) -> int:
    """`instance dry-run ID [--off] [--fixed S | --min S --max S] [--error | --error-percent P]`"""
    from ikasched.v1 import common_pb2, instance_service_pb2

    if not 0 <= args.error_percent <= 100:
        raise CliError(f"--error-percent: expected 0-100, got {args.error_percent}", USAGE)
    params = common_pb2.DryRunParameters(
        fixed_execution_time_millis=_millis(args.fixed, "--fixed"),
        min_execution_time_millis=_millis(args.min, "--min"),
        max_execution_time_millis=_millis(args.max, "--max"),
        job_error_percentage=args.error_percent,
        error=args.error,
    )
    client = connect(args)
    iid = resolve_instance(client, args.instance)
    found = client.call(
        instances_stub(client).SetDryRun,
        instance_service_pb2.SetDryRunRequest(
            context_instance_id=iid, dry_run=not args.off, dry_run_parameters=params
        ),
    )
    return _show_instance(args, found, "dry run " + ("off" if args.off else "on"))


def set_params(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2

    params = parse_params(args.param)
    if not params:
        raise CliError("give at least one --param NAME=VALUE", USAGE)
    client = connect(args)
    iid = resolve_instance(client, args.instance)
    found = client.call(
        instances_stub(client).UpdateContextParameters,
        instance_service_pb2.UpdateContextParametersRequest(
            context_instance_id=iid, context_parameters=params
        ),
    )
    shown = ", ".join(f"{p.name}={p.value}" for p in found.context_parameters)
    return _show_instance(args, found, f"parameters {shown}")


# instance verb -> (JobService method, what the answer says)
_INSTANCE_VERBS = {
    "disable-cron": ("DisableCronJobs", "cron and file jobs disabled"),
    "enable-cron": ("EnableCronJobs", "cron and file jobs enabled"),
    "release-queued": (
        "ReleaseQueuedJobs",
        "lock-queued jobs sent without their lock, held locks given back",
    ),
    "kill-running": ("KillRunningJobs", "running jobs killed"),
}


def instance_verb(args: argparse.Namespace) -> int:
    from ikasched.v1 import job_service_pb2

    method, what = _INSTANCE_VERBS[str(args.instance_command)]
    client = connect(args)
    iid = resolve_instance(client, args.instance)
    response = client.call(
        getattr(_jobs_stub(client), method),
        job_service_pb2.InstanceVerbRequest(context_instance_id=iid, comment=args.comment),
    )
    changed = len(response.jobs)
    return _show_jobs(args, response, f"instance {iid}: {what} ({changed} job(s) changed)")


def missed_runs(args: argparse.Namespace) -> int:
    from ikasched.v1 import common_pb2, instance_service_pb2

    client = connect(args)
    stub = instances_stub(client)
    found: list[Any] = []
    token = ""
    while True:
        response = client.call(
            stub.ListMissedRuns,
            instance_service_pb2.ListMissedRunsRequest(
                context_name=args.plan,
                page=common_pb2.PageRequest(page_size=500, page_token=token),
            ),
        )
        found.extend(response.missed_runs)
        token = response.next_page_token
        if not token:
            break
    rows = [
        [
            m.context_name,
            output.time_text(m.scheduled_time),
            output.time_text(m.detected_time),
            m.reason or "-",
        ]
        for m in found
    ]
    output.emit(
        args.output,
        [output.message_dict(m) for m in found],
        output.table(rows, ["PLAN", "SCHEDULED", "DETECTED", "REASON"]),
    )
    return 0


def can_run(args: argparse.Namespace) -> int:
    """Which initiations a successful event of the job would raise now (nothing changes)."""
    from ikasched.v1 import common_pb2, instance_service_pb2

    client = connect(args)
    iid = resolve_instance(client, args.instance)
    response = client.call(
        instances_stub(client).GetEventsThatCanRun,
        instance_service_pb2.GetEventsThatCanRunRequest(
            job=common_pb2.JobRef(
                context_instance_id=iid, job_identifier=args.job, child_context_name=args.child
            )
        ),
    )
    rows = [
        [i.job_identifier or f"{i.agent_name}-{i.job_name}", i.child_context_name or "-"]
        for i in response.initiations
    ]
    human = (
        output.table(rows, ["WOULD RAISE", "CONTEXT"])
        if rows
        else f"{args.job} would raise nothing now"
    )
    output.emit(args.output, output.message_dict(response), human)
    return 0


def rerun(args: argparse.Namespace) -> int:
    """Run a job again: reset it to WAITING (flags cleared), then run it now."""
    from ikasched.v1 import common_pb2, job_service_pb2

    params = parse_params(args.param)
    client = connect(args)
    iid = resolve_instance(client, args.instance)
    ref = common_pb2.JobRef(
        context_instance_id=iid, job_identifier=args.job, child_context_name=args.child
    )
    stub = _jobs_stub(client)
    client.call(stub.ResetJob, job_service_pb2.JobVerbRequest(job=ref, comment=args.comment))
    response = client.call(
        stub.RunJob,
        job_service_pb2.RunJobRequest(job=ref, context_parameters=params, comment=args.comment),
    )
    return _show_jobs(args, response, f"{args.job}: reset and run again")


def _job_modes(items: list[str]) -> dict[str, bool]:
    modes: dict[str, bool] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or value not in ("on", "off"):
            raise CliError(f"--job expects JOB=on or JOB=off, got {item!r}", USAGE)
        modes[name.strip()] = value == "on"
    return modes


def agent_dry_run(args: argparse.Namespace) -> int:
    """`agent dry-run NAME [--off] [--job JOB=on|off ...] [--file PATH ...]`"""
    from ikasched.v1 import admin_service_pb2, agent_pb2

    mode = agent_pb2.SetDryRunMode(
        dry_run_mode=not args.off,
        job_dry_run=_job_modes(args.job),
        dry_run_file_list=args.file,
    )
    client = connect(args)
    info = client.call(
        _agents_stub(client).SetAgentDryRunMode,
        admin_service_pb2.SetAgentDryRunModeRequest(agent_name=args.name, mode=mode),
    )
    jobs = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in sorted(mode.job_dry_run.items()))
    state = "on" if mode.dry_run_mode else "off"
    where = "sent" if info.connected else "queued until it connects"
    output.emit(
        args.output,
        output.message_dict(info),
        f"agent {info.agent_name}: dry run {state}"
        + (f"; jobs {jobs}" if jobs else "")
        + f" ({where})",
    )
    return 0


def agent_get(args: argparse.Namespace) -> int:
    from ikasched.v1 import admin_service_pb2

    client = connect(args)
    info = client.call(
        _agents_stub(client).GetAgent, admin_service_pb2.GetAgentRequest(agent_name=args.name)
    )
    human = output.kv_block(
        {
            "agent": info.agent_name,
            "connected": "yes" if info.connected else "no",
            "last seen": output.time_text(info.last_seen),
            "version": info.agent_version or "-",
            "host": info.agent_hostname or "-",
            "outbox": str(info.outbox_size),
            "running jobs": str(info.running_jobs),
            "queued jobs": str(info.queued_jobs),
            "plans": ", ".join(info.plan_names) or "-",
        }
    )
    output.emit(args.output, output.message_dict(info), human)
    return 0


def plan_check(args: argparse.Namespace) -> int:
    """Validate plan files on the dashboard (its rules, as `plan apply` would see them)."""
    from ikasched.v1 import plan_service_pb2
    from ikasched_cli.commands_plan import _plans_stub, load_files

    plans = load_files(args.file)
    client = connect(args)
    rows: list[dict[str, str]] = []
    errors = 0
    for source, plan in plans:
        response = client.call(
            _plans_stub(client).ValidatePlan, plan_service_pb2.ValidatePlanRequest(plan=plan)
        )
        errors += 0 if response.valid else 1
        for p in response.problems:
            rows.append({"file": source, **output.message_dict(p)})
        if response.valid and not response.problems:
            rows.append({"file": source, "message": f"plan {plan.name!r} is valid"})
    human = "\n".join(
        f"{r['file']}: "
        + (f"{r['path']}: " if r.get("path") else "")
        + (f"{str(r['severity']).lower()}: " if r.get("severity") else "")
        + str(r.get("message", ""))
        for r in rows
    )
    output.emit(args.output, {"valid": errors == 0, "problems": rows}, human)
    return 1 if errors else 0
