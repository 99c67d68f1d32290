from ikasched.v1 import agent_pb2 as _agent_pb2
from ikasched.v1 import common_pb2 as _common_pb2
from ikasched.v1 import instance_pb2 as _instance_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobVerbRequest(_message.Message):
    __slots__ = ("job", "comment")
    JOB_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobRef
    comment: str
    def __init__(self, job: _Optional[_Union[_common_pb2.JobRef, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class JobVerbResponse(_message.Message):
    __slots__ = ("jobs", "ignored")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_instance_pb2.SchedulerJobInstance]
    ignored: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, jobs: _Optional[_Iterable[_Union[_instance_pb2.SchedulerJobInstance, _Mapping]]] = ..., ignored: _Optional[_Iterable[str]] = ...) -> None: ...

class AcknowledgeErrorRequest(_message.Message):
    __slots__ = ("job", "message", "ticket_id")
    JOB_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobRef
    message: str
    ticket_id: str
    def __init__(self, job: _Optional[_Union[_common_pb2.JobRef, _Mapping]] = ..., message: _Optional[str] = ..., ticket_id: _Optional[str] = ...) -> None: ...

class KillJobRequest(_message.Message):
    __slots__ = ("job", "destroy", "comment")
    JOB_FIELD_NUMBER: _ClassVar[int]
    DESTROY_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobRef
    destroy: bool
    comment: str
    def __init__(self, job: _Optional[_Union[_common_pb2.JobRef, _Mapping]] = ..., destroy: _Optional[bool] = ..., comment: _Optional[str] = ...) -> None: ...

class RunJobRequest(_message.Message):
    __slots__ = ("job", "context_parameters", "comment")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobRef
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameterInstance]
    comment: str
    def __init__(self, job: _Optional[_Union[_common_pb2.JobRef, _Mapping]] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameterInstance, _Mapping]]] = ..., comment: _Optional[str] = ...) -> None: ...

class ChildContextVerbRequest(_message.Message):
    __slots__ = ("context_instance_id", "child_context_name", "comment")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    child_context_name: str
    comment: str
    def __init__(self, context_instance_id: _Optional[str] = ..., child_context_name: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class SkipAllJobsRequest(_message.Message):
    __slots__ = ("context_instance_id", "child_context_name", "skip", "comment")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    child_context_name: str
    skip: bool
    comment: str
    def __init__(self, context_instance_id: _Optional[str] = ..., child_context_name: _Optional[str] = ..., skip: _Optional[bool] = ..., comment: _Optional[str] = ...) -> None: ...

class InstanceVerbRequest(_message.Message):
    __slots__ = ("context_instance_id", "comment")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    comment: str
    def __init__(self, context_instance_id: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class GetJobLogsRequest(_message.Message):
    __slots__ = ("job", "initiation_id", "stream", "offset", "follow", "max_bytes")
    JOB_FIELD_NUMBER: _ClassVar[int]
    INITIATION_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobRef
    initiation_id: str
    stream: _agent_pb2.LogStream
    offset: int
    follow: bool
    max_bytes: int
    def __init__(self, job: _Optional[_Union[_common_pb2.JobRef, _Mapping]] = ..., initiation_id: _Optional[str] = ..., stream: _Optional[_Union[_agent_pb2.LogStream, str]] = ..., offset: _Optional[int] = ..., follow: _Optional[bool] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("statuses", "context_names", "agent_name", "owner", "since_after", "since_before", "include_ended", "page")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAMES_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SINCE_AFTER_FIELD_NUMBER: _ClassVar[int]
    SINCE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENDED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[_common_pb2.InstanceStatus]
    context_names: _containers.RepeatedScalarFieldContainer[str]
    agent_name: str
    owner: str
    since_after: int
    since_before: int
    include_ended: bool
    page: _common_pb2.PageRequest
    def __init__(self, statuses: _Optional[_Iterable[_Union[_common_pb2.InstanceStatus, str]]] = ..., context_names: _Optional[_Iterable[str]] = ..., agent_name: _Optional[str] = ..., owner: _Optional[str] = ..., since_after: _Optional[int] = ..., since_before: _Optional[int] = ..., include_ended: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class JobListing(_message.Message):
    __slots__ = ("job", "context_name", "instance_status", "since")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_STATUS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    job: _instance_pb2.SchedulerJobInstance
    context_name: str
    instance_status: _common_pb2.InstanceStatus
    since: int
    def __init__(self, job: _Optional[_Union[_instance_pb2.SchedulerJobInstance, _Mapping]] = ..., context_name: _Optional[str] = ..., instance_status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., since: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobListing]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobListing, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
