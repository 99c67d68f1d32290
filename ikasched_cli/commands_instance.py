"""`ikasched instance ...`: list, get, watch, create, end, reset, run-until-ended."""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import FAILED, UNREACHABLE, USAGE, Client, CliError, connect

ENDED_STATUSES = ("COMPLETE", "ERROR", "ENDED")
# Instance ids as the dashboard makes them (uuid4 hex)
_INSTANCE_ID = re.compile(r"[0-9a-f]{32}")


def instances_stub(client: Client) -> Any:
    from ikasched.v1 import instance_service_pb2_grpc

    return client.stub(instance_service_pb2_grpc.InstanceServiceStub)


def parse_params(items: list[str]) -> list[Any]:
    from ikasched.v1 import common_pb2

    params = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--param expects NAME=VALUE, got {item!r}", USAGE)
        params.append(common_pb2.ContextParameterInstance(name=name.strip(), value=value))
    return params


def resolve_instance(client: Client, text: str) -> str:
    """An instance id as given, or the newest instance of the plan named `text`: its newest
    live instance, else (saying so on stderr) its newest ended one. A name that is neither a
    plan with instances nor an instance id is refused, with the closest plan names."""
    from ikasched.v1 import (
        common_pb2,
        instance_service_pb2,
        plan_service_pb2,
        plan_service_pb2_grpc,
    )
    from ikasched_common.suggest import did_you_mean

    stub = instances_stub(client)
    listed = client.call(
        stub.ListInstances,
        instance_service_pb2.ListInstancesRequest(
            context_name=text, include_ended=True, page=common_pb2.PageRequest(page_size=100)
        ),
    )
    found = [i for i in listed.instances if i.status != common_pb2.PREPARED]
    live = [i for i in found if i.status != common_pb2.ENDED]
    if found:
        chosen = max(live or found, key=lambda i: (i.created_date_time, i.id))
        if not live:
            print(
                f"ikasched: plan {text} has no live instance; using its newest, {chosen.id} "
                f"({status_name(chosen.status)} {output.time_text(chosen.end_time)})",
                file=sys.stderr,
            )
        return str(chosen.id)
    if _INSTANCE_ID.fullmatch(text):
        return text
    try:  # an id of another form (another dashboard's, a test's)
        return str(
            client.call(
                stub.GetInstance, instance_service_pb2.GetInstanceRequest(context_instance_id=text)
            ).id
        )
    except CliError:
        pass
    plans = client.stub(plan_service_pb2_grpc.PlanServiceStub)
    names: list[str] = []
    token = ""
    while True:
        page = client.call(
            plans.ListPlans,
            plan_service_pb2.ListPlansRequest(
                page=common_pb2.PageRequest(page_size=500, page_token=token)
            ),
        )
        names.extend(p.name for p in page.plans)
        token = page.next_page_token
        if not token:
            break
    if text in names:
        raise CliError(
            f"plan {text!r} has no instance yet (create one: ikasched instance create {text})"
        )
    raise CliError(f"not found: no plan or instance {text!r}{did_you_mean(text, names)}")


def status_name(value: int) -> str:
    from ikasched.v1 import common_pb2

    return str(common_pb2.InstanceStatus.Name(value))


def ended_time(i: Any) -> int:
    """When an ENDED instance ended (its last change); 0 for one that has not."""
    return int(i.updated_date_time) if status_name(i.status) == "ENDED" else 0


def _due(i: Any) -> str:
    """What comes next by the clock: a PREPARED instance's planned start, a live one's end."""
    status = status_name(i.status)
    if status == "PREPARED":
        return "start " + output.time_text(i.start_time)
    if status != "ENDED" and i.projected_end_time and not i.run_context_until_manually_ended:
        return "end " + output.time_text(i.projected_end_time)
    return "-"


def _instance_row(i: Any) -> list[str]:
    started = 0 if status_name(i.status) == "PREPARED" else i.start_time
    return [
        i.id,
        i.context_name,
        status_name(i.status),
        output.time_text(started),
        output.time_text(ended_time(i)),
        _due(i),
        i.created_by or "-",
    ]


def list_instances(args: argparse.Namespace) -> int:
    from ikasched.v1 import common_pb2, instance_service_pb2

    statuses: list[Any] = []
    for name in args.status:
        try:
            statuses.append(common_pb2.InstanceStatus.Value(name.upper()))
        except ValueError:
            raise CliError(f"unknown status {name!r}", USAGE) from None
    client = connect(args)
    stub = instances_stub(client)
    found: list[Any] = []
    token = ""
    while True:
        response = client.call(
            stub.ListInstances,
            instance_service_pb2.ListInstancesRequest(
                context_name=args.plan,
                statuses=statuses,
                include_ended=args.all,
                include_prepared=args.all,
                page=common_pb2.PageRequest(page_size=500, page_token=token),
            ),
        )
        found.extend(response.instances)
        token = response.next_page_token
        if not token:
            break
    colour = output.use_colour(sys.stdout)
    text = output.table(
        [_instance_row(i) for i in found],
        ["ID", "PLAN", "STATUS", "STARTED", "ENDED", "DUE", "BY"],
        colour=colour,
    )
    for i in found:
        if i.load_error:
            text += f"\ninstance {i.id} is quarantined: {i.load_error}"
    output.emit(args.output, [output.message_dict(i) for i in found], text)
    return 0


def context_paths(i: Any) -> dict[str, str]:
    """Each context's path from the root ("nightly-batch/load/warehouse") by its name."""
    parents = {c.context_name: c.parent_context_name for c in i.contexts}
    paths: dict[str, str] = {}

    def path(name: str) -> str:
        if name not in paths:
            parent = parents.get(name, "")
            paths[name] = f"{path(parent)}/{name}" if parent and parent != name else name
        return paths[name]

    for name in parents:
        path(name)
    return paths


def instance_text(i: Any, colour: bool) -> str:
    from ikasched_cli.commands_audit import duration_text

    status = status_name(i.status)
    flags = [
        text
        for text, on in (
            ("dry run", i.dry_run),
            ("cron jobs disabled", i.quartz_schedule_driven_jobs_disabled),
            ("runs until ended by hand", i.run_context_until_manually_ended),
        )
        if on
    ]
    head = output.kv_block(
        {
            "id": i.id,
            "plan": f"{i.context_name} (version {i.plan_version})",
            "status": output.status_text(status, colour),
            "started": output.time_text(0 if status == "PREPARED" else i.start_time),
            "finished": output.time_text(i.end_time),
            "ended": output.time_text(ended_time(i)),
            "due": _due(i),
            "flags": ", ".join(flags) or "-",
            "parameters": ", ".join(f"{p.name}={p.value}" for p in i.context_parameters) or "-",
            **({"quarantined": i.load_error} if i.load_error else {}),
        }
    )
    paths = context_paths(i)
    contexts = output.table(
        [[paths[c.context_name], status_name(c.status)] for c in i.contexts],
        ["CONTEXT", "STATUS"],
        colour=colour,
    )
    rows = [
        [
            j.identifier,
            paths.get(j.child_context_name, j.child_context_name) or "-",
            j.agent_name or "-",
            status_name(j.status),
            ",".join(
                f
                for f, on in (("held", j.held), ("skip", j.skip), ("acked", j.error_acknowledged))
                if on
            )
            or "-",
            str(j.return_code) if j.end_time else "-",
            duration_text(j.duration_millis),
            str(j.attempts),
            j.status_reason or "-",
        ]
        for j in i.jobs
    ]
    jobs = output.table(
        rows,
        ["JOB", "CONTEXT", "AGENT", "STATUS", "FLAGS", "RC", "DURATION", "RUNS", "REASON"],
        colour=colour,
    )
    # a running job has a reason only when something is wrong (e.g. its agent is unreachable)
    notes = [
        f"{j.identifier}: {j.status_reason}"
        for j in i.jobs
        if j.status_reason and status_name(j.status) in ("RUNNING", "SKIPPED_RUNNING")
    ]
    tail = "\n\n" + "\n".join(notes) if notes else ""
    return f"{head}\n\n{contexts}\n\n{jobs}{tail}"


def get(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2

    client = connect(args)
    iid = resolve_instance(client, args.instance)
    found = client.call(
        instances_stub(client).GetInstance,
        instance_service_pb2.GetInstanceRequest(context_instance_id=iid),
    )
    output.emit(
        args.output, output.message_dict(found), instance_text(found, output.use_colour(sys.stdout))
    )
    return 0


def change_line(change: Any, colour: bool, *, one_instance: bool = False) -> str:
    """One change; a watch of one instance names it once (its snapshot line), not per line."""
    stamp = output.time_text(change.time)
    if not one_instance:
        stamp = f"{stamp} {change.context_name} {change.context_instance_id}"
    kind = change.WhichOneof("change")
    if kind == "job":
        job = change.job
        where = f"{job.job_identifier}" + (
            f" [{job.child_context_name}]" if job.child_context_name else ""
        )
        cause = job.cause
        if one_instance:  # process-event ids start with the instance id: "<id>:2:starting"
            cause = cause.replace(change.context_instance_id, "").strip(":>")
        extra = f" ({cause})" if cause else ""
        new = output.status_text(status_name(job.new_status), colour)
        return f"{stamp} job {where}: {status_name(job.previous_status)} -> {new}{extra}"
    ctx = change.context
    new = output.status_text(status_name(ctx.new_status), colour)
    return f"{stamp} context {ctx.context_name}: {status_name(ctx.previous_status)} -> {new}"


def watch(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2

    client = connect(args)
    iid = resolve_instance(client, args.instance) if args.instance else ""
    if args.until_ended and not iid:
        raise CliError("--until-ended needs an instance", USAGE)
    colour = output.use_colour(sys.stdout)
    if args.after < 0:
        raise CliError("--after expects a position >= 0", USAGE)
    request = instance_service_pb2.WatchInstancesRequest(
        context_instance_id=iid, after_position=args.after, send_initial=True
    )
    stream = client.stream(instances_stub(client).WatchInstances, request, timeout=args.duration)
    deadline = time.monotonic() + args.duration if args.duration else None
    for item in stream:
        if item.WhichOneof("item") == "snapshot":
            snap = item.snapshot
            status = status_name(snap.status)
            if args.output == "table":
                print(
                    f"{snap.context_name} {snap.id}: {output.status_text(status, colour)}",
                    flush=True,
                )
            else:
                print(output.dump({"snapshot": output.message_dict(snap)}, args.output), flush=True)
            if args.until_ended and snap.id == iid and status in ENDED_STATUSES:
                return 0 if status == "COMPLETE" else FAILED
            continue
        change = item.change
        if args.output == "table":
            print(change_line(change, colour, one_instance=bool(iid)), flush=True)
        else:
            print(output.dump({"change": output.message_dict(change)}, args.output), flush=True)
        if (
            args.until_ended
            and change.WhichOneof("change") == "context"
            and change.context_instance_id == iid
            and change.context.context_name == change.context_name
        ):
            status = status_name(change.context.new_status)
            if status in ENDED_STATUSES:
                return 0 if status == "COMPLETE" else FAILED
        if deadline is not None and time.monotonic() >= deadline:
            break
    if args.until_ended:
        raise CliError(f"instance {iid} had not ended when the watch stopped")
    return 0


def _show(args: argparse.Namespace, found: Any, verb: str) -> int:
    output.emit(
        args.output,
        output.message_dict(found),
        f"instance {found.id} of {found.context_name} {verb}: {status_name(found.status)}",
    )
    return 0


CREATE_ATTEMPTS = 3
CREATE_RETRY_SECONDS = 1.0


def create(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2

    params = parse_params(args.param)
    client = connect(args)
    request = instance_service_pb2.CreateInstanceRequest(
        context_name=args.plan,
        context_parameters=params,
        hold_command_jobs=args.hold,
        ignore_blackout=args.ignore_blackout,
        request_id=args.request_id or f"cli:{uuid.uuid4().hex}",
    )
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            found = client.call(instances_stub(client).CreateInstance, request)
            break
        except CliError as exc:
            # the same key again: a reply lost on the way back cannot make a second instance
            if exc.exit_code != UNREACHABLE or attempt == CREATE_ATTEMPTS:
                raise
            time.sleep(CREATE_RETRY_SECONDS)
    if args.output == "table":
        print(found.id)
        return 0
    return _show(args, found, "created")


def end(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2

    client = connect(args)
    iid = resolve_instance(client, args.instance)
    found = client.call(
        instances_stub(client).EndInstance,
        instance_service_pb2.EndInstanceRequest(
            context_instance_id=iid, keep_running_jobs=args.keep_running_jobs
        ),
    )
    return _show(args, found, "ended")


def reset(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2

    params = parse_params(args.param)
    client = connect(args)
    iid = resolve_instance(client, args.instance)
    found = client.call(
        instances_stub(client).ResetInstance,
        instance_service_pb2.ResetInstanceRequest(
            context_instance_id=iid,
            hold_command_jobs=args.hold,
            initiate_with_same_parameters=args.same_parameters,
            context_parameters=params,
        ),
    )
    return _show(args, found, "reset")


def run_until_ended(args: argparse.Namespace) -> int:
    from ikasched.v1 import instance_service_pb2

    client = connect(args)
    iid = resolve_instance(client, args.instance)
    found = client.call(
        instances_stub(client).RunUntilManuallyEnded,
        instance_service_pb2.RunUntilManuallyEndedRequest(
            context_instance_id=iid, enabled=not args.off
        ),
    )
    state = "off" if args.off else "on"
    return _show(args, found, f"run-until-ended {state}")
