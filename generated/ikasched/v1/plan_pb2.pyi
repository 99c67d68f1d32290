from ikasched.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Context(_message.Message):
    __slots__ = ("name", "description", "time_window_start", "context_ttl_milliseconds", "timezone", "blackout_window_cron_expressions", "blackout_window_date_time_ranges", "environment_group", "quartz_schedule_driven_jobs_disabled_for_context", "able_to_run_concurrently", "end_job_plan_upon_completion", "custom_week_day_of_month", "disabled", "delay_agent_synchronisation_until_next_instance", "requires_agent_synchronisation", "context_parameters", "scheduled_jobs", "job_dependencies", "contexts", "context_dependencies", "job_locks", "ordinal", "misfire_grace_seconds", "owner", "labels", "calendar", "calendar_shift", "exclude_calendar", "notifications")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TIME_WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TTL_MILLISECONDS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    BLACKOUT_WINDOW_CRON_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    BLACKOUT_WINDOW_DATE_TIME_RANGES_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    QUARTZ_SCHEDULE_DRIVEN_JOBS_DISABLED_FOR_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ABLE_TO_RUN_CONCURRENTLY_FIELD_NUMBER: _ClassVar[int]
    END_JOB_PLAN_UPON_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_WEEK_DAY_OF_MONTH_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    DELAY_AGENT_SYNCHRONISATION_UNTIL_NEXT_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_AGENT_SYNCHRONISATION_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_JOBS_FIELD_NUMBER: _ClassVar[int]
    JOB_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    JOB_LOCKS_FIELD_NUMBER: _ClassVar[int]
    ORDINAL_FIELD_NUMBER: _ClassVar[int]
    MISFIRE_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_SHIFT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_CALENDAR_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    time_window_start: str
    context_ttl_milliseconds: int
    timezone: str
    blackout_window_cron_expressions: _containers.RepeatedScalarFieldContainer[str]
    blackout_window_date_time_ranges: _containers.RepeatedCompositeFieldContainer[_common_pb2.DateTimeRange]
    environment_group: str
    quartz_schedule_driven_jobs_disabled_for_context: bool
    able_to_run_concurrently: bool
    end_job_plan_upon_completion: bool
    custom_week_day_of_month: bool
    disabled: bool
    delay_agent_synchronisation_until_next_instance: bool
    requires_agent_synchronisation: bool
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameter]
    scheduled_jobs: _containers.RepeatedCompositeFieldContainer[SchedulerJob]
    job_dependencies: _containers.RepeatedCompositeFieldContainer[JobDependency]
    contexts: _containers.RepeatedCompositeFieldContainer[Context]
    context_dependencies: _containers.RepeatedCompositeFieldContainer[ContextDependency]
    job_locks: _containers.RepeatedCompositeFieldContainer[JobLock]
    ordinal: int
    misfire_grace_seconds: int
    owner: str
    labels: _containers.ScalarMap[str, str]
    calendar: str
    calendar_shift: str
    exclude_calendar: str
    notifications: _containers.RepeatedCompositeFieldContainer[PlanNotification]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., time_window_start: _Optional[str] = ..., context_ttl_milliseconds: _Optional[int] = ..., timezone: _Optional[str] = ..., blackout_window_cron_expressions: _Optional[_Iterable[str]] = ..., blackout_window_date_time_ranges: _Optional[_Iterable[_Union[_common_pb2.DateTimeRange, _Mapping]]] = ..., environment_group: _Optional[str] = ..., quartz_schedule_driven_jobs_disabled_for_context: _Optional[bool] = ..., able_to_run_concurrently: _Optional[bool] = ..., end_job_plan_upon_completion: _Optional[bool] = ..., custom_week_day_of_month: _Optional[bool] = ..., disabled: _Optional[bool] = ..., delay_agent_synchronisation_until_next_instance: _Optional[bool] = ..., requires_agent_synchronisation: _Optional[bool] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameter, _Mapping]]] = ..., scheduled_jobs: _Optional[_Iterable[_Union[SchedulerJob, _Mapping]]] = ..., job_dependencies: _Optional[_Iterable[_Union[JobDependency, _Mapping]]] = ..., contexts: _Optional[_Iterable[_Union[Context, _Mapping]]] = ..., context_dependencies: _Optional[_Iterable[_Union[ContextDependency, _Mapping]]] = ..., job_locks: _Optional[_Iterable[_Union[JobLock, _Mapping]]] = ..., ordinal: _Optional[int] = ..., misfire_grace_seconds: _Optional[int] = ..., owner: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., calendar: _Optional[str] = ..., calendar_shift: _Optional[str] = ..., exclude_calendar: _Optional[str] = ..., notifications: _Optional[_Iterable[_Union[PlanNotification, _Mapping]]] = ...) -> None: ...

class SchedulerJob(_message.Message):
    __slots__ = ("identifier", "agent_name", "job_name", "display_name", "job_description", "startup_control_type", "skipped_contexts", "held_contexts", "ordinal", "priority", "owner", "child_context_names", "internal_event_driven_job", "quartz_schedule_driven_job", "file_event_driven_job", "global_event_job", "context_start_job", "context_terminal_job", "local_event_job", "bridging_job", "notifications")
    class SkippedContextsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    class HeldContextsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STARTUP_CONTROL_TYPE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    HELD_CONTEXTS_FIELD_NUMBER: _ClassVar[int]
    ORDINAL_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAMES_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_EVENT_DRIVEN_JOB_FIELD_NUMBER: _ClassVar[int]
    QUARTZ_SCHEDULE_DRIVEN_JOB_FIELD_NUMBER: _ClassVar[int]
    FILE_EVENT_DRIVEN_JOB_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_EVENT_JOB_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_START_JOB_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TERMINAL_JOB_FIELD_NUMBER: _ClassVar[int]
    LOCAL_EVENT_JOB_FIELD_NUMBER: _ClassVar[int]
    BRIDGING_JOB_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    agent_name: str
    job_name: str
    display_name: str
    job_description: str
    startup_control_type: _common_pb2.StartupControlType
    skipped_contexts: _containers.ScalarMap[str, bool]
    held_contexts: _containers.ScalarMap[str, bool]
    ordinal: int
    priority: int
    owner: str
    child_context_names: _containers.RepeatedScalarFieldContainer[str]
    internal_event_driven_job: InternalEventDrivenJob
    quartz_schedule_driven_job: QuartzScheduleDrivenJob
    file_event_driven_job: FileEventDrivenJob
    global_event_job: GlobalEventJob
    context_start_job: ContextStartJob
    context_terminal_job: ContextTerminalJob
    local_event_job: LocalEventJob
    bridging_job: BridgingJob
    notifications: _containers.RepeatedCompositeFieldContainer[PlanNotification]
    def __init__(self, identifier: _Optional[str] = ..., agent_name: _Optional[str] = ..., job_name: _Optional[str] = ..., display_name: _Optional[str] = ..., job_description: _Optional[str] = ..., startup_control_type: _Optional[_Union[_common_pb2.StartupControlType, str]] = ..., skipped_contexts: _Optional[_Mapping[str, bool]] = ..., held_contexts: _Optional[_Mapping[str, bool]] = ..., ordinal: _Optional[int] = ..., priority: _Optional[int] = ..., owner: _Optional[str] = ..., child_context_names: _Optional[_Iterable[str]] = ..., internal_event_driven_job: _Optional[_Union[InternalEventDrivenJob, _Mapping]] = ..., quartz_schedule_driven_job: _Optional[_Union[QuartzScheduleDrivenJob, _Mapping]] = ..., file_event_driven_job: _Optional[_Union[FileEventDrivenJob, _Mapping]] = ..., global_event_job: _Optional[_Union[GlobalEventJob, _Mapping]] = ..., context_start_job: _Optional[_Union[ContextStartJob, _Mapping]] = ..., context_terminal_job: _Optional[_Union[ContextTerminalJob, _Mapping]] = ..., local_event_job: _Optional[_Union[LocalEventJob, _Mapping]] = ..., bridging_job: _Optional[_Union[BridgingJob, _Mapping]] = ..., notifications: _Optional[_Iterable[_Union[PlanNotification, _Mapping]]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("count", "delay_seconds")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    count: int
    delay_seconds: int
    def __init__(self, count: _Optional[int] = ..., delay_seconds: _Optional[int] = ...) -> None: ...

class InternalEventDrivenJob(_message.Message):
    __slots__ = ("command_line", "working_directory", "successful_return_codes", "min_execution_time", "max_execution_time", "context_parameters", "days_of_week_to_run", "target_residing_context_only", "participates_in_lock", "execution_environment_properties", "job_repeatable", "timeout_seconds", "retry", "run_as_user")
    COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_RETURN_CODES_FIELD_NUMBER: _ClassVar[int]
    MIN_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    DAYS_OF_WEEK_TO_RUN_FIELD_NUMBER: _ClassVar[int]
    TARGET_RESIDING_CONTEXT_ONLY_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATES_IN_LOCK_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ENVIRONMENT_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    JOB_REPEATABLE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    RUN_AS_USER_FIELD_NUMBER: _ClassVar[int]
    command_line: str
    working_directory: str
    successful_return_codes: _containers.RepeatedScalarFieldContainer[int]
    min_execution_time: int
    max_execution_time: int
    context_parameters: _containers.RepeatedCompositeFieldContainer[_common_pb2.ContextParameter]
    days_of_week_to_run: _containers.RepeatedScalarFieldContainer[_common_pb2.DayOfWeek]
    target_residing_context_only: bool
    participates_in_lock: bool
    execution_environment_properties: str
    job_repeatable: bool
    timeout_seconds: int
    retry: RetryPolicy
    run_as_user: str
    def __init__(self, command_line: _Optional[str] = ..., working_directory: _Optional[str] = ..., successful_return_codes: _Optional[_Iterable[int]] = ..., min_execution_time: _Optional[int] = ..., max_execution_time: _Optional[int] = ..., context_parameters: _Optional[_Iterable[_Union[_common_pb2.ContextParameter, _Mapping]]] = ..., days_of_week_to_run: _Optional[_Iterable[_Union[_common_pb2.DayOfWeek, str]]] = ..., target_residing_context_only: _Optional[bool] = ..., participates_in_lock: _Optional[bool] = ..., execution_environment_properties: _Optional[str] = ..., job_repeatable: _Optional[bool] = ..., timeout_seconds: _Optional[int] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., run_as_user: _Optional[str] = ...) -> None: ...

class QuartzScheduleDrivenJob(_message.Message):
    __slots__ = ("cron_expression", "job_group", "time_zone", "passthrough_properties", "eager", "max_eager_callbacks", "ignore_misfire", "recovery_tolerance", "persistent_recovery", "blackout_window_cron_expressions", "blackout_window_date_time_ranges", "drop_event_on_blackout", "misfire_grace_seconds", "days_of_week_to_run", "calendar", "calendar_shift", "calendar_documents", "exclude_calendar")
    class PassthroughPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    JOB_GROUP_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    PASSTHROUGH_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    EAGER_FIELD_NUMBER: _ClassVar[int]
    MAX_EAGER_CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_MISFIRE_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    PERSISTENT_RECOVERY_FIELD_NUMBER: _ClassVar[int]
    BLACKOUT_WINDOW_CRON_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    BLACKOUT_WINDOW_DATE_TIME_RANGES_FIELD_NUMBER: _ClassVar[int]
    DROP_EVENT_ON_BLACKOUT_FIELD_NUMBER: _ClassVar[int]
    MISFIRE_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DAYS_OF_WEEK_TO_RUN_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_SHIFT_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_CALENDAR_FIELD_NUMBER: _ClassVar[int]
    cron_expression: str
    job_group: str
    time_zone: str
    passthrough_properties: _containers.ScalarMap[str, str]
    eager: bool
    max_eager_callbacks: int
    ignore_misfire: bool
    recovery_tolerance: int
    persistent_recovery: bool
    blackout_window_cron_expressions: _containers.RepeatedScalarFieldContainer[str]
    blackout_window_date_time_ranges: _containers.RepeatedCompositeFieldContainer[_common_pb2.DateTimeRange]
    drop_event_on_blackout: bool
    misfire_grace_seconds: int
    days_of_week_to_run: _containers.RepeatedScalarFieldContainer[_common_pb2.DayOfWeek]
    calendar: str
    calendar_shift: str
    calendar_documents: _containers.RepeatedCompositeFieldContainer[CalendarDocument]
    exclude_calendar: str
    def __init__(self, cron_expression: _Optional[str] = ..., job_group: _Optional[str] = ..., time_zone: _Optional[str] = ..., passthrough_properties: _Optional[_Mapping[str, str]] = ..., eager: _Optional[bool] = ..., max_eager_callbacks: _Optional[int] = ..., ignore_misfire: _Optional[bool] = ..., recovery_tolerance: _Optional[int] = ..., persistent_recovery: _Optional[bool] = ..., blackout_window_cron_expressions: _Optional[_Iterable[str]] = ..., blackout_window_date_time_ranges: _Optional[_Iterable[_Union[_common_pb2.DateTimeRange, _Mapping]]] = ..., drop_event_on_blackout: _Optional[bool] = ..., misfire_grace_seconds: _Optional[int] = ..., days_of_week_to_run: _Optional[_Iterable[_Union[_common_pb2.DayOfWeek, str]]] = ..., calendar: _Optional[str] = ..., calendar_shift: _Optional[str] = ..., calendar_documents: _Optional[_Iterable[_Union[CalendarDocument, _Mapping]]] = ..., exclude_calendar: _Optional[str] = ...) -> None: ...

class CalendarDocument(_message.Message):
    __slots__ = ("name", "version", "document_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    document_json: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., document_json: _Optional[str] = ...) -> None: ...

class ReplacementPair(_message.Message):
    __slots__ = ("replacement_token", "job_plan_parameter_name")
    REPLACEMENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    JOB_PLAN_PARAMETER_NAME_FIELD_NUMBER: _ClassVar[int]
    replacement_token: str
    job_plan_parameter_name: str
    def __init__(self, replacement_token: _Optional[str] = ..., job_plan_parameter_name: _Optional[str] = ...) -> None: ...

class FileEventDrivenJob(_message.Message):
    __slots__ = ("cron_expression", "job_group", "time_zone", "passthrough_properties", "eager", "max_eager_callbacks", "ignore_misfire", "recovery_tolerance", "persistent_recovery", "blackout_window_cron_expressions", "blackout_window_date_time_ranges", "drop_event_on_blackout", "file_path", "filenames", "move_directory", "encoding", "include_header", "include_trailer", "sort_by_modified_date_time", "sort_ascending", "directory_depth", "log_matched_filenames", "ignore_file_rename_whilst_scanning", "min_file_age_seconds", "sla_cron_expression", "replacement_pairs", "misfire_grace_seconds")
    class PassthroughPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    JOB_GROUP_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    PASSTHROUGH_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    EAGER_FIELD_NUMBER: _ClassVar[int]
    MAX_EAGER_CALLBACKS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_MISFIRE_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    PERSISTENT_RECOVERY_FIELD_NUMBER: _ClassVar[int]
    BLACKOUT_WINDOW_CRON_EXPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    BLACKOUT_WINDOW_DATE_TIME_RANGES_FIELD_NUMBER: _ClassVar[int]
    DROP_EVENT_ON_BLACKOUT_FIELD_NUMBER: _ClassVar[int]
    FILE_PATH_FIELD_NUMBER: _ClassVar[int]
    FILENAMES_FIELD_NUMBER: _ClassVar[int]
    MOVE_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HEADER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TRAILER_FIELD_NUMBER: _ClassVar[int]
    SORT_BY_MODIFIED_DATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SORT_ASCENDING_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_DEPTH_FIELD_NUMBER: _ClassVar[int]
    LOG_MATCHED_FILENAMES_FIELD_NUMBER: _ClassVar[int]
    IGNORE_FILE_RENAME_WHILST_SCANNING_FIELD_NUMBER: _ClassVar[int]
    MIN_FILE_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SLA_CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_PAIRS_FIELD_NUMBER: _ClassVar[int]
    MISFIRE_GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    cron_expression: str
    job_group: str
    time_zone: str
    passthrough_properties: _containers.ScalarMap[str, str]
    eager: bool
    max_eager_callbacks: int
    ignore_misfire: bool
    recovery_tolerance: int
    persistent_recovery: bool
    blackout_window_cron_expressions: _containers.RepeatedScalarFieldContainer[str]
    blackout_window_date_time_ranges: _containers.RepeatedCompositeFieldContainer[_common_pb2.DateTimeRange]
    drop_event_on_blackout: bool
    file_path: str
    filenames: _containers.RepeatedScalarFieldContainer[str]
    move_directory: str
    encoding: str
    include_header: bool
    include_trailer: bool
    sort_by_modified_date_time: bool
    sort_ascending: bool
    directory_depth: int
    log_matched_filenames: bool
    ignore_file_rename_whilst_scanning: bool
    min_file_age_seconds: int
    sla_cron_expression: str
    replacement_pairs: _containers.RepeatedCompositeFieldContainer[ReplacementPair]
    misfire_grace_seconds: int
    def __init__(self, cron_expression: _Optional[str] = ..., job_group: _Optional[str] = ..., time_zone: _Optional[str] = ..., passthrough_properties: _Optional[_Mapping[str, str]] = ..., eager: _Optional[bool] = ..., max_eager_callbacks: _Optional[int] = ..., ignore_misfire: _Optional[bool] = ..., recovery_tolerance: _Optional[int] = ..., persistent_recovery: _Optional[bool] = ..., blackout_window_cron_expressions: _Optional[_Iterable[str]] = ..., blackout_window_date_time_ranges: _Optional[_Iterable[_Union[_common_pb2.DateTimeRange, _Mapping]]] = ..., drop_event_on_blackout: _Optional[bool] = ..., file_path: _Optional[str] = ..., filenames: _Optional[_Iterable[str]] = ..., move_directory: _Optional[str] = ..., encoding: _Optional[str] = ..., include_header: _Optional[bool] = ..., include_trailer: _Optional[bool] = ..., sort_by_modified_date_time: _Optional[bool] = ..., sort_ascending: _Optional[bool] = ..., directory_depth: _Optional[int] = ..., log_matched_filenames: _Optional[bool] = ..., ignore_file_rename_whilst_scanning: _Optional[bool] = ..., min_file_age_seconds: _Optional[int] = ..., sla_cron_expression: _Optional[str] = ..., replacement_pairs: _Optional[_Iterable[_Union[ReplacementPair, _Mapping]]] = ..., misfire_grace_seconds: _Optional[int] = ...) -> None: ...

class GlobalEventJob(_message.Message):
    __slots__ = ("ignore_environment_group",)
    IGNORE_ENVIRONMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    ignore_environment_group: bool
    def __init__(self, ignore_environment_group: _Optional[bool] = ...) -> None: ...

class ContextStartJob(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ContextTerminalJob(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LocalEventJob(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BridgingJob(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JobDependency(_message.Message):
    __slots__ = ("job_identifier", "logical_grouping")
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_GROUPING_FIELD_NUMBER: _ClassVar[int]
    job_identifier: str
    logical_grouping: LogicalGrouping
    def __init__(self, job_identifier: _Optional[str] = ..., logical_grouping: _Optional[_Union[LogicalGrouping, _Mapping]] = ...) -> None: ...

class LogicalGrouping(_message.Message):
    __slots__ = ("all_of", "any_of", "none_of", "logical_grouping")
    ALL_OF_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_FIELD_NUMBER: _ClassVar[int]
    NONE_OF_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_GROUPING_FIELD_NUMBER: _ClassVar[int]
    all_of: _containers.RepeatedCompositeFieldContainer[LogicalOperator]
    any_of: _containers.RepeatedCompositeFieldContainer[LogicalOperator]
    none_of: _containers.RepeatedCompositeFieldContainer[LogicalOperator]
    logical_grouping: LogicalGrouping
    def __init__(self, all_of: _Optional[_Iterable[_Union[LogicalOperator, _Mapping]]] = ..., any_of: _Optional[_Iterable[_Union[LogicalOperator, _Mapping]]] = ..., none_of: _Optional[_Iterable[_Union[LogicalOperator, _Mapping]]] = ..., logical_grouping: _Optional[_Union[LogicalGrouping, _Mapping]] = ...) -> None: ...

class LogicalOperator(_message.Message):
    __slots__ = ("identifier", "logical_grouping")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_GROUPING_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    logical_grouping: LogicalGrouping
    def __init__(self, identifier: _Optional[str] = ..., logical_grouping: _Optional[_Union[LogicalGrouping, _Mapping]] = ...) -> None: ...

class ContextDependency(_message.Message):
    __slots__ = ("context_identifier", "context_dependency_name", "logical_grouping")
    CONTEXT_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_DEPENDENCY_NAME_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_GROUPING_FIELD_NUMBER: _ClassVar[int]
    context_identifier: str
    context_dependency_name: str
    logical_grouping: LogicalGrouping
    def __init__(self, context_identifier: _Optional[str] = ..., context_dependency_name: _Optional[str] = ..., logical_grouping: _Optional[_Union[LogicalGrouping, _Mapping]] = ...) -> None: ...

class JobLock(_message.Message):
    __slots__ = ("name", "lock_count", "jobs", "exclusive_job_lock")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOCK_COUNT_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_JOB_LOCK_FIELD_NUMBER: _ClassVar[int]
    name: str
    lock_count: int
    jobs: _containers.RepeatedCompositeFieldContainer[JobLockParticipant]
    exclusive_job_lock: bool
    def __init__(self, name: _Optional[str] = ..., lock_count: _Optional[int] = ..., jobs: _Optional[_Iterable[_Union[JobLockParticipant, _Mapping]]] = ..., exclusive_job_lock: _Optional[bool] = ...) -> None: ...

class JobLockParticipant(_message.Message):
    __slots__ = ("identifier", "child_context_name", "lock_count")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    LOCK_COUNT_FIELD_NUMBER: _ClassVar[int]
    identifier: str
    child_context_name: str
    lock_count: int
    def __init__(self, identifier: _Optional[str] = ..., child_context_name: _Optional[str] = ..., lock_count: _Optional[int] = ...) -> None: ...

class PlanNotification(_message.Message):
    __slots__ = ("on", "webhook", "email", "p95", "by")
    ON_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    P95_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    on: _containers.RepeatedScalarFieldContainer[str]
    webhook: str
    email: PlanNotificationEmail
    p95: PlanNotificationP95
    by: str
    def __init__(self, on: _Optional[_Iterable[str]] = ..., webhook: _Optional[str] = ..., email: _Optional[_Union[PlanNotificationEmail, _Mapping]] = ..., p95: _Optional[_Union[PlanNotificationP95, _Mapping]] = ..., by: _Optional[str] = ...) -> None: ...

class PlanNotificationP95(_message.Message):
    __slots__ = ("factor", "runs")
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    factor: float
    runs: int
    def __init__(self, factor: _Optional[float] = ..., runs: _Optional[int] = ...) -> None: ...

class PlanNotificationEmail(_message.Message):
    __slots__ = ("to", "cc")
    TO_FIELD_NUMBER: _ClassVar[int]
    CC_FIELD_NUMBER: _ClassVar[int]
    to: _containers.RepeatedScalarFieldContainer[str]
    cc: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, to: _Optional[_Iterable[str]] = ..., cc: _Optional[_Iterable[str]] = ...) -> None: ...
