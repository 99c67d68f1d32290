from ikasched.v1 import common_pb2 as _common_pb2
from ikasched.v1 import events_pb2 as _events_pb2
from ikasched.v1 import plan_pb2 as _plan_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_STREAM_UNSPECIFIED: _ClassVar[LogStream]
    STDOUT: _ClassVar[LogStream]
    STDERR: _ClassVar[LogStream]
LOG_STREAM_UNSPECIFIED: LogStream
STDOUT: LogStream
STDERR: LogStream

class AgentFrame(_message.Message):
    __slots__ = ("hello", "batch", "ack", "heartbeat", "lane")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    hello: AgentHello
    batch: AgentBatch
    ack: LinkAck
    heartbeat: Heartbeat
    lane: AgentLaneMessage
    def __init__(self, hello: _Optional[_Union[AgentHello, _Mapping]] = ..., batch: _Optional[_Union[AgentBatch, _Mapping]] = ..., ack: _Optional[_Union[LinkAck, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., lane: _Optional[_Union[AgentLaneMessage, _Mapping]] = ...) -> None: ...

class DashboardFrame(_message.Message):
    __slots__ = ("welcome", "batch", "ack", "heartbeat", "lane")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    welcome: DashboardWelcome
    batch: DashboardBatch
    ack: LinkAck
    heartbeat: Heartbeat
    lane: DashboardLaneMessage
    def __init__(self, welcome: _Optional[_Union[DashboardWelcome, _Mapping]] = ..., batch: _Optional[_Union[DashboardBatch, _Mapping]] = ..., ack: _Optional[_Union[LinkAck, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., lane: _Optional[_Union[DashboardLaneMessage, _Mapping]] = ...) -> None: ...

class AgentHello(_message.Message):
    __slots__ = ("agent_name", "agent_hostname", "agent_version", "protocol_version", "last_journaled_seq", "last_assigned_seq", "agent_instance_id", "max_concurrent_jobs", "pid", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_JOURNALED_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_ASSIGNED_SEQ_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_JOBS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    agent_hostname: str
    agent_version: str
    protocol_version: int
    last_journaled_seq: int
    last_assigned_seq: int
    agent_instance_id: str
    max_concurrent_jobs: int
    pid: int
    labels: _containers.ScalarMap[str, str]
    def __init__(self, agent_name: _Optional[str] = ..., agent_hostname: _Optional[str] = ..., agent_version: _Optional[str] = ..., protocol_version: _Optional[int] = ..., last_journaled_seq: _Optional[int] = ..., last_assigned_seq: _Optional[int] = ..., agent_instance_id: _Optional[str] = ..., max_concurrent_jobs: _Optional[int] = ..., pid: _Optional[int] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DashboardWelcome(_message.Message):
    __slots__ = ("dashboard_version", "protocol_version", "last_journaled_seq", "last_assigned_seq", "heartbeat_interval_millis", "liveness_timeout_millis", "max_batch_messages", "max_frame_bytes", "dashboard_id")
    DASHBOARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_JOURNALED_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_ASSIGNED_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MILLIS_FIELD_NUMBER: _ClassVar[int]
    LIVENESS_TIMEOUT_MILLIS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_BYTES_FIELD_NUMBER: _ClassVar[int]
    DASHBOARD_ID_FIELD_NUMBER: _ClassVar[int]
    dashboard_version: str
    protocol_version: int
    last_journaled_seq: int
    last_assigned_seq: int
    heartbeat_interval_millis: int
    liveness_timeout_millis: int
    max_batch_messages: int
    max_frame_bytes: int
    dashboard_id: str
    def __init__(self, dashboard_version: _Optional[str] = ..., protocol_version: _Optional[int] = ..., last_journaled_seq: _Optional[int] = ..., last_assigned_seq: _Optional[int] = ..., heartbeat_interval_millis: _Optional[int] = ..., liveness_timeout_millis: _Optional[int] = ..., max_batch_messages: _Optional[int] = ..., max_frame_bytes: _Optional[int] = ..., dashboard_id: _Optional[str] = ...) -> None: ...

class LinkAck(_message.Message):
    __slots__ = ("journaled_up_to",)
    JOURNALED_UP_TO_FIELD_NUMBER: _ClassVar[int]
    journaled_up_to: int
    def __init__(self, journaled_up_to: _Optional[int] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("sent_time",)
    SENT_TIME_FIELD_NUMBER: _ClassVar[int]
    sent_time: int
    def __init__(self, sent_time: _Optional[int] = ...) -> None: ...

class AgentBatch(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[SequencedAgentMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[SequencedAgentMessage, _Mapping]]] = ...) -> None: ...

class SequencedAgentMessage(_message.Message):
    __slots__ = ("seq", "message")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    message: AgentMessage
    def __init__(self, seq: _Optional[int] = ..., message: _Optional[_Union[AgentMessage, _Mapping]] = ...) -> None: ...

class DashboardBatch(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[SequencedDashboardMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[SequencedDashboardMessage, _Mapping]]] = ...) -> None: ...

class SequencedDashboardMessage(_message.Message):
    __slots__ = ("seq", "message")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    message: DashboardMessage
    def __init__(self, seq: _Optional[int] = ..., message: _Optional[_Union[DashboardMessage, _Mapping]] = ...) -> None: ...

class AgentMessage(_message.Message):
    __slots__ = ("id", "created_time", "process_event", "alert")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    PROCESS_EVENT_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_time: int
    process_event: _events_pb2.ContextualisedScheduledProcessEvent
    alert: AgentAlert
    def __init__(self, id: _Optional[str] = ..., created_time: _Optional[int] = ..., process_event: _Optional[_Union[_events_pb2.ContextualisedScheduledProcessEvent, _Mapping]] = ..., alert: _Optional[_Union[AgentAlert, _Mapping]] = ...) -> None: ...

class DashboardMessage(_message.Message):
    __slots__ = ("id", "created_time", "initiation", "cancel_initiation", "activate_instance", "remove_instance", "sync_instances", "provision_jobs", "remove_plan_jobs", "kill_job", "manual_fire", "set_dry_run_mode")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    INITIATION_FIELD_NUMBER: _ClassVar[int]
    CANCEL_INITIATION_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    SYNC_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    PROVISION_JOBS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_PLAN_JOBS_FIELD_NUMBER: _ClassVar[int]
    KILL_JOB_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIRE_FIELD_NUMBER: _ClassVar[int]
    SET_DRY_RUN_MODE_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_time: int
    initiation: _events_pb2.SchedulerJobInitiationEvent
    cancel_initiation: CancelInitiation
    activate_instance: ActivateInstance
    remove_instance: RemoveInstance
    sync_instances: SyncInstances
    provision_jobs: ProvisionJobs
    remove_plan_jobs: RemovePlanJobs
    kill_job: KillJob
    manual_fire: ManualFire
    set_dry_run_mode: SetDryRunMode
    def __init__(self, id: _Optional[str] = ..., created_time: _Optional[int] = ..., initiation: _Optional[_Union[_events_pb2.SchedulerJobInitiationEvent, _Mapping]] = ..., cancel_initiation: _Optional[_Union[CancelInitiation, _Mapping]] = ..., activate_instance: _Optional[_Union[ActivateInstance, _Mapping]] = ..., remove_instance: _Optional[_Union[RemoveInstance, _Mapping]] = ..., sync_instances: _Optional[_Union[SyncInstances, _Mapping]] = ..., provision_jobs: _Optional[_Union[ProvisionJobs, _Mapping]] = ..., remove_plan_jobs: _Optional[_Union[RemovePlanJobs, _Mapping]] = ..., kill_job: _Optional[_Union[KillJob, _Mapping]] = ..., manual_fire: _Optional[_Union[ManualFire, _Mapping]] = ..., set_dry_run_mode: _Optional[_Union[SetDryRunMode, _Mapping]] = ...) -> None: ...

class CancelInitiation(_message.Message):
    __slots__ = ("initiation_id", "reason")
    INITIATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    initiation_id: str
    reason: str
    def __init__(self, initiation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ActivateInstance(_message.Message):
    __slots__ = ("context_instance_id", "context_name", "start_time", "projected_end_time", "timezone", "quartz_schedule_driven_jobs_disabled", "context_parameters", "job_identifiers", "dry_run", "dry_run_parameters", "child_context_names")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_END_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    QUARTZ_SCHEDULE_DRIVEN_JOBS_DISABLED_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAMES_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    context_name: str
    start_time: int
    projected_end_time: int
    timezone: str
    quartz_schedule_driven_jobs_disabled: bool
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameterInstance]
    job_identifiers: _containers.RepeatedScalarFieldContainer[str]
    dry_run: bool
    dry_run_parameters: _common_pb2.DryRunParameters
    child_context_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, context_instance_id: _Optional[str] = ..., context_name: _Optional[str] = ..., start_time: _Optional[int] = ..., projected_end_time: _Optional[int] = ..., timezone: _Optional[str] = ..., quartz_schedule_driven_jobs_disabled: _Optional[bool] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameterInstance, _Mapping]]] = ..., job_identifiers: _Optional[_Iterable[str]] = ..., dry_run: _Optional[bool] = ..., dry_run_parameters: _Optional[_Union[_common_pb2.DryRunParameters, _Mapping]] = ..., child_context_names: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveInstance(_message.Message):
    __slots__ = ("context_instance_id", "kill_running_jobs")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    KILL_RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    kill_running_jobs: bool
    def __init__(self, context_instance_id: _Optional[str] = ..., kill_running_jobs: _Optional[bool] = ...) -> None: ...

class SyncInstances(_message.Message):
    __slots__ = ("instances", "sync_id", "part", "parts")
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    instances: _containers.RepeatedCompositeFieldContainer[ActivateInstance]
    sync_id: str
    part: int
    parts: int
    def __init__(self, instances: _Optional[_Iterable[_Union[ActivateInstance, _Mapping]]] = ..., sync_id: _Optional[str] = ..., part: _Optional[int] = ..., parts: _Optional[int] = ...) -> None: ...

class ProvisionJobs(_message.Message):
    __slots__ = ("context_name", "plan_version", "jobs", "timezone", "sync_id", "part", "parts")
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    plan_version: int
    jobs: _containers.RepeatedCompositeFieldContainer[_plan_pb2.SchedulerJob]
    timezone: str
    sync_id: str
    part: int
    parts: int
    def __init__(self, context_name: _Optional[str] = ..., plan_version: _Optional[int] = ..., jobs: _Optional[_Iterable[_Union[_plan_pb2.SchedulerJob, _Mapping]]] = ..., timezone: _Optional[str] = ..., sync_id: _Optional[str] = ..., part: _Optional[int] = ..., parts: _Optional[int] = ...) -> None: ...

class RemovePlanJobs(_message.Message):
    __slots__ = ("context_name",)
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    context_name: str
    def __init__(self, context_name: _Optional[str] = ...) -> None: ...

class KillJob(_message.Message):
    __slots__ = ("initiation_id", "context_instance_id", "job_identifier", "pid", "destroy", "reason", "user")
    INITIATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    DESTROY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    initiation_id: str
    context_instance_id: str
    job_identifier: str
    pid: int
    destroy: bool
    reason: str
    user: str
    def __init__(self, initiation_id: _Optional[str] = ..., context_instance_id: _Optional[str] = ..., job_identifier: _Optional[str] = ..., pid: _Optional[int] = ..., destroy: _Optional[bool] = ..., reason: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class ManualFire(_message.Message):
    __slots__ = ("context_instance_id", "job_identifier", "child_context_name", "user")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    job_identifier: str
    child_context_name: str
    user: str
    def __init__(self, context_instance_id: _Optional[str] = ..., job_identifier: _Optional[str] = ..., child_context_name: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class SetDryRunMode(_message.Message):
    __slots__ = ("dry_run_mode", "job_dry_run", "dry_run_file_list")
    class JobDryRunEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    DRY_RUN_MODE_FIELD_NUMBER: _ClassVar[int]
    JOB_DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FILE_LIST_FIELD_NUMBER: _ClassVar[int]
    dry_run_mode: bool
    job_dry_run: _containers.ScalarMap[str, bool]
    dry_run_file_list: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dry_run_mode: _Optional[bool] = ..., job_dry_run: _Optional[_Mapping[str, bool]] = ..., dry_run_file_list: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentAlert(_message.Message):
    __slots__ = ("type", "context_instance_id", "context_name", "job_identifier", "message", "time")
    class AlertType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ALERT_TYPE_UNSPECIFIED: _ClassVar[AgentAlert.AlertType]
        ALERT_ERROR: _ClassVar[AgentAlert.AlertType]
        ALERT_OVERDUE: _ClassVar[AgentAlert.AlertType]
        ALERT_RUNNING_TIME: _ClassVar[AgentAlert.AlertType]
        ALERT_MISFIRE: _ClassVar[AgentAlert.AlertType]
    ALERT_TYPE_UNSPECIFIED: AgentAlert.AlertType
    ALERT_ERROR: AgentAlert.AlertType
    ALERT_OVERDUE: AgentAlert.AlertType
    ALERT_RUNNING_TIME: AgentAlert.AlertType
    ALERT_MISFIRE: AgentAlert.AlertType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    type: AgentAlert.AlertType
    context_instance_id: str
    context_name: str
    job_identifier: str
    message: str
    time: int
    def __init__(self, type: _Optional[_Union[AgentAlert.AlertType, str]] = ..., context_instance_id: _Optional[str] = ..., context_name: _Optional[str] = ..., job_identifier: _Optional[str] = ..., message: _Optional[str] = ..., time: _Optional[int] = ...) -> None: ...

class DashboardLaneMessage(_message.Message):
    __slots__ = ("log_request", "log_cancel")
    LOG_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LOG_CANCEL_FIELD_NUMBER: _ClassVar[int]
    log_request: LogRequest
    log_cancel: LogCancel
    def __init__(self, log_request: _Optional[_Union[LogRequest, _Mapping]] = ..., log_cancel: _Optional[_Union[LogCancel, _Mapping]] = ...) -> None: ...

class AgentLaneMessage(_message.Message):
    __slots__ = ("log_chunk", "status")
    LOG_CHUNK_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    log_chunk: LogChunk
    status: AgentStatus
    def __init__(self, log_chunk: _Optional[_Union[LogChunk, _Mapping]] = ..., status: _Optional[_Union[AgentStatus, _Mapping]] = ...) -> None: ...

class LogRequest(_message.Message):
    __slots__ = ("request_id", "initiation_id", "stream", "offset", "follow", "max_bytes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INITIATION_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    initiation_id: str
    stream: LogStream
    offset: int
    follow: bool
    max_bytes: int
    def __init__(self, request_id: _Optional[str] = ..., initiation_id: _Optional[str] = ..., stream: _Optional[_Union[LogStream, str]] = ..., offset: _Optional[int] = ..., follow: _Optional[bool] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class LogCancel(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class LogChunk(_message.Message):
    __slots__ = ("request_id", "offset", "data", "eof", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    offset: int
    data: bytes
    eof: bool
    error: str
    def __init__(self, request_id: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., eof: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("running_jobs", "queued_jobs", "active_instances", "outbox_size")
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_JOBS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_SIZE_FIELD_NUMBER: _ClassVar[int]
    running_jobs: int
    queued_jobs: int
    active_instances: int
    outbox_size: int
    def __init__(self, running_jobs: _Optional[int] = ..., queued_jobs: _Optional[int] = ..., active_instances: _Optional[int] = ..., outbox_size: _Optional[int] = ...) -> None: ...
