from ikasched.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobRun(_message.Message):
    __slots__ = ("id", "context_name", "plan_version", "owner", "context_instance_id", "child_context_name", "job_identifier", "job_name", "job_type", "agent_name", "agent_hostname", "attempt", "status", "start_time", "end_time", "duration_ms", "return_code", "outcome_reason", "pid", "run_as_user", "output_path", "error_path")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    RETURN_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_REASON_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RUN_AS_USER_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PATH_FIELD_NUMBER: _ClassVar[int]
    ERROR_PATH_FIELD_NUMBER: _ClassVar[int]
    id: int
    context_name: str
    plan_version: int
    owner: str
    context_instance_id: str
    child_context_name: str
    job_identifier: str
    job_name: str
    job_type: _common_pb2.JobType
    agent_name: str
    agent_hostname: str
    attempt: int
    status: _common_pb2.InstanceStatus
    start_time: int
    end_time: int
    duration_ms: int
    return_code: int
    outcome_reason: str
    pid: int
    run_as_user: str
    output_path: str
    error_path: str
    def __init__(self, id: _Optional[int] = ..., context_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., owner: _Optional[str] = ..., context_instance_id: _Optional[str] = ..., child_context_name: _Optional[str] = ..., job_identifier: _Optional[str] = ..., job_name: _Optional[str] = ..., job_type: _Optional[_Union[_common_pb2.JobType, str]] = ..., agent_name: _Optional[str] = ..., agent_hostname: _Optional[str] = ..., attempt: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., duration_ms: _Optional[int] = ..., return_code: _Optional[int] = ..., outcome_reason: _Optional[str] = ..., pid: _Optional[int] = ..., run_as_user: _Optional[str] = ..., output_path: _Optional[str] = ..., error_path: _Optional[str] = ...) -> None: ...

class ListJobRunsRequest(_message.Message):
    __slots__ = ("context_names", "context_instance_id", "job_identifier", "agent_name", "owner", "statuses", "ended_after", "ended_before", "page")
    CONTEXT_NAMES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    ENDED_AFTER_FIELD_NUMBER: _ClassVar[int]
    ENDED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    context_names: _containers.RepeatedScalarFieldContainer[str]
    context_instance_id: str
    job_identifier: str
    agent_name: str
    owner: str
    statuses: _containers.RepeatedScalarFieldContainer[_common_pb2.InstanceStatus]
    ended_after: int
    ended_before: int
    page: _common_pb2.PageRequest
    def __init__(self, context_names: _Optional[_Iterable[str]] = ..., context_instance_id: _Optional[str] = ..., job_identifier: _Optional[str] = ..., agent_name: _Optional[str] = ..., owner: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_common_pb2.InstanceStatus, str]]] = ..., ended_after: _Optional[int] = ..., ended_before: _Optional[int] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListJobRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[JobRun]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[JobRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PurgeHistoryRequest(_message.Message):
    __slots__ = ("ended_before",)
    ENDED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ended_before: int
    def __init__(self, ended_before: _Optional[int] = ...) -> None: ...

class PurgeHistoryResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class GetJobStatsRequest(_message.Message):
    __slots__ = ("context_name", "job_identifier", "last_runs")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    LAST_RUNS_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    job_identifier: str
    last_runs: int
    def __init__(self, context_name: _Optional[str] = ..., job_identifier: _Optional[str] = ..., last_runs: _Optional[int] = ...) -> None: ...

class JobStats(_message.Message):
    __slots__ = ("context_name", "job_identifier", "runs", "failures", "timed_runs", "mean_ms", "p50_ms", "p95_ms", "max_ms", "last_end_time")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    TIMED_RUNS_FIELD_NUMBER: _ClassVar[int]
    MEAN_MS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_END_TIME_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    job_identifier: str
    runs: int
    failures: int
    timed_runs: int
    mean_ms: int
    p50_ms: int
    p95_ms: int
    max_ms: int
    last_end_time: int
    def __init__(self, context_name: _Optional[str] = ..., job_identifier: _Optional[str] = ..., runs: _Optional[int] = ..., failures: _Optional[int] = ..., timed_runs: _Optional[int] = ..., mean_ms: _Optional[int] = ..., p50_ms: _Optional[int] = ..., p95_ms: _Optional[int] = ..., max_ms: _Optional[int] = ..., last_end_time: _Optional[int] = ...) -> None: ...

class GetJobStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _containers.RepeatedCompositeFieldContainer[JobStats]
    def __init__(self, stats: _Optional[_Iterable[_Union[JobStats, _Mapping]]] = ...) -> None: ...
