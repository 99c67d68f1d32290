"""The agent in-process against a fake dashboard over real gRPC on 127.0.0.1: real command
jobs, refusals, cancel, kill, instance sync, dry run, registry persistence, poison messages,
a dashboard restart while events are in flight."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ikasched.v1 import agent_pb2
from ikasched_agent.agent import Agent, TriggerContext
from ikasched_agent.registry import HeldInitiations, Registry, RegistryLog
from ikasched_common.journal import DiskJournal

from .support import (
    AGENT,
    FakeDashboard,
    Msg,
    activate,
    activation,
    command_job,
    count_lines,
    in_process_agent,
    initiation,
    provision,
    wait_until,
)


@contextlib.asynccontextmanager
async def running(tmp: Path, **agent_kwargs: object) -> AsyncIterator[tuple[FakeDashboard, Agent]]:
    dash = FakeDashboard(tmp)
    port = await dash.start()
    agent = in_process_agent(tmp / "agent", port, **agent_kwargs)  # type: ignore[arg-type]
    await agent.start()
    try:
        yield dash, agent
    finally:
        await agent.stop()
        await dash.close()


async def test_command_jobs_run_and_report_through_the_link(tmp_path: Path) -> None:
    """Also: token metadata, status lane, redelivery after completion."""
    work = tmp_path / "work"
    work.mkdir()
    ok = command_job(
        "ok",
        'echo "hello $GREETING"; echo "RESULT=42" >> "$IKASCHED_OUTPUT_FILE"; pwd',
        working_directory=str(work),
    )
    bad = command_job("bad", "echo oops >&2; exit 3")
    custom = command_job("custom", "exit 3")
    custom.internal_event_driven_job.successful_return_codes.extend([0, 3])
    async with running(tmp_path, token="s3cret") as (dash, agent):
        await dash.send(
            provision(ok, bad, custom),
            activate("i1"),
            initiation("n1", ok, parameters={"GREETING": "world"}),
            initiation("n2", bad),
            initiation("n3", custom),
        )
        done = await dash.wait_completed("n1", "n2", "n3")
        starts = dash.starts()
        assert set(starts) == {"n1", "n2", "n3"}
        assert all(starts[i].pid > 0 for i in starts)
        n1, n2, n3 = done["n1"], done["n2"], done["n3"]
        assert (n1.return_code, n1.successful) == (0, True)
        assert n1.job_execution_output_parameters["RESULT"] == "42"
        assert Path(n1.result_output).read_text().splitlines() == ["hello world", str(work)]
        assert n1.context_instance_id == "i1" and n1.agent_name == AGENT
        assert n1.pid == starts["n1"].pid
        assert (n2.return_code, n2.successful) == (3, False)
        assert Path(n2.result_error).read_text() == "oops\n"
        assert (n3.return_code, n3.successful) == (3, True)
        # the dashboard saw each message once, and the status lane reports the instance
        assert max(dash.message_id_counts().values()) == 1
        await wait_until(lambda: any(s.active_instances == 1 for s in dash.statuses()))
        await wait_until(lambda: len(agent.held) == 0)
        # a redelivered initiation starts nothing and is not held
        await dash.send(
            initiation("n1", ok, parameters={"GREETING": "again"}), initiation("n6", custom)
        )
        await dash.wait_completed("n6")
        assert len(agent.held) == 0
        assert Path(n1.result_output).read_text().splitlines()[0] == "hello world"
        assert [e.id for e in dash.events()].count("n1:completed") == 1
        assert dash.hellos[0].agent_name == AGENT and dash.hellos[0].agent_instance_id
        assert dash.metadata[0].get("authorization") == "Bearer s3cret"


async def test_initiations_for_unknown_jobs_fail_visibly(tmp_path: Path) -> None:
    known = command_job("known", "touch ran-$IKASCHED_INITIATION_ID")
    stranger = command_job("stranger", "true")
    async with running(tmp_path) as (dash, agent):
        await dash.send(provision(known), activate("i1"))
        other_agent = initiation("n4", known)
        other_agent.initiation.agent_name = "a2"
        await dash.send(
            initiation("n1", stranger),  # job not provisioned here
            initiation("n2", known, instance="i9"),  # instance not held here: still runs
            initiation("n3", known, plan="other-plan"),
            other_agent,
            initiation("n5", known),
        )
        done = await dash.wait_completed("n1", "n2", "n3", "n4", "n5")
        for iid, words in [
            ("n1", "not provisioned"),
            ("n3", "not provisioned"),
            ("n4", "reached agent"),
        ]:
            assert not done[iid].successful
            assert done[iid].return_code == -1
            assert words in done[iid].outcome_reason, done[iid].outcome_reason
            assert iid not in dash.starts()
        assert done["n5"].successful
        assert done["n2"].successful  # the dashboard raised it: its instance is active there
        runs = agent.data_dir / "runs"
        assert sorted(p.name for p in runs.iterdir()) == ["n2", "n5"]


async def test_cancel_of_a_queued_job_and_kill_of_a_running_one(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    slow = command_job("slow", f"echo x >> {marks}/$IKASCHED_INITIATION_ID; exec sleep 30")
    async with running(tmp_path, max_concurrent_jobs=1) as (dash, agent):
        await dash.send(
            provision(slow), activate("i1"), initiation("a", slow), initiation("b", slow)
        )
        await wait_until(lambda: "a" in dash.starts() and agent.executor.queued() == ["b"])
        await dash.send(
            Msg(
                id="c1",
                cancel_initiation=agent_pb2.CancelInitiation(
                    initiation_id="b", reason="held by operator"
                ),
            )
        )
        done = await dash.wait_completed("b")
        assert not done["b"].successful and "held by operator" in done["b"].outcome_reason
        await dash.send(
            Msg(
                id="k1",
                kill_job=agent_pb2.KillJob(
                    initiation_id="a", context_instance_id="i1", reason="operator kill"
                ),
            )
        )
        done = await dash.wait_completed("a")
        assert not done["a"].successful and "operator kill" in done["a"].outcome_reason
        assert count_lines(marks / "a") == 1
        assert not (marks / "b").exists()
        assert "b" not in dash.starts()


async def test_sync_and_remove_instance(tmp_path: Path) -> None:
    job = command_job("j", "exec sleep 30")
    quick = command_job("q", "true")
    async with running(tmp_path) as (dash, agent):
        await dash.send(
            provision(job, quick),
            activate("i1"),
            activate("i2"),
            activate("i3"),
            initiation("long", job, instance="i3"),
        )
        await wait_until(lambda: "long" in dash.starts())
        await dash.send(
            Msg(
                id="s1",
                sync_instances=agent_pb2.SyncInstances(
                    instances=[activation("i1"), activation("i3")]
                ),
            )
        )
        await dash.send(initiation("x2", quick, instance="i2"), initiation("x1", quick))
        done = await dash.wait_completed("x1", "x2")
        assert done["x1"].successful
        # an initiation after the sync is the dashboard's newer word: it runs
        assert done["x2"].successful
        assert set(agent.registry.instances) == {"i1", "i3"}
        # removing an instance with kill_running_jobs stops its job
        await dash.send(
            Msg(
                id="r1",
                remove_instance=agent_pb2.RemoveInstance(
                    context_instance_id="i3", kill_running_jobs=True
                ),
            )
        )
        done = await dash.wait_completed("long")
        assert not done["long"].successful and "instance i3 removed" in done["long"].outcome_reason
        assert set(agent.registry.instances) == {"i1"}


async def test_dry_run_mode_applies_to_later_initiations(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    job = command_job("touchy", f"touch {marks}/$IKASCHED_INITIATION_ID")
    async with running(tmp_path) as (dash, _agent):
        await dash.send(provision(job), activate("i1"), initiation("real", job))
        await dash.wait_completed("real")
        await dash.send(
            Msg(id="dry", set_dry_run_mode=agent_pb2.SetDryRunMode(job_dry_run={"touchy": True})),
            initiation("sim", job),
        )
        done = await dash.wait_completed("sim")
        assert done["sim"].dry_run and done["sim"].successful
        assert (marks / "real").exists() and not (marks / "sim").exists()
        await dash.send(
            Msg(id="wet", set_dry_run_mode=agent_pb2.SetDryRunMode()), initiation("real2", job)
        )
        await dash.wait_completed("real2")
        assert (marks / "real2").exists()


async def test_registry_and_running_jobs_survive_a_graceful_restart(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    job = command_job("j", f"echo x >> {marks}/$IKASCHED_INITIATION_ID; sleep 1; exit 7")
    dash = FakeDashboard(tmp_path)
    port = await dash.start()
    try:
        agent = in_process_agent(tmp_path / "agent", port)
        await agent.start()
        await dash.send(
            provision(job),
            activate("i1"),
            initiation("r1", job),
            Msg(id="dry", set_dry_run_mode=agent_pb2.SetDryRunMode(job_dry_run={"other": True})),
        )
        await wait_until(lambda: "r1" in dash.starts())
        await agent.stop()  # the job keeps running, detached
        assert "r1" not in dash.completions()

        # what a restart reads back
        store = DiskJournal(tmp_path / "agent" / "journal", prefix="inbox")
        registry = Registry(AGENT)
        RegistryLog(store.sibling("registry")).load(registry)
        assert set(registry.instances) == {"i1"} and registry.job("plan1", job.identifier)
        assert registry.dry_run.per_job == {"other": True}
        assert [i.id for i in HeldInitiations(store.sibling("held")).load()] == ["r1"]
        store.close()

        again = in_process_agent(tmp_path / "agent", port)
        await again.start()
        try:
            done = await dash.wait_completed("r1")
            assert (done["r1"].return_code, done["r1"].successful) == (7, False)
            assert count_lines(marks / "r1") == 1
            # the restarted agent still knows the plan and the instance
            await dash.send(initiation("r2", job))
            done = await dash.wait_completed("r2")
            assert done["r2"].return_code == 7 and count_lines(marks / "r2") == 1
            assert [e.initiation_id for e in dash.events() if not e.job_starting].count("r1") == 1
        finally:
            await again.stop()
    finally:
        await dash.close()


class _FlakyTriggers:
    """A trigger host whose provisioning of plan "poison" always fails."""

    def __init__(self, ctx: TriggerContext) -> None:
        self.ctx = ctx
        self.provisioned: list[str] = []
        self.active: list[str] = []

    async def start(self) -> None:
        pass

    async def provision(self, plan_name: str, jobs: object, timezone: str = "") -> None:
        if plan_name == "poison":
            raise RuntimeError("cannot digest this plan")
        self.provisioned.append(plan_name)

    async def remove_plan(self, plan_name: str) -> None:
        pass

    async def activate(self, activation: agent_pb2.ActivateInstance) -> None:
        self.active.append(activation.context_instance_id)

    async def remove_instance(self, instance_id: str) -> None:
        pass

    async def sync(self, instances: agent_pb2.SyncInstances) -> None:
        pass

    async def manual_fire(self, request: agent_pb2.ManualFire, *, message_id: str = "") -> None:
        pass

    async def aclose(self) -> None:
        pass


async def test_poison_message_goes_to_dead_letters_and_the_loop_goes_on(tmp_path: Path) -> None:
    hosts: list[_FlakyTriggers] = []

    def factory(ctx: TriggerContext) -> _FlakyTriggers:
        hosts.append(_FlakyTriggers(ctx))
        return hosts[-1]

    job = command_job("j", "true")
    async with running(tmp_path, trigger_factory=factory, max_poison_attempts=3) as (dash, agent):
        await dash.send(
            provision(job, plan="poison"), provision(job), activate("i1"), initiation("after", job)
        )
        done = await dash.wait_completed("after")
        assert done["after"].successful
        letters = agent.dead_letters.peek()
        assert len(letters) == 1 and letters[0].attempts == 3
        assert "cannot digest" in letters[0].reason
        assert Msg.FromString(letters[0].value).provision_jobs.context_name == "poison"
        assert hosts[0].provisioned == ["plan1"] and hosts[0].active == ["i1"]


async def test_dashboard_restart_while_events_are_in_flight(tmp_path: Path) -> None:
    job = command_job("q", "echo $IKASCHED_INITIATION_ID")
    ids = [f"e{i}" for i in range(40)]
    async with running(tmp_path, max_concurrent_jobs=4) as (dash, _agent):
        await dash.send(provision(job), activate("i1"))
        await dash.send(*[initiation(i, job) for i in ids[:20]])
        await wait_until(lambda: len(dash.events()) >= 3)
        await dash.restart(down_for=0.3)
        await dash.send(*[initiation(i, job) for i in ids[20:]])
        await wait_until(lambda: len(dash.completions()) >= 25)
        await dash.restart(down_for=0.1)
        done = await dash.wait_completed(*ids)
        assert all(done[i].successful for i in ids)
        # the agent comes back after each restart (the last may finish before it reconnects)
        await wait_until(lambda: len(dash.hellos) >= 3)
        # the link resumed exactly: nothing journaled twice on the dashboard
        assert max(dash.message_id_counts().values()) == 1
        assert len(dash.starts()) == 40
