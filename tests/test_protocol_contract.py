"""The protos are the public contract: every element commented, Ikasan's names and statuses kept."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2, json_format

from ikasched.v1 import common_pb2, events_pb2, plan_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"

# Field numbers of the descriptor messages, used to build source-location paths.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MSG_FIELD, MSG_NESTED, MSG_ENUM = 2, 3, 4
ENUM_VALUE, SERVICE_METHOD = 2, 2


def _descriptor_set(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc

    out = tmp_path / "set.pb"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = str(Path(protoc.__file__).resolve().parent / "_proto")
    rc = protoc.main(
        [
            "protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *sources,
        ]
    )
    assert rc == 0
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _uncommented(fd: descriptor_pb2.FileDescriptorProto) -> list[str]:
    commented = {
        tuple(loc.path) for loc in fd.source_code_info.location if loc.leading_comments.strip()
    }
    missing: list[str] = []

    def enum(e: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], name: str) -> None:
        if path not in commented:
            missing.append(name)
        for i, v in enumerate(e.value):
            if (*path, ENUM_VALUE, i) not in commented:
                missing.append(f"{name}.{v.name}")

    def message(m: descriptor_pb2.DescriptorProto, path: tuple[int, ...], name: str) -> None:
        if path not in commented:
            missing.append(name)
        for i, f in enumerate(m.field):
            if (*path, MSG_FIELD, i) not in commented:
                missing.append(f"{name}.{f.name}")
        for i, n in enumerate(m.nested_type):
            if not n.options.map_entry:
                message(n, (*path, MSG_NESTED, i), f"{name}.{n.name}")
        for i, e in enumerate(m.enum_type):
            enum(e, (*path, MSG_ENUM, i), f"{name}.{e.name}")

    for i, m in enumerate(fd.message_type):
        message(m, (FILE_MESSAGE, i), m.name)
    for i, e in enumerate(fd.enum_type):
        enum(e, (FILE_ENUM, i), e.name)
    for i, s in enumerate(fd.service):
        if (FILE_SERVICE, i) not in commented:
            missing.append(s.name)
        for j, method in enumerate(s.method):
            if (FILE_SERVICE, i, SERVICE_METHOD, j) not in commented:
                missing.append(f"{s.name}.{method.name}")
    return missing


def test_every_message_field_enum_and_method_is_commented(tmp_path: Path) -> None:
    fds = _descriptor_set(tmp_path)
    assert len(fds.file) >= 9
    missing = {fd.name: _uncommented(fd) for fd in fds.file}
    assert {k: v for k, v in missing.items() if v} == {}


def test_protos_use_no_python_only_options(tmp_path: Path) -> None:
    fds = _descriptor_set(tmp_path)
    for fd in fds.file:
        assert fd.package == "ikasched.v1"
        assert fd.syntax == "proto3"
        assert not fd.options.HasField("py_generic_services")


def test_instance_status_has_exactly_ikasans_fifteen_values_in_order() -> None:
    names = [v.name for v in common_pb2.InstanceStatus.DESCRIPTOR.values]
    assert names == [
        "INSTANCE_STATUS_UNSPECIFIED",
        "RUNNING",
        "SKIPPED_RUNNING",
        "COMPLETE",
        "SKIPPED_COMPLETE",
        "WAITING",
        "ERROR",
        "ERROR_ACKNOWLEDGED",
        "KILLED",
        "SKIPPED",
        "ON_HOLD",
        "RELEASED",
        "ENDED",
        "DISABLED",
        "LOCK_QUEUED",
        "PREPARED",
    ]


def test_events_carry_every_ikasan_field_plus_an_id() -> None:
    process_fields = {
        "outcome",
        "agent_name",
        "agent_hostname",
        "job_name",
        "job_description",
        "job_group",
        "command_line",
        "return_code",
        "successful",
        "result_output",
        "result_error",
        "pid",
        "user",
        "fire_time",
        "next_fire_time",
        "completion_time",
        "job_starting",
        "dry_run",
        "dry_run_parameters",
        "execution_details",
    }
    contextualised = process_fields | {
        "context_name",
        "child_context_names",
        "context_instance_id",
        "skipped",
        "internal_event_driven_job",
        "raised_due_to_failure_resubmission",
        "catalyst_event",
        "job_execution_output_parameters",
        "id",
    }
    initiation = {
        "id",
        "agent_name",
        "agent_url",
        "job_name",
        "internal_event_driven_job",
        "context_name",
        "child_context_names",
        "context_instance_id",
        "context_parameters",
        "dry_run",
        "dry_run_parameters",
        "skipped",
        "catalyst_event",
    }

    def fields(message: type) -> set[str]:
        return {f.name for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]

    assert process_fields | {"id"} <= fields(events_pb2.ScheduledProcessEvent)
    assert contextualised <= fields(events_pb2.ContextualisedScheduledProcessEvent)
    assert initiation <= fields(events_pb2.SchedulerJobInitiationEvent)


def test_grouping_json_names_are_and_or_not() -> None:
    grouping = plan_pb2.LogicalGrouping(
        all_of=[plan_pb2.LogicalOperator(identifier="a-1")],
        any_of=[plan_pb2.LogicalOperator(identifier="a-2")],
        none_of=[plan_pb2.LogicalOperator(identifier="a-3")],
    )
    as_json = json_format.MessageToDict(grouping)
    assert set(as_json) == {"and", "or", "not"}
    back = json_format.ParseDict(as_json, plan_pb2.LogicalGrouping())
    assert back == grouping


def test_every_job_type_is_a_oneof_member() -> None:
    oneof = plan_pb2.SchedulerJob.DESCRIPTOR.oneofs_by_name["job_type"]
    assert {f.name for f in oneof.fields} == {
        "internal_event_driven_job",
        "quartz_schedule_driven_job",
        "file_event_driven_job",
        "global_event_job",
        "context_start_job",
        "context_terminal_job",
        "local_event_job",
        "bridging_job",
    }
