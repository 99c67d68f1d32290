"""A job's log followed live (docs/architecture.md §11.2): `GetJobLogs` with `follow` from a
byte offset, fed to the browser as server-sent events. Each `chunk` carries its text and, as
its event id, the byte offset after it, so a reconnecting browser resumes where it stopped."""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator

import grpc

from ikasched.v1 import agent_pb2, common_pb2, job_service_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_web.api import Api, ApiError

STREAMS = {"stdout": agent_pb2.STDOUT, "stderr": agent_pb2.STDERR}


def follow_request(
    iid: str, job: str, child: str, stream: str, offset: str
) -> job_service_pb2.GetJobLogsRequest:
    """The follow request of a log page's query; a bad one is an InvalidArgument naming it."""
    if not job:
        raise InvalidArgument("must name a job", field="job")
    if stream not in STREAMS:
        raise InvalidArgument(f"{stream!r} is not a log (stdout or stderr)", field="stream")
    try:
        start = int(offset or 0)
    except ValueError:
        raise InvalidArgument(f"{offset!r} is not a byte offset", field="offset") from None
    if start < 0:
        raise InvalidArgument("must not be negative", field="offset")
    ref = common_pb2.JobRef(context_instance_id=iid, job_identifier=job, child_context_name=child)
    return job_service_pb2.GetJobLogsRequest(
        job=ref, stream=STREAMS[stream], offset=start, follow=True
    )


def _event(kind: str, data: object, ident: int | None = None) -> str:
    head = f"event: {kind}\n" + (f"id: {ident}\n" if ident is not None else "")
    return f"{head}data: {json.dumps(data)}\n\n"


async def follow_events(
    api: Api, token: str, request: job_service_pb2.GetJobLogsRequest
) -> AsyncIterator[str]:
    """`chunk` events (text, id = the byte offset after it) until the job's log ends (`end`),
    or `failure` with the dashboard's or agent's words. A character split between two chunks
    is held back until its last byte arrives."""
    yield "retry: 1000\n\n"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    call = api.jobs.GetJobLogs(request, metadata=api.metadata(token))
    position = request.offset
    try:
        async for chunk in call:
            if chunk.data:
                position = chunk.offset + len(chunk.data)
                text = decoder.decode(chunk.data)
                if text:
                    yield _event("chunk", {"text": text}, position)
            if chunk.error:
                yield _event("failure", chunk.error)
                return
            if chunk.eof:
                break
        tail = decoder.decode(b"", final=True)
        if tail:
            yield _event("chunk", {"text": tail}, position)
        yield _event("end", position)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            yield _event("failure", str(ApiError(exc.code(), exc.details() or "")))
    finally:
        call.cancel()
