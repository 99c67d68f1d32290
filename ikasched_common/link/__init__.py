"""The sequenced agent link (docs/architecture.md §4): outbox, receiver, sessions and transports.

Both sides use the same engine: `AgentLinkClient` dials out from the agent, `LinkGateway`
serves every agent on the dashboard. Transports: in-memory (`MemoryDialer`, tests) and gRPC
(`ikasched_common.link.grpc_transport`, imported separately so this package stays light).
"""

from ikasched_common.errors import LinkRefused
from ikasched_common.link.client import AgentIdentity, AgentLinkClient, Backoff
from ikasched_common.link.gateway import AgentEndpoint, AgentPresence, HelloHook, LinkGateway
from ikasched_common.link.outbox import (
    JournalOutbox,
    MemoryOutbox,
    Outbox,
    OutboxPosition,
    PendingItem,
    SequencedItem,
)
from ikasched_common.link.receiver import Receiver
from ikasched_common.link.session import LinkSession, LinkSettings, LinkTimeout
from ikasched_common.link.transport import (
    Dialer,
    FrameConnection,
    LinkClosed,
    MemoryConnection,
    MemoryDialer,
    memory_pair,
)

__all__ = [
    "AgentEndpoint",
    "AgentIdentity",
    "AgentLinkClient",
    "AgentPresence",
    "Backoff",
    "Dialer",
    "FrameConnection",
    "HelloHook",
    "JournalOutbox",
    "LinkClosed",
    "LinkGateway",
    "LinkRefused",
    "LinkSession",
    "LinkSettings",
    "LinkTimeout",
    "MemoryConnection",
    "MemoryDialer",
    "MemoryOutbox",
    "Outbox",
    "OutboxPosition",
    "PendingItem",
    "Receiver",
    "SequencedItem",
    "memory_pair",
]
