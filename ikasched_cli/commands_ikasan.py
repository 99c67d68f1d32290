"""`ikasched plan import-ikasan PATH` and `ikasched plan export --format ikasan NAME`: the
migration from Ikasan (docs/coming-from-ikasan.md). A dry run converts and validates here,
without a dashboard; --apply sends the files to MigrationService.ImportIkasanPlans."""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path
from typing import Any

from ikasched_cli import output
from ikasched_cli.client import USAGE, CliError, connect

MAX_FILES = 20_000


def read_bundle(raw: str) -> list[tuple[str, bytes]]:
    """The files of PATH: a context JSON, a bundle directory (every .json under it) or a zip."""
    from ikasched_dashboard.plans.ikasan_import import files_of_zip

    path = Path(raw)
    if path.is_dir():
        found = [
            p
            for p in sorted(path.rglob("*"))
            if p.is_file()
            and p.suffix.lower() == ".json"
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        if not found:
            raise CliError(f"{raw}: no .json files in this directory", USAGE)
        if len(found) > MAX_FILES:
            raise CliError(f"{raw}: holds {len(found)} .json files (limit {MAX_FILES})", USAGE)
        return [(f"{raw.rstrip('/')}/{p.relative_to(path).as_posix()}", _read(p)) for p in found]
    if not path.exists():
        raise CliError(f"{raw}: no such file or directory", USAGE)
    data = _read(path)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(io.BytesIO(data)):
        return files_of_zip(data, raw)
    return [(raw, data)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}", USAGE) from None


def agent_map(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise CliError(f"--agent-map: expected IKASAN_AGENT=AGENT, got {pair!r}", USAGE)
        if old.strip() in out:
            raise CliError(f"--agent-map: {old.strip()!r} is mapped twice", USAGE)
        out[old.strip()] = new.strip()
    return out


def _local(
    args: argparse.Namespace, files: list[tuple[str, bytes]], mapping: dict[str, str]
) -> int:
    from ikasched_dashboard.plans.ikasan_format import check_strict, render_report
    from ikasched_dashboard.plans.ikasan_import import import_ikasan

    imported = import_ikasan(files, agent_map=mapping)
    reports = [p.report for p in imported]
    if args.strict:
        check_strict(reports)
    data = {
        "applied": False,
        "plans": [
            {
                "name": p.plan.name,
                "source": p.source,
                "converted": {k: n for k, n in p.report.converted.items() if n},
                "notes": [
                    {"kind": n.kind.value, "source": n.source, "path": n.path, "message": n.message}
                    for n in p.report.notes
                ],
            }
            for p in imported
        ],
    }
    output.emit(args.output, data, render_report(reports) + "dry run: nothing was applied")
    return 0


def import_ikasan(args: argparse.Namespace) -> int:
    """Convert (and with --apply provision) an Ikasan export; prints the migration report."""
    if args.apply and args.dry_run:
        raise CliError("--apply and --dry-run exclude each other", USAGE)
    mapping = agent_map(args.agent_map)
    files = read_bundle(args.path)
    if not args.apply:
        return _local(args, files, mapping)
    from ikasched.v1 import migration_service_pb2, migration_service_pb2_grpc

    client = connect(args)
    stub: Any = client.stub(migration_service_pb2_grpc.MigrationServiceStub)
    response = client.call(
        stub.ImportIkasanPlans,
        migration_service_pb2.ImportIkasanPlansRequest(
            files=[migration_service_pb2.IkasanFile(path=p, content=c) for p, c in files],
            agent_map=mapping,
            strict=args.strict,
            apply=True,
        ),
    )
    lines = [response.report.rstrip("\n")]
    for plan in response.plans:
        state = "created" if plan.created else "unchanged" if plan.unchanged else "updated"
        lines.append(f"plan {plan.name}: {state} (version {plan.summary.version})")
    data = output.message_dict(response)
    for entry in data.get("plans", []):
        entry.pop("plan", None)  # the report, not the whole plan (plan export shows it)
    output.emit(args.output, data, "\n".join(lines))
    return 0


def export_ikasan(args: argparse.Namespace) -> int:
    """Write a plan as an Ikasan bundle: --out DIR, --out FILE.zip, or the template on stdout."""
    from ikasched.v1 import migration_service_pb2, migration_service_pb2_grpc

    client = connect(args)
    stub: Any = client.stub(migration_service_pb2_grpc.MigrationServiceStub)
    response = client.call(
        stub.ExportIkasanPlan,
        migration_service_pb2.ExportIkasanPlanRequest(name=args.name, version=args.plan_version),
    )
    for note in response.notes:
        kind = migration_service_pb2.MigrationNoteKind.Name(note.kind).lower()
        print(f"ikasched: note: {kind} {note.path}: {note.message}", file=sys.stderr)
    out = args.out
    if not out:
        sys.stdout.write(response.files[0].content.decode())
        return 0
    target = Path(out)
    if out.lower().endswith(".zip"):
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for f in response.files:
                archive.writestr(f.path, f.content)
    else:
        for f in response.files:
            dest = target / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.content)
    print(f"plan {args.name}: {len(response.files)} file(s) written to {out}")
    return 0
