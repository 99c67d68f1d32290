"""MigrationService: import Ikasan plans (with the migration report) and export plans as Ikasan
bundles. The conversion lives in ikasched_dashboard.plans.ikasan_*; provisioning goes through
PlanServicer.provision, so an imported plan is checked and stored as `plan apply` stores it."""

from __future__ import annotations

import asyncio

from ikasched.v1 import (
    migration_service_pb2,
    migration_service_pb2_grpc,
    plan_service_pb2,
)
from ikasched_common.errors import InvalidArgument
from ikasched_dashboard.plans.ikasan_export import export_ikasan
from ikasched_dashboard.plans.ikasan_format import Note, NoteKind, check_strict, render_report
from ikasched_dashboard.plans.ikasan_import import files_of_zip, import_ikasan
from ikasched_dashboard.services.context import ServiceContext, not_negative
from ikasched_dashboard.services.errors import Ctx, unary
from ikasched_dashboard.services.plans import PlanServicer
from ikasched_dashboard.services.views import masked_plan

_KINDS = {
    NoteKind.DROPPED: migration_service_pb2.DROPPED,
    NoteKind.CHANGED: migration_service_pb2.CHANGED,
    NoteKind.WARNING: migration_service_pb2.WARNING,
}


def note_proto(note: Note) -> migration_service_pb2.MigrationNote:
    return migration_service_pb2.MigrationNote(
        kind=_KINDS[note.kind], source=note.source, path=note.path, message=note.message
    )


class MigrationServicer(migration_service_pb2_grpc.MigrationServiceServicer):
    """The MigrationService RPCs; provisioning through the PlanService's own path."""

    def __init__(self, ctx: ServiceContext, plans: PlanServicer) -> None:
        self.ctx = ctx
        self.plans = plans

    @unary
    async def ImportIkasanPlans(
        self, request: migration_service_pb2.ImportIkasanPlansRequest, context: Ctx
    ) -> migration_service_pb2.ImportIkasanPlansResponse:
        files = [(f.path or f"files[{i}]", f.content) for i, f in enumerate(request.files)]
        if request.bundle_zip:
            files += await asyncio.to_thread(files_of_zip, request.bundle_zip, "bundle_zip")
        if not files:
            raise InvalidArgument("no files: give files or bundle_zip", field="files")
        for old, new in request.agent_map.items():
            if not old or not new:
                raise InvalidArgument(
                    f"an empty agent name in {old!r} -> {new!r}", field="agent_map"
                )
        imported = await asyncio.to_thread(
            lambda: import_ikasan(files, agent_map=dict(request.agent_map))
        )
        for item in imported:
            self.ctx.plan_access(item.plan.name)
        if request.strict:
            check_strict([p.report for p in imported])
        out = migration_service_pb2.ImportIkasanPlansResponse(
            report=render_report([p.report for p in imported]), applied=request.apply
        )
        results: list[plan_service_pb2.ProvisionPlanResponse | None] = [None] * len(imported)
        if request.apply:
            for item in imported:  # every plan checked as provisioning checks it, first
                await self.plans.provision(
                    plan_service_pb2.ProvisionPlanRequest(plan=item.plan, dry_run=True)
                )
            for i, item in enumerate(imported):
                results[i] = await self.plans.provision(
                    plan_service_pb2.ProvisionPlanRequest(plan=item.plan)
                )
        for item, result in zip(imported, results, strict=True):
            entry = out.plans.add(
                name=item.plan.name,
                source=item.source,
                notes=[note_proto(n) for n in item.report.notes],
                plan=masked_plan(item.plan),
            )
            entry.converted.update({k: n for k, n in item.report.converted.items() if n})
            if result is not None:
                entry.summary.CopyFrom(result.plan)
                entry.created = result.created
                entry.unchanged = result.unchanged
        return out

    @unary
    async def ExportIkasanPlan(
        self, request: migration_service_pb2.ExportIkasanPlanRequest, context: Ctx
    ) -> migration_service_pb2.ExportIkasanPlanResponse:
        not_negative(version=request.version)
        plan = await self.ctx.plan_proto(request.name, request.version)
        files, notes = await asyncio.to_thread(export_ikasan, masked_plan(plan))
        return migration_service_pb2.ExportIkasanPlanResponse(
            files=[migration_service_pb2.IkasanFile(path=p, content=c) for p, c in files],
            notes=[note_proto(n) for n in notes],
        )
