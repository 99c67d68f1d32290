"""What the dashboard must be able to send of a plan it stores (docs/architecture.md §4.9).

A plan is refused at provision time (ProvisionPlan, `ikasched plan apply`, dry runs too) when
anything the system later sends of it would not fit its limit, instead of being stored and
then failing on every GetPlan or ExportPlan, or wedging an agent's link:

- GetPlanResponse and ExportPlanResponse (YAML and JSON) against --max-message-bytes, the
  largest message either way between the CLI and the dashboard;
- each job of an agent's ProvisionJobs link message (sent in parts) against the link's
  message limit (max_frame_bytes less the frame headers).

Each refusal is INVALID_ARGUMENT on `plan`, naming the size and the limit. The text exports are
only rendered for a plan whose binary form is within `_TEXT_GROWTH` of the limit (a plan's
YAML and JSON are a few times its binary size), so small plans pay nothing.
"""

from __future__ import annotations

from ikasched.v1 import plan_pb2, plan_service_pb2
from ikasched_common.errors import InvalidArgument
from ikasched_common.link.session import LinkSettings
from ikasched_dashboard.orchestrator.messages import provision
from ikasched_dashboard.plans.loader import Format, dump_plan
from ikasched_dashboard.services.views import agent_names, masked_plan

__all__ = ["LINK_MESSAGE_MARGIN", "check_plan_sendable"]

#: Room beside a plan's jobs in a ProvisionJobs part (its header, sealed secrets opened on
#: the way out).
LINK_MESSAGE_MARGIN = 4 * 1024
# Summary fields of GetPlanResponse beside the plan (name, agents, times, counts...).
_SUMMARY_MARGIN = 64 * 1024
# Text exports are rendered when the binary plan is above limit / _TEXT_GROWTH.
_TEXT_GROWTH = 16


def _refuse(what: str, size: int, limit: int, setting: str) -> InvalidArgument:
    return InvalidArgument(
        f"the plan's {what} would be {size} bytes, more than the limit of {limit} bytes"
        f" ({setting}); split the plan or raise the limit",
        field="plan",
    )


def check_plan_sendable(
    plan: plan_pb2.Context, *, max_message_bytes: int, max_frame_bytes: int
) -> None:
    """Raise InvalidArgument when a message of this plan would not fit its limit."""
    shown = masked_plan(plan)
    size = shown.ByteSize() + _SUMMARY_MARGIN
    if size > max_message_bytes:
        raise _refuse("GetPlan answer", size, max_message_bytes, "--max-message-bytes")
    if shown.ByteSize() * _TEXT_GROWTH > max_message_bytes:
        exports: tuple[tuple[Format, plan_service_pb2.PlanFormat], ...] = (
            ("yaml", plan_service_pb2.YAML),
            ("json", plan_service_pb2.JSON),
        )
        for fmt, kind in exports:
            text = dump_plan(shown, fmt)
            size = plan_service_pb2.ExportPlanResponse(text=text, format=kind).ByteSize()
            if size > max_message_bytes:
                raise _refuse(
                    f"{fmt.upper()} export", size, max_message_bytes, "--max-message-bytes"
                )
    # ProvisionJobs is split into parts that fit a link frame; a job that cannot fit one
    # alone would never reach its agent
    link_limit = LinkSettings(max_frame_bytes=max_frame_bytes).message_limit
    if plan.ByteSize() + LINK_MESSAGE_MARGIN <= link_limit:
        return  # every job is smaller than the whole plan
    for agent in agent_names(plan):
        _parts, oversized = provision(plan, 0, agent, 0, link_limit)
        if oversized:
            first = oversized[0]
            raise _refuse(
                f"ProvisionJobs message of {first.what} to agent {agent}",
                first.size,
                link_limit,
                "the link's max_frame_bytes",
            )
