"""Durable journals: ordered, crash-safe queues of serialized protobuf messages.

Both sides keep their inbox and outbox as journals (docs/architecture.md §4). The interface is small
on purpose: append a batch (plus bookkeeping values) in one transaction, peek the oldest items,
remove by key once processed. Keys are integers that only grow, so "oldest first" is key order.

`DiskJournal` (diskcache, SQLite underneath) is the real one; `MemoryJournal` is the in-memory
stand-in with the same behaviour for fast unit tests. `open_journal` picks by path.
`DeadLetterJournal` keeps messages given up on (with reason and attempts) and `PoisonGuard`
moves a message there after N failed attempts (docs/architecture.md §4.7). `AsyncJournal` runs every
call on one worker thread, off the event loop, and group-commits single appends
(docs/architecture.md §4.8).
"""

from ikasched_common.journal_core import (
    AsyncJournal,
    Durability,
    Journal,
    JournalItem,
    MemoryJournal,
    MetaValue,
)
from ikasched_common.journal_dead_letters import (
    DeadLetter,
    DeadLetterJournal,
    PoisonGuard,
    decode_dead_letter,
    encode_dead_letter,
)
from ikasched_common.journal_disk import DiskJournal, one_transaction, open_journal

__all__ = [
    "AsyncJournal",
    "DeadLetter",
    "DeadLetterJournal",
    "DiskJournal",
    "Durability",
    "Journal",
    "JournalItem",
    "MemoryJournal",
    "MetaValue",
    "PoisonGuard",
    "decode_dead_letter",
    "encode_dead_letter",
    "one_transaction",
    "open_journal",
]
