"""One root exception with a shallow hierarchy; the gRPC edge maps each to a status code."""

from __future__ import annotations


class IkaschedError(Exception):
    """Root of every error ikasched raises on purpose."""


class InvalidArgument(IkaschedError):
    """Bad input; the message names the field and the reason (gRPC INVALID_ARGUMENT)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class NotFound(IkaschedError):
    """The named thing does not exist (gRPC NOT_FOUND)."""


class AlreadyExists(IkaschedError):
    """The named thing exists already (gRPC ALREADY_EXISTS)."""


class FailedPrecondition(IkaschedError):
    """The verb is not allowed in the current state (gRPC FAILED_PRECONDITION)."""


class JournalError(IkaschedError):
    """A durable journal could not be read or written."""


class LinkError(IkaschedError):
    """The agent link broke a protocol rule."""
