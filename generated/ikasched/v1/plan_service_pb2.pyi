from ikasched.v1 import common_pb2 as _common_pb2
from ikasched.v1 import plan_pb2 as _plan_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlanFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_FORMAT_UNSPECIFIED: _ClassVar[PlanFormat]
    YAML: _ClassVar[PlanFormat]
    JSON: _ClassVar[PlanFormat]
PLAN_FORMAT_UNSPECIFIED: PlanFormat
YAML: PlanFormat
JSON: PlanFormat

class PlanSummary(_message.Message):
    __slots__ = ("name", "version", "enabled", "description", "time_window_start", "timezone", "next_fire_time", "live_instances", "job_count", "agent_names", "updated_time", "updated_by", "owner", "load_error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TIME_WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    LIVE_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    JOB_COUNT_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    enabled: bool
    description: str
    time_window_start: str
    timezone: str
    next_fire_time: int
    live_instances: int
    job_count: int
    agent_names: _containers.RepeatedScalarFieldContainer[str]
    updated_time: int
    updated_by: str
    owner: str
    load_error: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., enabled: _Optional[bool] = ..., description: _Optional[str] = ..., time_window_start: _Optional[str] = ..., timezone: _Optional[str] = ..., next_fire_time: _Optional[int] = ..., live_instances: _Optional[int] = ..., job_count: _Optional[int] = ..., agent_names: _Optional[_Iterable[str]] = ..., updated_time: _Optional[int] = ..., updated_by: _Optional[str] = ..., owner: _Optional[str] = ..., load_error: _Optional[str] = ...) -> None: ...

class ProvisionPlanRequest(_message.Message):
    __slots__ = ("plan", "dry_run")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    plan: _plan_pb2.Context
    dry_run: bool
    def __init__(self, plan: _Optional[_Union[_plan_pb2.Context, _Mapping]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ProvisionPlanResponse(_message.Message):
    __slots__ = ("plan", "created", "warnings", "changes", "unchanged")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    plan: PlanSummary
    created: bool
    warnings: _containers.RepeatedCompositeFieldContainer[_common_pb2.ValidationProblem]
    changes: _containers.RepeatedScalarFieldContainer[str]
    unchanged: bool
    def __init__(self, plan: _Optional[_Union[PlanSummary, _Mapping]] = ..., created: _Optional[bool] = ..., warnings: _Optional[_Iterable[_Union[_common_pb2.ValidationProblem, _Mapping]]] = ..., changes: _Optional[_Iterable[str]] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class ValidatePlanRequest(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: _plan_pb2.Context
    def __init__(self, plan: _Optional[_Union[_plan_pb2.Context, _Mapping]] = ...) -> None: ...

class ValidatePlanResponse(_message.Message):
    __slots__ = ("valid", "problems")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problems: _containers.RepeatedCompositeFieldContainer[_common_pb2.ValidationProblem]
    def __init__(self, valid: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[_common_pb2.ValidationProblem, _Mapping]]] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetPlanResponse(_message.Message):
    __slots__ = ("summary", "plan")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    summary: PlanSummary
    plan: _plan_pb2.Context
    def __init__(self, summary: _Optional[_Union[PlanSummary, _Mapping]] = ..., plan: _Optional[_Union[_plan_pb2.Context, _Mapping]] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ("page", "name_contains")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    name_contains: str
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., name_contains: _Optional[str] = ...) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans", "next_page_token")
    PLANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[PlanSummary]
    next_page_token: str
    def __init__(self, plans: _Optional[_Iterable[_Union[PlanSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportPlanRequest(_message.Message):
    __slots__ = ("name", "version", "format")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    format: PlanFormat
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., format: _Optional[_Union[PlanFormat, str]] = ...) -> None: ...

class ExportPlanResponse(_message.Message):
    __slots__ = ("text", "format")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    text: str
    format: PlanFormat
    def __init__(self, text: _Optional[str] = ..., format: _Optional[_Union[PlanFormat, str]] = ...) -> None: ...

class DeletePlanRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeletePlanResponse(_message.Message):
    __slots__ = ("ended_instances",)
    ENDED_INSTANCES_FIELD_NUMBER: _ClassVar[int]
    ended_instances: int
    def __init__(self, ended_instances: _Optional[int] = ...) -> None: ...

class EnablePlanRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DisablePlanRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetNextFireTimesRequest(_message.Message):
    __slots__ = ("plan_name", "job_identifier", "count", "after", "cron_expression", "timezone")
    PLAN_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    CRON_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    plan_name: str
    job_identifier: str
    count: int
    after: int
    cron_expression: str
    timezone: str
    def __init__(self, plan_name: _Optional[str] = ..., job_identifier: _Optional[str] = ..., count: _Optional[int] = ..., after: _Optional[int] = ..., cron_expression: _Optional[str] = ..., timezone: _Optional[str] = ...) -> None: ...

class GetNextFireTimesResponse(_message.Message):
    __slots__ = ("fire_times", "fire_times_text", "timezone", "calendar_adjustments")
    FIRE_TIMES_FIELD_NUMBER: _ClassVar[int]
    FIRE_TIMES_TEXT_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    CALENDAR_ADJUSTMENTS_FIELD_NUMBER: _ClassVar[int]
    fire_times: _containers.RepeatedScalarFieldContainer[int]
    fire_times_text: _containers.RepeatedScalarFieldContainer[str]
    timezone: str
    calendar_adjustments: _containers.RepeatedCompositeFieldContainer[CalendarAdjustment]
    def __init__(self, fire_times: _Optional[_Iterable[int]] = ..., fire_times_text: _Optional[_Iterable[str]] = ..., timezone: _Optional[str] = ..., calendar_adjustments: _Optional[_Iterable[_Union[CalendarAdjustment, _Mapping]]] = ...) -> None: ...

class CalendarAdjustment(_message.Message):
    __slots__ = ("scheduled", "action", "fires_at", "reason")
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    scheduled: int
    action: str
    fires_at: int
    reason: str
    def __init__(self, scheduled: _Optional[int] = ..., action: _Optional[str] = ..., fires_at: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...
