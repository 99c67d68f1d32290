"""Every error ikasched raises on purpose: one root, a shallow hierarchy, one status table.

Each class names the gRPC status code it ends an RPC with (`code`, a `grpc.StatusCode` member
name, kept as text so this module imports nothing); `status_name(exc)` reads it for any
exception (INTERNAL for anything that is not an `IkaschedError`). The servicers, the agent
link and the CLI all map errors through this one table, and the CLI's exit status follows from
the same class (`exit_code`).

    IkaschedError
      InvalidArgument      INVALID_ARGUMENT  bad input: names the field and the reason
        PlanLoadError, CronSyntaxError (their own modules: they carry parse positions)
      NotFound             NOT_FOUND
      AlreadyExists        ALREADY_EXISTS
      FailedPrecondition   FAILED_PRECONDITION  the verb is not allowed in this state
      ResourceExhausted    RESOURCE_EXHAUSTED   more than a limit allows
      OutOfRange           OUT_OF_RANGE         a position outside what is kept
      Unavailable          UNAVAILABLE          a part the call needs is not there now
      Unauthenticated      UNAUTHENTICATED      no valid token
        TokenFormatError                        a token not of the `iks_<id>_<secret>` form
      PermissionDenied     PERMISSION_DENIED    the token may not do this
      LinkRefused          (its `status`)       the dashboard refused an agent's hello
      JournalError         INTERNAL             a durable journal failed
      LinkError            INTERNAL             the agent link broke a protocol rule
        LinkClosed, LinkTimeout (ikasched_common.link.transport / session)
        LinkViolation      FAILED_PRECONDITION  the peer sent a frame out of protocol order
          LinkMalformed    INVALID_ARGUMENT     a frame that cannot be decoded or a bad value
          LinkOversize     RESOURCE_EXHAUSTED   a frame or batch past the link's limits
      SecretError          INTERNAL             a sealed value cannot be opened
      CliError             (exit_code)          ends a command with one line
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "AlreadyExists",
    "CliError",
    "FailedPrecondition",
    "IkaschedError",
    "InvalidArgument",
    "JournalError",
    "LinkError",
    "LinkMalformed",
    "LinkOversize",
    "LinkRefused",
    "LinkViolation",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "SecretError",
    "TokenFormatError",
    "Unauthenticated",
    "Unavailable",
    "status_name",
]

#: CLI exit statuses: success, refused by the dashboard, usage error, dashboard unreachable.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class IkaschedError(Exception):
    """Root of every error ikasched raises on purpose."""

    #: The gRPC status code (a `grpc.StatusCode` member name) an RPC ends with.
    code: ClassVar[str] = "INTERNAL"
    #: The CLI's exit status when this ends a command.
    exit_code: int = EXIT_FAILED


class InvalidArgument(IkaschedError):
    """Bad input; the message names the field and the reason."""

    code = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.reason = message


class NotFound(IkaschedError):
    """The named thing does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(IkaschedError):
    """The named thing exists already."""

    code = "ALREADY_EXISTS"


class FailedPrecondition(IkaschedError):
    """The verb is not allowed in the current state."""

    code = "FAILED_PRECONDITION"


class ResourceExhausted(IkaschedError):
    """A request asks for more than a limit allows."""

    code = "RESOURCE_EXHAUSTED"


class OutOfRange(IkaschedError):
    """A position outside what is kept."""

    code = "OUT_OF_RANGE"


class Unavailable(IkaschedError):
    """A part the call needs is not there now."""

    code = "UNAVAILABLE"


class Unauthenticated(IkaschedError):
    """No valid token."""

    code = "UNAUTHENTICATED"


class TokenFormatError(Unauthenticated):
    """A presented token is not of the `iks_<id>_<secret>` form."""


class PermissionDenied(IkaschedError):
    """The token may not do this."""

    code = "PERMISSION_DENIED"


class LinkRefused(IkaschedError):
    """The dashboard refused a hello; `status` names the gRPC code in lower case (e.g.
    "unauthenticated"), as the link's refusal frame carries it."""

    def __init__(self, message: str, *, status: str = "permission_denied") -> None:
        super().__init__(message)
        self.status = status

    @classmethod
    def of(cls, exc: IkaschedError) -> LinkRefused:
        """The refusal for an error raised while checking a hello."""
        if isinstance(exc, LinkRefused):
            return exc
        status = "unauthenticated" if isinstance(exc, Unauthenticated) else "permission_denied"
        return cls(str(exc), status=status)


class JournalError(IkaschedError):
    """A durable journal could not be read or written."""


class LinkError(IkaschedError):
    """The agent link broke a protocol rule."""


class LinkViolation(LinkError):
    """The peer broke the link protocol: a frame out of order (a second hello, an ack of a seq
    never sent, a gap in a batch). The message names the frame field. The dashboard ends the
    agent's stream with `code`; the next hello starts afresh."""

    code = "FAILED_PRECONDITION"


class LinkMalformed(LinkViolation):
    """A frame that cannot be decoded, or a value outside its range (a seq past 2^63-1)."""

    code = "INVALID_ARGUMENT"


class LinkOversize(LinkViolation):
    """A frame or batch larger than the link's negotiated limits."""

    code = "RESOURCE_EXHAUSTED"


class SecretError(IkaschedError):
    """A sealed value cannot be opened (wrong key, or altered)."""


class CliError(IkaschedError):
    """Ends a command with one line on stderr and `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def status_name(exc: BaseException) -> str:
    """The gRPC status code name an exception ends an RPC with (INTERNAL if not ours)."""
    if isinstance(exc, LinkRefused):
        return exc.status.upper()
    if isinstance(exc, IkaschedError):
        return exc.code
    return "INTERNAL"
