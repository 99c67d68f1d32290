from ikasched.v1 import agent_pb2 as _agent_pb2
from ikasched.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueueKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUEUE_KIND_UNSPECIFIED: _ClassVar[QueueKind]
    QUEUE_INBOX: _ClassVar[QueueKind]
    QUEUE_OUTBOX: _ClassVar[QueueKind]
    QUEUE_DEAD_LETTER: _ClassVar[QueueKind]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    VIEWER: _ClassVar[Role]
    OPERATOR: _ClassVar[Role]
    ADMIN: _ClassVar[Role]
    AGENT: _ClassVar[Role]
QUEUE_KIND_UNSPECIFIED: QueueKind
QUEUE_INBOX: QueueKind
QUEUE_OUTBOX: QueueKind
QUEUE_DEAD_LETTER: QueueKind
ROLE_UNSPECIFIED: Role
VIEWER: Role
OPERATOR: Role
ADMIN: Role
AGENT: Role

class RaiseGlobalEventRequest(_message.Message):
    __slots__ = ("job_name", "environment_group", "ignore_environment_group")
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    IGNORE_ENVIRONMENT_GROUP_FIELD_NUMBER: _ClassVar[int]
    job_name: str
    environment_group: str
    ignore_environment_group: bool
    def __init__(self, job_name: _Optional[str] = ..., environment_group: _Optional[str] = ..., ignore_environment_group: _Optional[bool] = ...) -> None: ...

class RaiseGlobalEventResponse(_message.Message):
    __slots__ = ("context_instance_ids",)
    CONTEXT_INSTANCE_IDS_FIELD_NUMBER: _ClassVar[int]
    context_instance_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, context_instance_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class QueueInfo(_message.Message):
    __slots__ = ("name", "kind", "size", "oldest_age_millis")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    OLDEST_AGE_MILLIS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: QueueKind
    size: int
    oldest_age_millis: int
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[QueueKind, str]] = ..., size: _Optional[int] = ..., oldest_age_millis: _Optional[int] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ("include_empty",)
    INCLUDE_EMPTY_FIELD_NUMBER: _ClassVar[int]
    include_empty: bool
    def __init__(self, include_empty: _Optional[bool] = ...) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("queues",)
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    queues: _containers.RepeatedCompositeFieldContainer[QueueInfo]
    def __init__(self, queues: _Optional[_Iterable[_Union[QueueInfo, _Mapping]]] = ...) -> None: ...

class QueueMessage(_message.Message):
    __slots__ = ("queue", "message_id", "created_time", "type_name", "json", "error", "attempts", "context_instance_id")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    queue: str
    message_id: str
    created_time: int
    type_name: str
    json: str
    error: str
    attempts: int
    context_instance_id: str
    def __init__(self, queue: _Optional[str] = ..., message_id: _Optional[str] = ..., created_time: _Optional[int] = ..., type_name: _Optional[str] = ..., json: _Optional[str] = ..., error: _Optional[str] = ..., attempts: _Optional[int] = ..., context_instance_id: _Optional[str] = ...) -> None: ...

class PeekQueueRequest(_message.Message):
    __slots__ = ("queue", "limit")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    queue: str
    limit: int
    def __init__(self, queue: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class PeekQueueResponse(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[QueueMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[QueueMessage, _Mapping]]] = ...) -> None: ...

class QueueMessageRequest(_message.Message):
    __slots__ = ("queue", "message_id")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    queue: str
    message_id: str
    def __init__(self, queue: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class DeleteAllMessagesRequest(_message.Message):
    __slots__ = ("queue", "force")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    queue: str
    force: bool
    def __init__(self, queue: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteMessagesResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class SetAgentDryRunModeRequest(_message.Message):
    __slots__ = ("agent_name", "mode")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    mode: _agent_pb2.SetDryRunMode
    def __init__(self, agent_name: _Optional[str] = ..., mode: _Optional[_Union[_agent_pb2.SetDryRunMode, _Mapping]] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("agent_name", "connected", "last_seen", "agent_version", "agent_hostname", "connected_since", "outbox_size", "running_jobs", "queued_jobs", "plan_names", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    AGENT_HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_SINCE_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_SIZE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_JOBS_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAMES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    connected: bool
    last_seen: int
    agent_version: str
    agent_hostname: str
    connected_since: int
    outbox_size: int
    running_jobs: int
    queued_jobs: int
    plan_names: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, agent_name: _Optional[str] = ..., connected: _Optional[bool] = ..., last_seen: _Optional[int] = ..., agent_version: _Optional[str] = ..., agent_hostname: _Optional[str] = ..., connected_since: _Optional[int] = ..., outbox_size: _Optional[int] = ..., running_jobs: _Optional[int] = ..., queued_jobs: _Optional[int] = ..., plan_names: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("connected_only",)
    CONNECTED_ONLY_FIELD_NUMBER: _ClassVar[int]
    connected_only: bool
    def __init__(self, connected_only: _Optional[bool] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentInfo]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentInfo, _Mapping]]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_name",)
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    def __init__(self, agent_name: _Optional[str] = ...) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("token_id", "subject", "role", "plan_names", "agent_name", "created_time", "expires_time", "revoked_time", "last_used_time")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAMES_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKED_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_TIME_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    subject: str
    role: Role
    plan_names: _containers.RepeatedScalarFieldContainer[str]
    agent_name: str
    created_time: int
    expires_time: int
    revoked_time: int
    last_used_time: int
    def __init__(self, token_id: _Optional[str] = ..., subject: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., plan_names: _Optional[_Iterable[str]] = ..., agent_name: _Optional[str] = ..., created_time: _Optional[int] = ..., expires_time: _Optional[int] = ..., revoked_time: _Optional[int] = ..., last_used_time: _Optional[int] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("subject", "role", "plan_names", "agent_name", "ttl_seconds")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PLAN_NAMES_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    role: Role
    plan_names: _containers.RepeatedScalarFieldContainer[str]
    agent_name: str
    ttl_seconds: int
    def __init__(self, subject: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., plan_names: _Optional[_Iterable[str]] = ..., agent_name: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "secret")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    token: TokenInfo
    secret: str
    def __init__(self, token: _Optional[_Union[TokenInfo, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("include_inactive", "page")
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    page: _common_pb2.PageRequest
    def __init__(self, include_inactive: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens", "next_page_token")
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    next_page_token: str
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...
