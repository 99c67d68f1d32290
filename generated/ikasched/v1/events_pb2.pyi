from ikasched.v1 import common_pb2 as _common_pb2
from ikasched.v1 import plan_pb2 as _plan_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScheduledProcessEvent(_message.Message):
    __slots__ = ("id", "outcome", "agent_name", "agent_hostname", "job_name", "job_description", "job_group", "command_line", "return_code", "successful", "result_output", "result_error", "pid", "user", "fire_time", "next_fire_time", "completion_time", "job_starting", "dry_run", "dry_run_parameters", "execution_details")
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    JOB_GROUP_FIELD_NUMBER: _ClassVar[int]
    COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    RETURN_CODE_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_FIELD_NUMBER: _ClassVar[int]
    RESULT_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RESULT_ERROR_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TIME_FIELD_NUMBER: _ClassVar[int]
    JOB_STARTING_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_DETAILS_FIELD_NUMBER: _ClassVar[int]
    id: str
    outcome: _common_pb2.Outcome
    agent_name: str
    agent_hostname: str
    job_name: str
    job_description: str
    job_group: str
    command_line: str
    return_code: int
    successful: bool
    result_output: str
    result_error: str
    pid: int
    user: str
    fire_time: int
    next_fire_time: int
    completion_time: int
    job_starting: bool
    dry_run: bool
    dry_run_parameters: _common_pb2.DryRunParameters
    execution_details: str
    def __init__(self, id: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.Outcome, str]] = ..., agent_name: _Optional[str] = ..., agent_hostname: _Optional[str] = ..., job_name: _Optional[str] = ..., job_description: _Optional[str] = ..., job_group: _Optional[str] = ..., command_line: _Optional[str] = ..., return_code: _Optional[int] = ..., successful: _Optional[bool] = ..., result_output: _Optional[str] = ..., result_error: _Optional[str] = ..., pid: _Optional[int] = ..., user: _Optional[str] = ..., fire_time: _Optional[int] = ..., next_fire_time: _Optional[int] = ..., completion_time: _Optional[int] = ..., job_starting: _Optional[bool] = ..., dry_run: _Optional[bool] = ..., dry_run_parameters: _Optional[_Union[_common_pb2.DryRunParameters, _Mapping]] = ..., execution_details: _Optional[str] = ...) -> None: ...

class ContextualisedScheduledProcessEvent(_message.Message):
    __slots__ = ("id", "outcome", "agent_name", "agent_hostname", "job_name", "job_description", "job_group", "command_line", "return_code", "successful", "result_output", "result_error", "pid", "user", "fire_time", "next_fire_time", "completion_time", "job_starting", "dry_run", "dry_run_parameters", "execution_details", "context_name", "child_context_names", "context_instance_id", "skipped", "internal_event_driven_job", "raised_due_to_failure_resubmission", "catalyst_event", "job_execution_output_parameters", "initiation_id", "job_identifier", "matched_file_names", "attempt", "outcome_reason", "process_start_time", "manual")
    class JobExecutionOutputParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    JOB_GROUP_FIELD_NUMBER: _ClassVar[int]
    COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    RETURN_CODE_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_FIELD_NUMBER: _ClassVar[int]
    RESULT_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RESULT_ERROR_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TIME_FIELD_NUMBER: _ClassVar[int]
    JOB_STARTING_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_DETAILS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAMES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_EVENT_DRIVEN_JOB_FIELD_NUMBER: _ClassVar[int]
    RAISED_DUE_TO_FAILURE_RESUBMISSION_FIELD_NUMBER: _ClassVar[int]
    CATALYST_EVENT_FIELD_NUMBER: _ClassVar[int]
    JOB_EXECUTION_OUTPUT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    INITIATION_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FILE_NAMES_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_REASON_FIELD_NUMBER: _ClassVar[int]
    PROCESS_START_TIME_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    outcome: _common_pb2.Outcome
    agent_name: str
    agent_hostname: str
    job_name: str
    job_description: str
    job_group: str
    command_line: str
    return_code: int
    successful: bool
    result_output: str
    result_error: str
    pid: int
    user: str
    fire_time: int
    next_fire_time: int
    completion_time: int
    job_starting: bool
    dry_run: bool
    dry_run_parameters: _common_pb2.DryRunParameters
    execution_details: str
    context_name: str
    child_context_names: _containers.RepeatedScalarFieldContainer[str]
    context_instance_id: str
    skipped: bool
    internal_event_driven_job: _plan_pb2.InternalEventDrivenJob
    raised_due_to_failure_resubmission: bool
    catalyst_event: ScheduledProcessEvent
    job_execution_output_parameters: _containers.ScalarMap[str, str]
    initiation_id: str
    job_identifier: str
    matched_file_names: _containers.RepeatedScalarFieldContainer[str]
    attempt: int
    outcome_reason: str
    process_start_time: int
    manual: bool
    def __init__(self, id: _Optional[str] = ..., outcome: _Optional[_Union[_common_pb2.Outcome, str]] = ..., agent_name: _Optional[str] = ..., agent_hostname: _Optional[str] = ..., job_name: _Optional[str] = ..., job_description: _Optional[str] = ..., job_group: _Optional[str] = ..., command_line: _Optional[str] = ..., return_code: _Optional[int] = ..., successful: _Optional[bool] = ..., result_output: _Optional[str] = ..., result_error: _Optional[str] = ..., pid: _Optional[int] = ..., user: _Optional[str] = ..., fire_time: _Optional[int] = ..., next_fire_time: _Optional[int] = ..., completion_time: _Optional[int] = ..., job_starting: _Optional[bool] = ..., dry_run: _Optional[bool] = ..., dry_run_parameters: _Optional[_Union[_common_pb2.DryRunParameters, _Mapping]] = ..., execution_details: _Optional[str] = ..., context_name: _Optional[str] = ..., child_context_names: _Optional[_Iterable[str]] = ..., context_instance_id: _Optional[str] = ..., skipped: _Optional[bool] = ..., internal_event_driven_job: _Optional[_Union[_plan_pb2.InternalEventDrivenJob, _Mapping]] = ..., raised_due_to_failure_resubmission: _Optional[bool] = ..., catalyst_event: _Optional[_Union[ScheduledProcessEvent, _Mapping]] = ..., job_execution_output_parameters: _Optional[_Mapping[str, str]] = ..., initiation_id: _Optional[str] = ..., job_identifier: _Optional[str] = ..., matched_file_names: _Optional[_Iterable[str]] = ..., attempt: _Optional[int] = ..., outcome_reason: _Optional[str] = ..., process_start_time: _Optional[int] = ..., manual: _Optional[bool] = ...) -> None: ...

class SchedulerJobInitiationEvent(_message.Message):
    __slots__ = ("id", "agent_name", "agent_url", "job_name", "internal_event_driven_job", "context_name", "child_context_names", "context_instance_id", "context_parameters", "dry_run", "dry_run_parameters", "skipped", "catalyst_event", "job_identifier", "child_context_name", "priority", "attempt", "raised_time", "job_description", "job_execution_output_parameters", "manually_submitted_by")
    class JobExecutionOutputParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    AGENT_URL_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_EVENT_DRIVEN_JOB_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAMES_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    CATALYST_EVENT_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RAISED_TIME_FIELD_NUMBER: _ClassVar[int]
    JOB_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    JOB_EXECUTION_OUTPUT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    MANUALLY_SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    id: str
    agent_name: str
    agent_url: str
    job_name: str
    internal_event_driven_job: _plan_pb2.InternalEventDrivenJob
    context_name: str
    child_context_names: _containers.RepeatedScalarFieldContainer[str]
    context_instance_id: str
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameterInstance]
    dry_run: bool
    dry_run_parameters: _common_pb2.DryRunParameters
    skipped: bool
    catalyst_event: ScheduledProcessEvent
    job_identifier: str
    child_context_name: str
    priority: int
    attempt: int
    raised_time: int
    job_description: str
    job_execution_output_parameters: _containers.ScalarMap[str, str]
    manually_submitted_by: str
    def __init__(self, id: _Optional[str] = ..., agent_name: _Optional[str] = ..., agent_url: _Optional[str] = ..., job_name: _Optional[str] = ..., internal_event_driven_job: _Optional[_Union[_plan_pb2.InternalEventDrivenJob, _Mapping]] = ..., context_name: _Optional[str] = ..., child_context_names: _Optional[_Iterable[str]] = ..., context_instance_id: _Optional[str] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameterInstance, _Mapping]]] = ..., dry_run: _Optional[bool] = ..., dry_run_parameters: _Optional[_Union[_common_pb2.DryRunParameters, _Mapping]] = ..., skipped: _Optional[bool] = ..., catalyst_event: _Optional[_Union[ScheduledProcessEvent, _Mapping]] = ..., job_identifier: _Optional[str] = ..., child_context_name: _Optional[str] = ..., priority: _Optional[int] = ..., attempt: _Optional[int] = ..., raised_time: _Optional[int] = ..., job_description: _Optional[str] = ..., job_execution_output_parameters: _Optional[_Mapping[str, str]] = ..., manually_submitted_by: _Optional[str] = ...) -> None: ...
