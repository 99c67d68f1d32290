from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InstanceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTANCE_STATUS_UNSPECIFIED: _ClassVar[InstanceStatus]
    RUNNING: _ClassVar[InstanceStatus]
    SKIPPED_RUNNING: _ClassVar[InstanceStatus]
    COMPLETE: _ClassVar[InstanceStatus]
    SKIPPED_COMPLETE: _ClassVar[InstanceStatus]
    WAITING: _ClassVar[InstanceStatus]
    ERROR: _ClassVar[InstanceStatus]
    ERROR_ACKNOWLEDGED: _ClassVar[InstanceStatus]
    KILLED: _ClassVar[InstanceStatus]
    SKIPPED: _ClassVar[InstanceStatus]
    ON_HOLD: _ClassVar[InstanceStatus]
    RELEASED: _ClassVar[InstanceStatus]
    ENDED: _ClassVar[InstanceStatus]
    DISABLED: _ClassVar[InstanceStatus]
    LOCK_QUEUED: _ClassVar[InstanceStatus]
    PREPARED: _ClassVar[InstanceStatus]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    EXECUTION_IGNORED_INSIDE_BLACKOUT_WINDOW: _ClassVar[Outcome]
    EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY: _ClassVar[Outcome]
    EXECUTION_INVOKED: _ClassVar[Outcome]
    EXECUTION_INVOKED_IGNORED_DAY_OF_WEEK: _ClassVar[Outcome]

class DayOfWeek(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DAY_OF_WEEK_UNSPECIFIED: _ClassVar[DayOfWeek]
    SUN: _ClassVar[DayOfWeek]
    MON: _ClassVar[DayOfWeek]
    TUE: _ClassVar[DayOfWeek]
    WED: _ClassVar[DayOfWeek]
    THU: _ClassVar[DayOfWeek]
    FRI: _ClassVar[DayOfWeek]
    SAT: _ClassVar[DayOfWeek]

class JobType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_TYPE_UNSPECIFIED: _ClassVar[JobType]
    INTERNAL_EVENT_DRIVEN: _ClassVar[JobType]
    QUARTZ_SCHEDULE_DRIVEN: _ClassVar[JobType]
    FILE_EVENT_DRIVEN: _ClassVar[JobType]
    GLOBAL_EVENT: _ClassVar[JobType]
    CONTEXT_START: _ClassVar[JobType]
    CONTEXT_TERMINAL: _ClassVar[JobType]
    LOCAL_EVENT: _ClassVar[JobType]
    BRIDGING: _ClassVar[JobType]

class StartupControlType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STARTUP_CONTROL_TYPE_UNSPECIFIED: _ClassVar[StartupControlType]
    AUTOMATIC: _ClassVar[StartupControlType]
    MANUAL: _ClassVar[StartupControlType]
    STARTUP_DISABLED: _ClassVar[StartupControlType]
INSTANCE_STATUS_UNSPECIFIED: InstanceStatus
RUNNING: InstanceStatus
SKIPPED_RUNNING: InstanceStatus
COMPLETE: InstanceStatus
SKIPPED_COMPLETE: InstanceStatus
WAITING: InstanceStatus
ERROR: InstanceStatus
ERROR_ACKNOWLEDGED: InstanceStatus
KILLED: InstanceStatus
SKIPPED: InstanceStatus
ON_HOLD: InstanceStatus
RELEASED: InstanceStatus
ENDED: InstanceStatus
DISABLED: InstanceStatus
LOCK_QUEUED: InstanceStatus
PREPARED: InstanceStatus
OUTCOME_UNSPECIFIED: Outcome
EXECUTION_IGNORED_INSIDE_BLACKOUT_WINDOW: Outcome
EXECUTION_IGNORED_BUSINESS_RULE_NOT_READY: Outcome
EXECUTION_INVOKED: Outcome
EXECUTION_INVOKED_IGNORED_DAY_OF_WEEK: Outcome
DAY_OF_WEEK_UNSPECIFIED: DayOfWeek
SUN: DayOfWeek
MON: DayOfWeek
TUE: DayOfWeek
WED: DayOfWeek
THU: DayOfWeek
FRI: DayOfWeek
SAT: DayOfWeek
JOB_TYPE_UNSPECIFIED: JobType
INTERNAL_EVENT_DRIVEN: JobType
QUARTZ_SCHEDULE_DRIVEN: JobType
FILE_EVENT_DRIVEN: JobType
GLOBAL_EVENT: JobType
CONTEXT_START: JobType
CONTEXT_TERMINAL: JobType
LOCAL_EVENT: JobType
BRIDGING: JobType
STARTUP_CONTROL_TYPE_UNSPECIFIED: StartupControlType
AUTOMATIC: StartupControlType
MANUAL: StartupControlType
STARTUP_DISABLED: StartupControlType

class DryRunParameters(_message.Message):
    __slots__ = ("min_execution_time_millis", "max_execution_time_millis", "fixed_execution_time_millis", "job_error_percentage", "error")
    MIN_EXECUTION_TIME_MILLIS_FIELD_NUMBER: _ClassVar[int]
    MAX_EXECUTION_TIME_MILLIS_FIELD_NUMBER: _ClassVar[int]
    FIXED_EXECUTION_TIME_MILLIS_FIELD_NUMBER: _ClassVar[int]
    JOB_ERROR_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    min_execution_time_millis: int
    max_execution_time_millis: int
    fixed_execution_time_millis: int
    job_error_percentage: float
    error: bool
    def __init__(self, min_execution_time_millis: _Optional[int] = ..., max_execution_time_millis: _Optional[int] = ..., fixed_execution_time_millis: _Optional[int] = ..., job_error_percentage: _Optional[float] = ..., error: _Optional[bool] = ...) -> None: ...

class ContextParameter(_message.Message):
    __slots__ = ("name", "default_value", "description", "secret", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    default_value: str
    description: str
    secret: bool
    type: str
    def __init__(self, name: _Optional[str] = ..., default_value: _Optional[str] = ..., description: _Optional[str] = ..., secret: _Optional[bool] = ..., type: _Optional[str] = ...) -> None: ...

class ContextParameterInstance(_message.Message):
    __slots__ = ("name", "default_value", "value", "secret")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    name: str
    default_value: str
    value: str
    secret: bool
    def __init__(self, name: _Optional[str] = ..., default_value: _Optional[str] = ..., value: _Optional[str] = ..., secret: _Optional[bool] = ...) -> None: ...

class DateTimeRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("context_instance_id", "job_identifier", "child_context_name")
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    context_instance_id: str
    job_identifier: str
    child_context_name: str
    def __init__(self, context_instance_id: _Optional[str] = ..., job_identifier: _Optional[str] = ..., child_context_name: _Optional[str] = ...) -> None: ...

class ValidationProblem(_message.Message):
    __slots__ = ("path", "message", "severity")
    class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SEVERITY_UNSPECIFIED: _ClassVar[ValidationProblem.Severity]
        ERROR: _ClassVar[ValidationProblem.Severity]
        WARNING: _ClassVar[ValidationProblem.Severity]
    SEVERITY_UNSPECIFIED: ValidationProblem.Severity
    ERROR: ValidationProblem.Severity
    WARNING: ValidationProblem.Severity
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    path: str
    message: str
    severity: ValidationProblem.Severity
    def __init__(self, path: _Optional[str] = ..., message: _Optional[str] = ..., severity: _Optional[_Union[ValidationProblem.Severity, str]] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...
