from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Calendar(_message.Message):
    __slots__ = ("name", "description", "version", "document_json", "updated_time", "updated_by", "used_by_plans", "used_by_calendars")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    USED_BY_PLANS_FIELD_NUMBER: _ClassVar[int]
    USED_BY_CALENDARS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    version: int
    document_json: str
    updated_time: int
    updated_by: str
    used_by_plans: _containers.RepeatedScalarFieldContainer[str]
    used_by_calendars: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[int] = ..., document_json: _Optional[str] = ..., updated_time: _Optional[int] = ..., updated_by: _Optional[str] = ..., used_by_plans: _Optional[_Iterable[str]] = ..., used_by_calendars: _Optional[_Iterable[str]] = ...) -> None: ...

class ApplyCalendarRequest(_message.Message):
    __slots__ = ("document",)
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    document: str
    def __init__(self, document: _Optional[str] = ...) -> None: ...

class ApplyCalendarResponse(_message.Message):
    __slots__ = ("calendar", "changed", "rescheduled_plans")
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    RESCHEDULED_PLANS_FIELD_NUMBER: _ClassVar[int]
    calendar: Calendar
    changed: bool
    rescheduled_plans: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, calendar: _Optional[_Union[Calendar, _Mapping]] = ..., changed: _Optional[bool] = ..., rescheduled_plans: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCalendarRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListCalendarsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCalendarsResponse(_message.Message):
    __slots__ = ("calendars",)
    CALENDARS_FIELD_NUMBER: _ClassVar[int]
    calendars: _containers.RepeatedCompositeFieldContainer[Calendar]
    def __init__(self, calendars: _Optional[_Iterable[_Union[Calendar, _Mapping]]] = ...) -> None: ...

class DeleteCalendarRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteCalendarResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCalendarDatesRequest(_message.Message):
    __slots__ = ("name", "year")
    NAME_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    name: str
    year: int
    def __init__(self, name: _Optional[str] = ..., year: _Optional[int] = ...) -> None: ...

class CalendarDate(_message.Message):
    __slots__ = ("date", "member", "reason")
    DATE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    date: str
    member: bool
    reason: str
    def __init__(self, date: _Optional[str] = ..., member: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class GetCalendarDatesResponse(_message.Message):
    __slots__ = ("name", "year", "dates")
    NAME_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    DATES_FIELD_NUMBER: _ClassVar[int]
    name: str
    year: int
    dates: _containers.RepeatedCompositeFieldContainer[CalendarDate]
    def __init__(self, name: _Optional[str] = ..., year: _Optional[int] = ..., dates: _Optional[_Iterable[_Union[CalendarDate, _Mapping]]] = ...) -> None: ...
