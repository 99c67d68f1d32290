"""Secret parameters end to end (issue 9 done-when): a secret value never appears in the
dashboard's files (SQLite database, -wal, -shm, journals), the agent's files (inbox, registry,
held initiations, outbox, run directories), logs, audit rows, exports or API output, yet the
job's process sees it (the job writes a hash of $SECRET to a file). Every file of both data
directories is 0600, every directory 0700 (docs/architecture.md §7.5)."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.message import Message
from sqlalchemy import text

from ikasched.v1 import (
    common_pb2,
    instance_service_pb2,
    plan_service_pb2,
)
from tests.e2e_features.conftest import Stack, command_plan, running, wired

DEFAULT = "default-s3cr3t-Zq81"
GIVEN = "given-s3cr3t-Xk27"
UPDATED = "updated-s3cr3t-Pw55"
RUN_ONLY = "runonly-s3cr3t-Jd90"
UNDECLARED = "undeclared-s3cr3t-Mv63"  # given with secret=true, not declared in the plan
SECRETS = (DEFAULT, GIVEN, UPDATED, RUN_ONLY, UNDECLARED)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def files_under(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path


def assert_nowhere(blob: bytes, where: str) -> None:
    for secret in SECRETS:
        assert secret.encode() not in blob, f"{secret} found in {where}"


def as_text(message: Message) -> bytes:
    return (json_format.MessageToJson(message) + str(message)).encode()


async def test_secret_parameters_reach_the_job_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "hashes"
    out.mkdir()
    job = "printf %s \"$SECRET\" | sha256sum | cut -d' ' -f1 > " + str(out) + "/{name}"
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        async with wired(tmp_path) as stack:
            await scenario(stack, job, out)
            answers = await api_output(stack)
            audit = await stack.app.db_read(
                lambda c: [tuple(r) for r in c.execute(text("SELECT * FROM audit"))]
            )
            key_file = stack.app.config.effective_secret_key_file
            assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        data_dir = tmp_path / "dash"
        agent_dir = tmp_path / "agents" / "a1"
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)

    assert audit, "the run left audit rows"
    assert_nowhere(repr(audit).encode(), "audit rows")
    assert_nowhere(answers, "API output and exports")
    assert b"***" in answers
    assert b"enc:v1:" not in answers  # masked, not merely sealed
    assert_nowhere("\n".join(capture.lines).encode(), "the dashboard's logs")
    sqlite = [p for p in files_under(data_dir) if ".db" in p.name or p.suffix == ".sqlite"]
    assert sqlite, list(files_under(data_dir))
    for path in files_under(data_dir):
        assert_nowhere(path.read_bytes(), str(path))
    agent_files = list(files_under(agent_dir))
    assert any("runs" in p.parts for p in agent_files), agent_files
    for path in agent_files:
        assert_nowhere(path.read_bytes(), str(path))
    for top in (data_dir, agent_dir):
        loose = [
            (str(p), oct(stat.S_IMODE(p.stat().st_mode)))
            for p in [top, *top.rglob("*")]
            if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)
        ]
        assert loose == [], loose
    # at rest, the values are sealed, not dropped
    everything = b"".join(p.read_bytes() for p in sqlite)
    assert b"enc:v1:" in everything


async def scenario(stack: Stack, job: str, out: Path) -> None:
    extra = job.replace("$SECRET", "$EXTRA")
    plan = command_plan(
        "secretive",
        "a1",
        {name: job.format(name=name) for name in ("default", "given", "updated", "run")}
        | {"extra": extra.format(name="extra")},
        parameters=[
            {"name": "SECRET", "defaultValue": DEFAULT, "secret": True},
            {"name": "PLAIN", "defaultValue": "plain-value"},
        ],
        job_parameters=["SECRET", "PLAIN", "EXTRA"],
    )
    await stack.provision(plan)
    # provisioning the same plan again is a no-op although the stored value is sealed
    again = await stack.plans.ProvisionPlan(
        plan_service_pb2.ProvisionPlanRequest(plan=plan), metadata=stack.md
    )
    assert again.unchanged
    async with running(stack.agent("a1")):
        await stack.wait_connected("a1")
        by_default = await stack.create("secretive")
        await stack.run_job(by_default, "a1-default")
        given = await stack.create("secretive", {"SECRET": GIVEN})
        await stack.run_job(given, "a1-given")
        await stack.wait_job(by_default, "a1-default")
        await stack.wait_job(given, "a1-given")
        await stack.instances.UpdateContextParameters(
            instance_service_pb2.UpdateContextParametersRequest(
                context_instance_id=given,
                context_parameters=[
                    common_pb2.ContextParameterInstance(name="SECRET", value=UPDATED)
                ],
            ),
            metadata=stack.md,
        )
        await stack.run_job(given, "a1-updated")
        await stack.wait_job(given, "a1-updated")
        await stack.run_job(by_default, "a1-run", {"SECRET": RUN_ONLY})
        await stack.wait_job(by_default, "a1-run")
        undeclared = await stack.instances.CreateInstance(
            instance_service_pb2.CreateInstanceRequest(
                context_name="secretive",
                context_parameters=[
                    common_pb2.ContextParameterInstance(name="EXTRA", value=UNDECLARED, secret=True)
                ],
            ),
            metadata=stack.md,
        )
        shown = {p.name: (p.value, p.secret) for p in undeclared.context_parameters}
        assert shown["EXTRA"] == ("***", True), shown
        await stack.run_job(undeclared.id, "a1-extra")
        await stack.wait_job(undeclared.id, "a1-extra")
    assert (out / "default").read_text().strip() == sha(DEFAULT)
    assert (out / "given").read_text().strip() == sha(GIVEN)
    assert (out / "updated").read_text().strip() == sha(UPDATED)
    assert (out / "run").read_text().strip() == sha(RUN_ONLY)
    assert (out / "extra").read_text().strip() == sha(UNDECLARED)


async def api_output(stack: Stack) -> bytes:
    """Every read of the API that could show the values, as text."""
    md = stack.md
    got = bytearray()
    got += as_text(
        await stack.plans.GetPlan(plan_service_pb2.GetPlanRequest(name="secretive"), metadata=md)
    )
    got += as_text(
        await stack.plans.ExportPlan(
            plan_service_pb2.ExportPlanRequest(name="secretive"), metadata=md
        )
    )
    listed = await stack.instances.ListInstances(
        instance_service_pb2.ListInstancesRequest(), metadata=md
    )
    got += as_text(listed)
    for summary in listed.instances:
        full = await stack.instance(summary.id)
        got += as_text(full)
        shown = {p.name: p.value for p in full.context_parameters}
        assert shown["SECRET"] == "***" and shown["PLAIN"] == "plain-value", shown
        for j in full.jobs:
            got += as_text(
                await stack.instances.GetEventsThatCanRun(
                    instance_service_pb2.GetEventsThatCanRunRequest(
                        job=common_pb2.JobRef(
                            context_instance_id=summary.id, job_identifier=j.identifier
                        )
                    ),
                    metadata=md,
                )
            )
    return bytes(got)
