"""The console's server-sent events of one instance, from its watch stream
(docs/architecture.md §11.2), and the formats pages and events share."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from ikasched.v1 import common_pb2
from ikasched_web.api import Api, ApiError
from ikasched_web.verbs import job_verbs_for


def status_name(value: int) -> str:
    name: str = common_pb2.InstanceStatus.Name(value)
    return "" if name == "INSTANCE_STATUS_UNSPECIFIED" else name


def when(ms: int) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(ms: int) -> str:
    if ms <= 0:
        return ""
    seconds = ms / 1000
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _verbs(status: str, held: bool) -> list[str]:
    """The job verbs a row offers in this status, as the page renders them (verbs.py)."""
    return [v.word for v in job_verbs_for(status, held)]


async def change_events(api: Api, token: str, iid: str, after: int) -> AsyncIterator[str]:
    """`job` and `context` changes with their change-log position as the event id, after a
    `snapshot` of every job's status when starting afresh (`after` 0); a refusal or failure of
    the stream as a `failure` event. Each job's status comes with the verbs it now offers, so
    the page's action buttons follow it."""
    yield "retry: 1000\n\n"
    # Held flags by (job, child): from the snapshot, then followed through ON_HOLD changes (a
    # change event carries no flag); they decide whether Release is offered beside a status.
    held: dict[tuple[str, str], bool] = {}
    try:
        async for item in api.watch(token, iid, after):
            if item.HasField("snapshot"):
                jobs = []
                for j in item.snapshot.jobs:
                    held[(j.identifier, j.child_context_name)] = j.held
                    status = status_name(j.status)
                    jobs.append(
                        {
                            "job": j.identifier,
                            "child": j.child_context_name,
                            "status": status,
                            "verbs": _verbs(status, j.held),
                        }
                    )
                data = {"status": status_name(item.snapshot.status), "jobs": jobs}
                yield f"event: snapshot\ndata: {json.dumps(data)}\n\n"
                continue
            change = item.change
            if change.HasField("job"):
                moved = change.job
                key = (moved.job_identifier, moved.child_context_name)
                status = status_name(moved.new_status)
                if status == "ON_HOLD":
                    held[key] = True
                elif status_name(moved.previous_status) == "ON_HOLD":
                    held[key] = False
                data = {
                    "job": moved.job_identifier,
                    "child": moved.child_context_name,
                    "status": status,
                    "verbs": _verbs(status, held.get(key, False)),
                    "cause": moved.cause,
                    "time": when(change.time),
                }
                kind = "job"
            else:
                data = {
                    "context": change.context.context_name,
                    "status": status_name(change.context.new_status),
                }
                kind = "context"
            yield f"event: {kind}\nid: {change.position}\ndata: {json.dumps(data)}\n\n"
    except ApiError as exc:
        yield f"event: failure\ndata: {json.dumps(str(exc))}\n\n"
