"""A small reflection client: every service and method a server offers, with its shape, and a
generic caller that sends an empty request message to any of them."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

Metadata = tuple[tuple[str, str], ...] | None


@dataclass(frozen=True, slots=True)
class RemoteMethod:
    path: str
    client_streaming: bool
    server_streaming: bool


async def list_methods(channel: grpc.aio.Channel, metadata: Metadata) -> list[RemoteMethod]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(metadata=metadata, timeout=10)
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = await call.read()
    services = [s.name for s in listed.list_services_response.service]
    methods: list[RemoteMethod] = []
    for service in services:
        await call.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol=service))
        answer = await call.read()
        found = False
        for blob in answer.file_descriptor_response.file_descriptor_proto:
            file = descriptor_pb2.FileDescriptorProto.FromString(blob)
            for svc in file.service:
                full = f"{file.package}.{svc.name}" if file.package else svc.name
                if full != service:
                    continue
                found = True
                methods.extend(
                    RemoteMethod(f"/{full}/{m.name}", m.client_streaming, m.server_streaming)
                    for m in svc.method
                )
        assert found, f"reflection did not describe {service}"
    await call.done_writing()
    return methods


async def call_empty(
    channel: grpc.aio.Channel, method: RemoteMethod, metadata: Metadata
) -> tuple[grpc.StatusCode, str]:
    """Call `method` with one empty request message (raw bytes: no stubs needed)."""
    call: grpc.aio.Call
    path, one = method.path, [b""]
    if method.client_streaming and method.server_streaming:
        call = channel.stream_stream(path, None, None)(iter(one), metadata=metadata, timeout=10)
    elif method.client_streaming:
        call = channel.stream_unary(path, None, None)(iter(one), metadata=metadata, timeout=10)
    elif method.server_streaming:
        call = channel.unary_stream(path, None, None)(b"", metadata=metadata, timeout=10)
    else:
        call = channel.unary_unary(path, None, None)(b"", metadata=metadata, timeout=10)
    code = await call.code()
    return code, await call.details() or ""
