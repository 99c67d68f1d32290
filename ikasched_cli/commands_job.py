"""`ikasched job ...`: the job verbs (one job, or --all of an instance or child context) and
logs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import USAGE, Client, CliError, connect
from ikasched_cli.commands_instance import parse_params, resolve_instance, status_name

# verb -> JobService method of the one-job form
_SINGLE = {
    "hold": "HoldJob",
    "release": "ReleaseJob",
    "skip": "SkipJob",
    "unskip": "UnskipJob",
    "reset": "ResetJob",
    "resubmit": "ResubmitJob",
    "ack": "AcknowledgeError",
    "kill": "KillJob",
    "run": "RunJob",
}


def _stub(client: Client) -> Any:
    from ikasched.v1 import job_service_pb2_grpc

    return client.stub(job_service_pb2_grpc.JobServiceStub)


def _verb_name(args: argparse.Namespace) -> str:
    return str(args.job_command)


def _request(verb: str, args: argparse.Namespace, iid: str) -> tuple[str, Any]:
    from ikasched.v1 import common_pb2, job_service_pb2

    if getattr(args, "all", False):
        if args.job:
            raise CliError("give a job or --all, not both", USAGE)
        if verb in ("hold", "release"):
            method = "HoldAllJobs" if verb == "hold" else "ReleaseAllJobs"
            return method, job_service_pb2.ChildContextVerbRequest(
                context_instance_id=iid, child_context_name=args.child, comment=args.comment
            )
        return "SkipAllJobs", job_service_pb2.SkipAllJobsRequest(
            context_instance_id=iid,
            child_context_name=args.child,
            skip=verb == "skip",
            comment=args.comment,
        )
    if not args.job:
        raise CliError(f"name the job to {verb} (or use --all)", USAGE)
    ref = common_pb2.JobRef(
        context_instance_id=iid, job_identifier=args.job, child_context_name=args.child
    )
    method = _SINGLE[verb]
    if verb == "ack":
        return method, job_service_pb2.AcknowledgeErrorRequest(
            job=ref, message=args.message or args.comment, ticket_id=args.ticket
        )
    if verb == "kill":
        return method, job_service_pb2.KillJobRequest(
            job=ref, destroy=args.destroy, comment=args.comment
        )
    if verb == "run":
        return method, job_service_pb2.RunJobRequest(
            job=ref, context_parameters=parse_params(args.param), comment=args.comment
        )
    return method, job_service_pb2.JobVerbRequest(job=ref, comment=args.comment)


def verb(args: argparse.Namespace) -> int:
    name = _verb_name(args)
    client = connect(args)
    iid = resolve_instance(client, args.instance)
    method, request = _request(name, args, iid)
    response = client.call(getattr(_stub(client), method), request)
    rows = [
        [
            j.identifier,
            j.child_context_name or "-",
            status_name(j.status),
            "yes" if j.held else "no",
            "yes" if j.skip else "no",
        ]
        for j in response.jobs
    ]
    human = output.table(
        rows, ["JOB", "CONTEXT", "STATUS", "HELD", "SKIP"], colour=output.use_colour(sys.stdout)
    )
    if getattr(args, "all", False):
        # bulk verbs are lenient: they act on the jobs the verb applies to and say how many
        human = f"{name} --all: {len(response.jobs)} job(s) changed\n" + human
    if response.ignored:
        human += "\nignored: " + ", ".join(response.ignored)
    output.emit(args.output, output.message_dict(response), human)
    return 0


def logs(args: argparse.Namespace) -> int:
    from ikasched.v1 import agent_pb2, common_pb2, job_service_pb2

    client = connect(args)
    iid = resolve_instance(client, args.instance)
    request = job_service_pb2.GetJobLogsRequest(
        job=common_pb2.JobRef(
            context_instance_id=iid, job_identifier=args.job, child_context_name=args.child
        ),
        initiation_id=args.initiation,
        stream=agent_pb2.STDERR if args.stderr else agent_pb2.STDOUT,
        follow=args.follow,
    )
    out = sys.stdout.buffer
    for chunk in client.stream(_stub(client).GetJobLogs, request):
        if chunk.error:
            raise CliError(f"logs of {args.job}: {chunk.error}")
        if chunk.data:
            out.write(chunk.data)
            out.flush()
        if chunk.eof:
            break
    return 0


def list_jobs(args: argparse.Namespace) -> int:
    """`job list`: jobs across every live (with --ended, ended too) instance."""
    from ikasched.v1 import common_pb2, job_service_pb2
    from ikasched_cli.commands_audit import duration_text, pages, stamp, window

    since, until = window(args)
    statuses: list[str] = []
    for name in args.status:
        wanted = name.strip().upper()
        if wanted not in set(common_pb2.InstanceStatus.keys()) or wanted.endswith("UNSPECIFIED"):
            raise CliError(f"--status: {name!r} is not a status", USAGE)
        statuses.append(wanted)
    client = connect(args)
    request = job_service_pb2.ListJobsRequest(
        statuses=statuses,
        context_names=args.plan,
        agent_name=args.agent,
        owner=args.owner,
        since_after=since,
        since_before=until,
        include_ended=args.ended,
    )
    found = list(pages(client, _stub(client).ListJobs, request, lambda r: r.jobs, args.limit))
    data = {"jobs": [output.message_dict(j) for j in found]}
    rows = [
        [
            j.context_name,
            j.job.context_instance_id,
            j.job.child_context_name or "-",
            j.job.identifier,
            status_name(j.job.status),
            j.job.agent_name or "-",
            stamp(j.since, utc=args.utc),
            duration_text(j.job.duration_millis),
            j.job.status_reason or "-",
        ]
        for j in found
    ]
    human = output.table(
        rows,
        ["PLAN", "INSTANCE", "CONTEXT", "JOB", "STATUS", "AGENT", "SINCE", "DURATION", "REASON"],
        colour=output.use_colour(sys.stdout),
    )
    output.emit(args.output, data, human)
    return 0
