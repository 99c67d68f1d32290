from ikasched.v1 import common_pb2 as _common_pb2
from ikasched.v1 import events_pb2 as _events_pb2
from ikasched.v1 import instance_pb2 as _instance_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListInstancesRequest(_message.Message):
    __slots__ = ("context_name", "statuses", "include_ended", "include_prepared", "page", "started_after", "started_before")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ENDED_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PREPARED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AFTER_FIELD_NUMBER: _ClassVar[int]
    STARTED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    statuses: _containers.RepeatedScalarFieldContainer[_common_pb2.InstanceStatus]
    include_ended: bool
    include_prepared: bool
    page: _common_pb2.PageRequest
    started_after: int
    started_before: int
    def __init__(self, context_name: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_common_pb2.InstanceStatus, str]]] = ..., include_ended: _Optional[bool] = ..., include_prepared: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., started_after: _Optional[int] = ..., started_before: _Optional[int] = ...) -> None: ...

class ListInstancesResponse(_message.Message):
    __slots__ = ("instances", "next_page_token")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[_instance_pb2.ContextInstance]
    next_page_token: str
    def __init__(self, instances: _Optional[_Iterable[_Union[_instance_pb2.ContextInstance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetInstanceRequest(_message.Message):
    __slots__ = ("context_instance_id",)
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    def __init__(self, context_instance_id: _Optional[str] = ...) -> None: ...

class WatchInstancesRequest(_message.Message):
    __slots__ = ("context_name", "context_instance_id", "after_position", "send_initial")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    SEND_INITIAL_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    context_instance_id: str
    after_position: int
    send_initial: bool
    def __init__(self, context_name: _Optional[str] = ..., context_instance_id: _Optional[str] = ..., after_position: _Optional[int] = ..., send_initial: _Optional[bool] = ...) -> None: ...

class WatchInstancesResponse(_message.Message):
    __slots__ = ("change", "snapshot")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    change: _instance_pb2.InstanceChange
    snapshot: _instance_pb2.ContextInstance
    def __init__(self, change: _Optional[_Union[_instance_pb2.InstanceChange, _Mapping]] = ..., snapshot: _Optional[_Union[_instance_pb2.ContextInstance, _Mapping]] = ...) -> None: ...

class CreateInstanceRequest(_message.Message):
    __slots__ = ("context_name", "context_parameters", "hold_command_jobs", "ignore_blackout", "request_id")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    HOLD_COMMAND_JOBS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_BLACKOUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameterInstance]
    hold_command_jobs: bool
    ignore_blackout: bool
    request_id: str
    def __init__(self, context_name: _Optional[str] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameterInstance, _Mapping]]] = ..., hold_command_jobs: _Optional[bool] = ..., ignore_blackout: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class EndInstanceRequest(_message.Message):
    __slots__ = ("context_instance_id", "keep_running_jobs")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    KEEP_RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    keep_running_jobs: bool
    def __init__(self, context_instance_id: _Optional[str] = ..., keep_running_jobs: _Optional[bool] = ...) -> None: ...

class ResetInstanceRequest(_message.Message):
    __slots__ = ("context_instance_id", "hold_command_jobs", "initiate_with_same_parameters", "context_parameters")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_COMMAND_JOBS_FIELD_NUMBER: _ClassVar[int]
    INITIATE_WITH_SAME_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    hold_command_jobs: bool
    initiate_with_same_parameters: bool
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameterInstance]
    def __init__(self, context_instance_id: _Optional[str] = ..., hold_command_jobs: _Optional[bool] = ..., initiate_with_same_parameters: _Optional[bool] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameterInstance, _Mapping]]] = ...) -> None: ...

class RunUntilManuallyEndedRequest(_message.Message):
    __slots__ = ("context_instance_id", "enabled")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    enabled: bool
    def __init__(self, context_instance_id: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class UpdateContextParametersRequest(_message.Message):
    __slots__ = ("context_instance_id", "context_parameters")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameterInstance]
    def __init__(self, context_instance_id: _Optional[str] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameterInstance, _Mapping]]] = ...) -> None: ...

class SetDryRunRequest(_message.Message):
    __slots__ = ("context_instance_id", "dry_run", "dry_run_parameters")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    dry_run: bool
    dry_run_parameters: _common_pb2.DryRunParameters
    def __init__(self, context_instance_id: _Optional[str] = ..., dry_run: _Optional[bool] = ..., dry_run_parameters: _Optional[_Union[_common_pb2.DryRunParameters, _Mapping]] = ...) -> None: ...

class GetEventsThatCanRunRequest(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _common_pb2.JobRef
    def __init__(self, job: _Optional[_Union[_common_pb2.JobRef, _Mapping]] = ...) -> None: ...

class GetEventsThatCanRunResponse(_message.Message):
    __slots__ = ("initiations",)
    INITIATIONS_FIELD_NUMBER: _ClassVar[int]
    initiations: _containers.RepeatedCompositeFieldContainer[_events_pb2.SchedulerJobInitiationEvent]
    def __init__(self, initiations: _Optional[_Iterable[_Union[_events_pb2.SchedulerJobInitiationEvent, _Mapping]]] = ...) -> None: ...

class ListMissedRunsRequest(_message.Message):
    __slots__ = ("context_name", "page")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    page: _common_pb2.PageRequest
    def __init__(self, context_name: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListMissedRunsResponse(_message.Message):
    __slots__ = ("missed_runs", "next_page_token")
    MISSED_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    missed_runs: _containers.RepeatedCompositeFieldContainer[_instance_pb2.MissedRun]
    next_page_token: str
    def __init__(self, missed_runs: _Optional[_Iterable[_Union[_instance_pb2.MissedRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("context_instance_id", "job_identifier", "actor", "kinds", "context_name", "after_time", "before_time", "page")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    AFTER_TIME_FIELD_NUMBER: _ClassVar[int]
    BEFORE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    job_identifier: str
    actor: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    context_name: str
    after_time: int
    before_time: int
    page: _common_pb2.PageRequest
    def __init__(self, context_instance_id: _Optional[str] = ..., job_identifier: _Optional[str] = ..., actor: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., context_name: _Optional[str] = ..., after_time: _Optional[int] = ..., before_time: _Optional[int] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("position", "time", "kind", "context_instance_id", "context_name", "job_identifier", "child_context_name", "previous_status", "new_status", "cause", "actor", "detail")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    NEW_STATUS_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    position: int
    time: int
    kind: str
    context_instance_id: str
    context_name: str
    job_identifier: str
    child_context_name: str
    previous_status: _common_pb2.InstanceStatus
    new_status: _common_pb2.InstanceStatus
    cause: str
    actor: str
    detail: str
    def __init__(self, position: _Optional[int] = ..., time: _Optional[int] = ..., kind: _Optional[str] = ..., context_instance_id: _Optional[str] = ..., context_name: _Optional[str] = ..., job_identifier: _Optional[str] = ..., child_context_name: _Optional[str] = ..., previous_status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., new_status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., cause: _Optional[str] = ..., actor: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
