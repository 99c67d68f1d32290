"""Notification rules declared in a plan file (docs/semantics.md §15.7): a `notifications:`
list on the plan, on a child context and on a job. Each entry is checked as an operator's
rule document would be (services.notifications.parse_rule), with the error naming its path
in the plan (`scheduledJobs[0].notifications[1].on[0]`). An entry with neither a webhook nor
an e-mail goes by e-mail to the job's owner, else the plan's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ikasched.v1 import plan_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.plan_index import job_identifier
from ikasched_dashboard.services.notifications import parse_rule
from ikasched_dashboard.store import notifications as store

__all__ = ["plan_rules"]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _entries(
    ctx: plan_pb2.Context, prefix: str, owner: str, is_root: bool
) -> Iterator[tuple[str, plan_pb2.PlanNotification, str, str, str]]:
    """(path, entry, child context, job identifier, default owner) of each entry."""
    context = "" if is_root else ctx.name
    for n, entry in enumerate(ctx.notifications):
        yield _join(prefix, f"notifications[{n}]"), entry, context, "", owner
    for j, job in enumerate(ctx.scheduled_jobs):
        at = _join(prefix, f"scheduledJobs[{j}]")
        for n, entry in enumerate(job.notifications):
            yield (
                f"{at}.notifications[{n}]",
                entry,
                context,
                job_identifier(job),
                job.owner or owner,
            )
    for c, child in enumerate(ctx.contexts):
        yield from _entries(child, _join(prefix, f"contexts[{c}]"), owner, False)


def _document(entry: plan_pb2.PlanNotification, owner: str, path: str) -> dict[str, object]:
    document: dict[str, object] = {"name": "plan-rule", "on": list(entry.on)}
    if entry.webhook:
        document["webhook"] = entry.webhook
    if entry.HasField("email"):
        email: dict[str, object] = {"to": list(entry.email.to)}
        if entry.email.cc:
            email["cc"] = list(entry.email.cc)
        document["email"] = email
    if entry.HasField("p95"):
        document["p95"] = {"factor": entry.p95.factor, "runs": entry.p95.runs or 20}
    if entry.by:
        document["by"] = entry.by
    if not entry.webhook and not entry.HasField("email"):
        if not owner:
            raise InvalidArgument(
                "names no webhook or email, and neither the job nor the plan has an owner "
                "to send to",
                field=path,
            )
        document["email"] = {"to": [owner]}
    return document


def plan_rules(plan: plan_pb2.Context, actor: str, now: int) -> list[store.Rule]:
    """The rules the plan declares, named `PLAN:PATH`; InvalidArgument naming the path."""
    rules = []
    for path, entry, context, job, owner in _entries(plan, "", plan.owner, True):
        defaulted = not entry.webhook and not entry.HasField("email")
        try:
            rule = parse_rule(_document(entry, owner, path), actor, now)
        except InvalidArgument as exc:
            if exc.field == path:
                raise
            if defaulted and exc.field.startswith("email"):
                raise InvalidArgument(
                    f"the default recipient, owner {owner!r}, is not an e-mail address: "
                    "name a webhook or an email",
                    field=path,
                ) from None
            raise InvalidArgument(exc.reason, field=_join(path, exc.field)) from None
        rules.append(
            replace(
                rule,
                name=f"{plan.name}:{path}",
                plan_name=plan.name,
                job_identifier=job,
                child_context=context,
                source_plan=plan.name,
            )
        )
    return rules
