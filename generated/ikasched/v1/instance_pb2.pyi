from ikasched.v1 import common_pb2 as _common_pb2
from ikasched.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContextInstance(_message.Message):
    __slots__ = ("id", "context_name", "plan_version", "status", "created_date_time", "updated_date_time", "start_time", "end_time", "projected_end_time", "timezone", "run_context_until_manually_ended", "contains_repeating_jobs", "context_parameters", "quartz_schedule_driven_jobs_disabled", "dry_run", "dry_run_parameters", "contexts", "jobs", "environment_group", "created_by", "reset_from_instance_id", "load_error")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_DATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_DATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_END_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    RUN_CONTEXT_UNTIL_MANUALLY_ENDED_FIELD_NUMBER: _ClassVar[int]
    CONTAINS_REPEATING_JOBS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    QUARTZ_SCHEDULE_DRIVEN_JOBS_DISABLED_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    RESET_FROM_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    LOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    context_name: str
    plan_version: int
    status: _common_pb2.InstanceStatus
    created_date_time: int
    updated_date_time: int
    start_time: int
    end_time: int
    projected_end_time: int
    timezone: str
    run_context_until_manually_ended: bool
    contains_repeating_jobs: bool
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameterInstance]
    quartz_schedule_driven_jobs_disabled: bool
    dry_run: bool
    dry_run_parameters: _common_pb2.DryRunParameters
    contexts: _containers.RepeatedCompositeFieldContainer[ContextStatus]
    jobs: _containers.RepeatedCompositeFieldContainer[SchedulerJobInstance]
    environment_group: str
    created_by: str
    reset_from_instance_id: str
    load_error: str
    def __init__(self, id: _Optional[str] = ..., context_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., created_date_time: _Optional[int] = ..., updated_date_time: _Optional[int] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., projected_end_time: _Optional[int] = ..., timezone: _Optional[str] = ..., run_context_until_manually_ended: _Optional[bool] = ..., contains_repeating_jobs: _Optional[bool] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameterInstance, _Mapping]]] = ..., quartz_schedule_driven_jobs_disabled: _Optional[bool] = ..., dry_run: _Optional[bool] = ..., dry_run_parameters: _Optional[_Union[_common_pb2.DryRunParameters, _Mapping]] = ..., contexts: _Optional[_Iterable[_Union[ContextStatus, _Mapping]]] = ..., jobs: _Optional[_Iterable[_Union[SchedulerJobInstance, _Mapping]]] = ..., environment_group: _Optional[str] = ..., created_by: _Optional[str] = ..., reset_from_instance_id: _Optional[str] = ..., load_error: _Optional[str] = ...) -> None: ...

class ContextStatus(_message.Message):
    __slots__ = ("context_name", "parent_context_name", "status", "depth")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    parent_context_name: str
    status: _common_pb2.InstanceStatus
    depth: int
    def __init__(self, context_name: _Optional[str] = ..., parent_context_name: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., depth: _Optional[int] = ...) -> None: ...

class SchedulerJobInstance(_message.Message):
    __slots__ = ("identifier", "agent_name", "job_name", "child_context_name", "context_instance_id", "job_type", "status", "held", "skip", "initiation_event_raised", "error_acknowledged", "error_acknowledged_message", "error_acknowledgment_ticket_id", "error_acknowledge_user", "error_acknowledge_timestamp", "killed", "pid", "return_code", "start_time", "end_time", "attempts", "initiation_id", "scheduled_process_event", "display_name", "status_reason", "job_repeatable", "outcome_reason", "duration_millis", "agent_hostname")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    INITIATION_EVENT_RAISED_FIELD_NUMBER: _ClassVar[int]
    ERROR_ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    ERROR_ACKNOWLEDGED_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_ACKNOWLEDGMENT_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_ACKNOWLEDGE_USER_FIELD_NUMBER: _ClassVar[int]
    ERROR_ACKNOWLEDGE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    KILLED_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RETURN_CODE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_PROCESS_EVENT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    JOB_REPEATABLE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_REASON_FIELD_NUMBER: _ClassVar[int]
    DURATION_MILLIS_FIELD_NUMBER: _ClassVar[int]
    AGENT_HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    agent_name: str
    job_name: str
    child_context_name: str
    context_instance_id: str
    job_type: _common_pb2.JobType
    status: _common_pb2.InstanceStatus
    held: bool
    skip: bool
    initiation_event_raised: bool
    error_acknowledged: bool
    error_acknowledged_message: str
    error_acknowledgment_ticket_id: str
    error_acknowledge_user: str
    error_acknowledge_timestamp: int
    killed: bool
    pid: int
    return_code: int
    start_time: int
    end_time: int
    attempts: int
    initiation_id: str
    scheduled_process_event: _events_pb2.ContextualisedScheduledProcessEvent
    display_name: str
    status_reason: str
    job_repeatable: bool
    outcome_reason: str
    duration_millis: int
    agent_hostname: str
    def __init__(self, identifier: _Optional[str] = ..., agent_name: _Optional[str] = ..., job_name: _Optional[str] = ..., child_context_name: _Optional[str] = ..., context_instance_id: _Optional[str] = ..., job_type: _Optional[_Union[_common_pb2.JobType, str]] = ..., status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., held: _Optional[bool] = ..., skip: _Optional[bool] = ..., initiation_event_raised: _Optional[bool] = ..., error_acknowledged: _Optional[bool] = ..., error_acknowledged_message: _Optional[str] = ..., error_acknowledgment_ticket_id: _Optional[str] = ..., error_acknowledge_user: _Optional[str] = ..., error_acknowledge_timestamp: _Optional[int] = ..., killed: _Optional[bool] = ..., pid: _Optional[int] = ..., return_code: _Optional[int] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., attempts: _Optional[int] = ..., initiation_id: _Optional[str] = ..., scheduled_process_event: _Optional[_Union[_events_pb2.ContextualisedScheduledProcessEvent, _Mapping]] = ..., display_name: _Optional[str] = ..., status_reason: _Optional[str] = ..., job_repeatable: _Optional[bool] = ..., outcome_reason: _Optional[str] = ..., duration_millis: _Optional[int] = ..., agent_hostname: _Optional[str] = ...) -> None: ...

class InstanceChange(_message.Message):
    __slots__ = ("position", "time", "context_instance_id", "context_name", "context", "job")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    position: int
    time: int
    context_instance_id: str
    context_name: str
    context: ContextStatusChange
    job: JobStatusChange
    def __init__(self, position: _Optional[int] = ..., time: _Optional[int] = ..., context_instance_id: _Optional[str] = ..., context_name: _Optional[str] = ..., context: _Optional[_Union[ContextStatusChange, _Mapping]] = ..., job: _Optional[_Union[JobStatusChange, _Mapping]] = ...) -> None: ...

class ContextStatusChange(_message.Message):
    __slots__ = ("context_name", "previous_status", "new_status")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    NEW_STATUS_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    previous_status: _common_pb2.InstanceStatus
    new_status: _common_pb2.InstanceStatus
    def __init__(self, context_name: _Optional[str] = ..., previous_status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., new_status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ...) -> None: ...

class JobStatusChange(_message.Message):
    __slots__ = ("job_identifier", "child_context_name", "previous_status", "new_status", "cause", "actor")
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    NEW_STATUS_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    job_identifier: str
    child_context_name: str
    previous_status: _common_pb2.InstanceStatus
    new_status: _common_pb2.InstanceStatus
    cause: str
    actor: str
    def __init__(self, job_identifier: _Optional[str] = ..., child_context_name: _Optional[str] = ..., previous_status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., new_status: _Optional[_Union[_common_pb2.InstanceStatus, str]] = ..., cause: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class MissedRun(_message.Message):
    __slots__ = ("context_name", "scheduled_time", "detected_time", "reason")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_TIME_FIELD_NUMBER: _ClassVar[int]
    DETECTED_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    scheduled_time: int
    detected_time: int
    reason: str
    def __init__(self, context_name: _Optional[str] = ..., scheduled_time: _Optional[int] = ..., detected_time: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...
