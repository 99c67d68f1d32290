"""The method -> role table covers every method of protos/ and follows the stated policy."""

from __future__ import annotations

import re
from pathlib import Path

from ikasched_common.auth import Role
from ikasched_dashboard.security import (
    METHOD_ROLES,
    descriptor_methods,
    required_role,
    unclassified_methods,
)

PROTOS = Path(__file__).resolve().parents[2] / "protos" / "ikasched" / "v1"
READ_VERBS = ("Get", "List", "Watch", "Validate", "Export")


def _methods_in_proto_files() -> set[str]:
    """Every rpc of every service, read from the .proto text itself (not the generated code, so
    a service added to protos/ but missing from the table's descriptor list is caught too)."""
    found = set()
    for path in PROTOS.glob("*.proto"):
        text = re.sub(r"//[^\n]*", "", path.read_text())
        for service, body in re.findall(r"service\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
            for method in re.findall(r"rpc\s+(\w+)\s*\(", body):
                found.add(f"/ikasched.v1.{service}/{method}")
    return found


def test_every_method_of_every_proto_has_a_table_entry() -> None:
    in_protos = _methods_in_proto_files()
    assert len(in_protos) >= 45
    assert in_protos == set(descriptor_methods())
    assert unclassified_methods() == []
    assert in_protos == set(METHOD_ROLES)


def _expected(path: str) -> Role:
    service, method = path.removeprefix("/ikasched.v1.").split("/")
    if service == "AgentGateway":
        return Role.AGENT
    if service in ("TokenService", "QueueService"):
        return Role.ADMIN
    if method == "SetAgentDryRunMode":  # an agent's mode reaches every plan on it
        return Role.ADMIN
    if method == "PurgeHistory":  # deletes the record of what ran, not a verb on a job
        return Role.ADMIN
    if method.startswith(READ_VERBS):
        return Role.VIEWER
    if service in ("PlanService", "MigrationService", "CalendarService", "NotificationService"):
        return Role.ADMIN
    # Verbs on instances and jobs, and raising global events.
    return Role.OPERATOR


def test_roles_follow_the_policy() -> None:
    """viewer: read and watch; operator: + verbs on instances and jobs; admin: + plans,
    tokens, queues, agents' dry-run mode, history purges; agent: only the link."""
    wrong = {p: (r, _expected(p)) for p, r in METHOD_ROLES.items() if r is not _expected(p)}
    assert not wrong


def test_role_order() -> None:
    assert Role.ADMIN.includes(Role.OPERATOR) and Role.OPERATOR.includes(Role.VIEWER)
    assert not Role.VIEWER.includes(Role.OPERATOR)
    assert not Role.OPERATOR.includes(Role.ADMIN)
    assert not Role.ADMIN.includes(Role.AGENT) and not Role.AGENT.includes(Role.VIEWER)
    assert Role.AGENT.includes(Role.AGENT)


def test_unknown_methods_need_an_impossible_role() -> None:
    assert required_role("/ikasched.v1.PlanService/NoSuchMethod") is None
    assert (
        required_role("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
        is Role.VIEWER
    )
