"""Between the agent's inbox and its trigger host: registry changes and manual fires go to
the host; the host's refusals become operator alerts instead of poison messages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from ikasched.v1 import agent_pb2
from ikasched_agent.ports import TriggerPort
from ikasched_agent.protocol import AlertSink, DashboardMessage
from ikasched_agent.registry import Registry, RegistryChange
from ikasched_common import clock
from ikasched_common.errors import IkaschedError

__all__ = ["TriggerBridge"]

log = logging.getLogger(__name__)


class TriggerBridge:
    """Feeds a trigger host (or nothing, when the agent has none)."""

    def __init__(self, host: TriggerPort | None, *, agent_name: str, alert: AlertSink) -> None:
        self.host = host
        self._agent_name = agent_name
        self._alert = alert

    async def replay(self, registry: Registry) -> None:
        """On start: the host learns the persisted plans and instances again, then fires."""
        host = self.host
        if host is None:
            return
        for plan in registry.plans.values():
            await self.call(
                "provision",
                host.provision(plan.context_name, list(plan.jobs.values()), plan.timezone),
            )
        await self.call(
            "sync",
            host.sync(agent_pb2.SyncInstances(instances=list(registry.instances.values()))),
        )
        await host.start()

    async def registry_changed(self, message: DashboardMessage, change: RegistryChange) -> None:
        """Pass a registry change the host cares about on to it."""
        host = self.host
        if host is None or change.partial:
            return
        if change.assembled is not None:  # the last part of a sync in parts: the whole set
            message = change.assembled
        kind = change.kind
        if kind == "provision_jobs":
            p = message.provision_jobs
            await self.call("provision", host.provision(p.context_name, list(p.jobs), p.timezone))
        elif kind == "remove_plan_jobs":
            await self.call("remove plan", host.remove_plan(message.remove_plan_jobs.context_name))
        elif kind == "activate_instance":
            a = message.activate_instance
            await self.call("activate", host.activate(a), a.context_instance_id)
        elif kind == "remove_instance":
            iid = message.remove_instance.context_instance_id
            await self.call("remove instance", host.remove_instance(iid), iid)
        elif kind == "sync_instances":
            await self.call("sync", host.sync(message.sync_instances))

    async def manual_fire(self, message: DashboardMessage) -> None:
        fire = message.manual_fire
        if self.host is None:
            log.warning("manual fire of %s: this agent has no trigger host", fire.job_identifier)
            return
        await self.call(
            "manual fire",
            self.host.manual_fire(fire, message_id=message.id),
            fire.context_instance_id,
            fire.job_identifier,
        )

    async def call(
        self, what: str, call: Awaitable[None], instance_id: str = "", job_identifier: str = ""
    ) -> None:
        """A trigger-host call. Its refusals (unknown zone, no such trigger) are the dashboard's
        input being wrong, not a poison message: an alert tells the operator, the message is
        done. Other failures propagate (bounded retries, then dead letters)."""
        try:
            await call
        except IkaschedError as exc:
            log.error("trigger host refused %s: %s", what, exc)
            await self._alert(
                agent_pb2.AgentAlert(
                    type=agent_pb2.AgentAlert.ALERT_ERROR,
                    context_instance_id=instance_id,
                    job_identifier=job_identifier,
                    message=f"{what} refused by agent {self._agent_name}: {exc}",
                    time=clock.now_ms(),
                )
            )
