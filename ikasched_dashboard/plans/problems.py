"""What a plan validation reports: problems with a path, a message and a severity."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ikasched.v1 import common_pb2


class Severity(enum.Enum):
    """ERROR refuses the plan; WARNING is reported and the plan accepted."""

    ERROR = "ERROR"
    WARNING = "WARNING"


_PROTO_SEVERITY: dict[Severity, common_pb2.ValidationProblem.Severity] = {
    Severity.ERROR: common_pb2.ValidationProblem.ERROR,
    Severity.WARNING: common_pb2.ValidationProblem.WARNING,
}


@dataclass(frozen=True, slots=True)
class ValidationProblem:
    """One problem: the path of the offending element, what is wrong, how serious."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.severity.value} {where}{self.message}"

    def to_proto(self) -> common_pb2.ValidationProblem:
        """The protocol's ValidationProblem."""
        return common_pb2.ValidationProblem(
            path=self.path,
            message=self.message,
            severity=_PROTO_SEVERITY[self.severity],
        )


def problems_to_proto(problems: Iterable[ValidationProblem]) -> list[common_pb2.ValidationProblem]:
    """Convert problems to the protocol's messages, in order."""
    return [p.to_proto() for p in problems]


def has_errors(problems: Iterable[ValidationProblem]) -> bool:
    """True when any problem refuses the plan."""
    return any(p.severity is Severity.ERROR for p in problems)
