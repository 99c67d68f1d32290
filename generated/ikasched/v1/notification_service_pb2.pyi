from ikasched.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NotificationRule(_message.Message):
    __slots__ = ("name", "context_name", "job_identifier", "on", "webhook_url", "version", "updated_time", "updated_by", "webhook_secret", "p95_factor", "p95_runs", "source_plan", "child_context", "deadline")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_NAME_FIELD_NUMBER: _ClassVar[int]
    JOB_IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    P95_FACTOR_FIELD_NUMBER: _ClassVar[int]
    P95_RUNS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PLAN_FIELD_NUMBER: _ClassVar[int]
    CHILD_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    name: str
    context_name: str
    job_identifier: str
    on: _containers.RepeatedScalarFieldContainer[str]
    webhook_url: str
    version: int
    updated_time: int
    updated_by: str
    webhook_secret: str
    p95_factor: float
    p95_runs: int
    source_plan: str
    child_context: str
    deadline: str
    def __init__(self, name: _Optional[str] = ..., context_name: _Optional[str] = ..., job_identifier: _Optional[str] = ..., on: _Optional[_Iterable[str]] = ..., webhook_url: _Optional[str] = ..., version: _Optional[int] = ..., updated_time: _Optional[int] = ..., updated_by: _Optional[str] = ..., webhook_secret: _Optional[str] = ..., p95_factor: _Optional[float] = ..., p95_runs: _Optional[int] = ..., source_plan: _Optional[str] = ..., child_context: _Optional[str] = ..., deadline: _Optional[str] = ...) -> None: ...

class ApplyNotificationRuleRequest(_message.Message):
    __slots__ = ("document",)
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    document: str
    def __init__(self, document: _Optional[str] = ...) -> None: ...

class ApplyNotificationRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: NotificationRule
    def __init__(self, rule: _Optional[_Union[NotificationRule, _Mapping]] = ...) -> None: ...

class ListNotificationRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNotificationRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[NotificationRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[NotificationRule, _Mapping]]] = ...) -> None: ...

class DeleteNotificationRuleRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteNotificationRuleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TestNotificationRuleRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class TestNotificationRuleResponse(_message.Message):
    __slots__ = ("notification",)
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    notification: Notification
    def __init__(self, notification: _Optional[_Union[Notification, _Mapping]] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("id", "rule_name", "kind", "idempotency_key", "url", "body", "status", "attempts", "next_attempt_time", "last_error", "created_time", "delivered_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    RULE_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    rule_name: str
    kind: str
    idempotency_key: str
    url: str
    body: str
    status: str
    attempts: int
    next_attempt_time: int
    last_error: str
    created_time: int
    delivered_time: int
    def __init__(self, id: _Optional[int] = ..., rule_name: _Optional[str] = ..., kind: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., url: _Optional[str] = ..., body: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., next_attempt_time: _Optional[int] = ..., last_error: _Optional[str] = ..., created_time: _Optional[int] = ..., delivered_time: _Optional[int] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("statuses", "page")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[str]
    page: _common_pb2.PageRequest
    def __init__(self, statuses: _Optional[_Iterable[str]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications", "next_page_token")
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    next_page_token: str
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
