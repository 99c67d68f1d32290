"""Tables that show what matters: context statuses by path in `instance get`, and `instance
list` columns that say what they mean (no planned start under STARTED, no completion time
under ENDED)."""

from __future__ import annotations

from .conftest import REPO, Cli


def _row(out: str, iid: str) -> list[str]:
    header = out.splitlines()[0].split()
    for line in out.splitlines()[1:]:
        if line.startswith(iid):
            cells = [c for c in line.split("  ") if c.strip()]
            return [c.strip() for c in cells]
    raise AssertionError(f"{iid} not in {out}\n{header}")


def test_instance_get_shows_contexts_by_path(stack: Cli) -> None:
    stack.ok("plan", "apply", "-f", str(REPO / "examples" / "nightly-batch.yaml"))
    iid = stack.ok("instance", "create", "nightly-batch").out.strip()
    try:
        out = stack.ok("instance", "get", iid).out
        lines = out.splitlines()
        assert any(line.split() == ["CONTEXT", "STATUS"] for line in lines), out
        assert any(line.split() == ["nightly-batch/load/warehouse", "WAITING"] for line in lines)
        assert any(line.split() == ["nightly-batch/extract", "WAITING"] for line in lines)
        job = next(line for line in lines if line.startswith("local-rebuild-indexes"))
        assert "nightly-batch/load/warehouse" in job
    finally:
        stack.run("instance", "end", iid)


def test_instance_list_columns(stack: Cli) -> None:
    stack.ok("plan", "apply", "-f", str(REPO / "examples" / "hello.yaml"))
    prepared = [
        i
        for i in stack.json("instance", "list", "--all", "--plan", "hello")
        if i["status"] == "PREPARED"
    ]
    assert prepared, "applying a plan prepares its next instance"
    listed = stack.ok("instance", "list", "--all", "--plan", "hello").out
    assert listed.splitlines()[0].split() == [
        "ID",
        "PLAN",
        "STATUS",
        "STARTED",
        "ENDED",
        "DUE",
        "BY",
    ]
    row = _row(listed, prepared[0]["id"])
    assert row[2] == "PREPARED" and row[3] == "-" and row[4] == "-"
    assert row[5].startswith("start ")
    for instance in stack.json("instance", "list", "--plan", "hello"):
        stack.ok("instance", "end", instance["id"])
    iid = stack.ok("instance", "create", "hello").out.strip()
    stack.ok("job", "run", iid, "local-morning")
    stack.wait_job(iid, "local-say-done", "COMPLETE")
    stack.ok("instance", "run-until-ended", iid)
    live = _row(stack.ok("instance", "list", "--plan", "hello").out, iid)
    assert live[2] == "COMPLETE" and live[3] != "-" and live[4] == "-", live
    stack.ok("instance", "end", iid)
    ended = _row(stack.ok("instance", "list", "--all", "--plan", "hello").out, iid)
    assert ended[2] == "ENDED" and ended[4] != "-", ended
