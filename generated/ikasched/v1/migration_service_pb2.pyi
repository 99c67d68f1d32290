from ikasched.v1 import plan_pb2 as _plan_pb2
from ikasched.v1 import plan_service_pb2 as _plan_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MigrationNoteKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MIGRATION_NOTE_KIND_UNSPECIFIED: _ClassVar[MigrationNoteKind]
    DROPPED: _ClassVar[MigrationNoteKind]
    CHANGED: _ClassVar[MigrationNoteKind]
    WARNING: _ClassVar[MigrationNoteKind]
MIGRATION_NOTE_KIND_UNSPECIFIED: MigrationNoteKind
DROPPED: MigrationNoteKind
CHANGED: MigrationNoteKind
WARNING: MigrationNoteKind

class IkasanFile(_message.Message):
    __slots__ = ("path", "content")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    path: str
    content: bytes
    def __init__(self, path: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class ImportIkasanPlansRequest(_message.Message):
    __slots__ = ("files", "bundle_zip", "agent_map", "strict", "apply")
    class AgentMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FILES_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ZIP_FIELD_NUMBER: _ClassVar[int]
    AGENT_MAP_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    APPLY_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[IkasanFile]
    bundle_zip: bytes
    agent_map: _containers.ScalarMap[str, str]
    strict: bool
    apply: bool
    def __init__(self, files: _Optional[_Iterable[_Union[IkasanFile, _Mapping]]] = ..., bundle_zip: _Optional[bytes] = ..., agent_map: _Optional[_Mapping[str, str]] = ..., strict: _Optional[bool] = ..., apply: _Optional[bool] = ...) -> None: ...

class MigrationNote(_message.Message):
    __slots__ = ("kind", "source", "path", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: MigrationNoteKind
    source: str
    path: str
    message: str
    def __init__(self, kind: _Optional[_Union[MigrationNoteKind, str]] = ..., source: _Optional[str] = ..., path: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ImportedIkasanPlan(_message.Message):
    __slots__ = ("name", "source", "converted", "notes", "plan", "summary", "created", "unchanged")
    class ConvertedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    name: str
    source: str
    converted: _containers.ScalarMap[str, int]
    notes: _containers.RepeatedCompositeFieldContainer[MigrationNote]
    plan: _plan_pb2.Context
    summary: _plan_service_pb2.PlanSummary
    created: bool
    unchanged: bool
    def __init__(self, name: _Optional[str] = ..., source: _Optional[str] = ..., converted: _Optional[_Mapping[str, int]] = ..., notes: _Optional[_Iterable[_Union[MigrationNote, _Mapping]]] = ..., plan: _Optional[_Union[_plan_pb2.Context, _Mapping]] = ..., summary: _Optional[_Union[_plan_service_pb2.PlanSummary, _Mapping]] = ..., created: _Optional[bool] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class ImportIkasanPlansResponse(_message.Message):
    __slots__ = ("plans", "report", "applied")
    PLANS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[ImportedIkasanPlan]
    report: str
    applied: bool
    def __init__(self, plans: _Optional[_Iterable[_Union[ImportedIkasanPlan, _Mapping]]] = ..., report: _Optional[str] = ..., applied: _Optional[bool] = ...) -> None: ...

class ExportIkasanPlanRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ExportIkasanPlanResponse(_message.Message):
    __slots__ = ("files", "notes")
    FILES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[IkasanFile]
    notes: _containers.RepeatedCompositeFieldContainer[MigrationNote]
    def __init__(self, files: _Optional[_Iterable[_Union[IkasanFile, _Mapping]]] = ..., notes: _Optional[_Iterable[_Union[MigrationNote, _Mapping]]] = ...) -> None: ...
