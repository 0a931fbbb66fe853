"""Errors the client raises: the gRPC status, and the fields the server named.

The services attach a google.rpc.Status to INVALID_ARGUMENT answers (the
`grpc-status-details-bin` trailer) with a google.rpc.BadRequest detail naming
the offending field. Those two messages are declared here, in a descriptor
pool of this module's own (so they never clash with googleapis-common-protos
if the application uses it too), and parsed by protobuf itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, cast

import grpc
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message
from google.protobuf.message_factory import GetMessageClass

_STATUS_TRAILER = "grpc-status-details-bin"
_BAD_REQUEST = "google.rpc.BadRequest"


def _rpc_messages() -> tuple[Any, Any]:
    """google.rpc.Status and google.rpc.BadRequest (the fields the services
    send, as in googleapis' google/rpc/status.proto and error_details.proto):
    message classes made at run time, so Any to a type checker."""
    F = descriptor_pb2.FieldDescriptorProto
    pool = descriptor_pool.DescriptorPool()
    any_file = descriptor_pb2.FileDescriptorProto()
    any_pb2.DESCRIPTOR.CopyToProto(any_file)
    pool.Add(any_file)
    rpc = descriptor_pb2.FileDescriptorProto(
        name="rebound_client/google_rpc.proto", package="google.rpc", syntax="proto3",
        dependency=[any_file.name])

    def field(name: str, number: int,
              kind: "descriptor_pb2.FieldDescriptorProto.Type.ValueType",
              label: "descriptor_pb2.FieldDescriptorProto.Label.ValueType" = F.LABEL_OPTIONAL,
              type_name: Optional[str] = None) -> descriptor_pb2.FieldDescriptorProto:
        return F(name=name, number=number, type=kind, label=label, type_name=type_name)

    rpc.message_type.add(name="Status", field=[
        field("code", 1, F.TYPE_INT32),
        field("message", 2, F.TYPE_STRING),
        field("details", 3, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".google.protobuf.Any")])
    bad_request = rpc.message_type.add(name="BadRequest", field=[
        field("field_violations", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED,
              ".google.rpc.BadRequest.FieldViolation")])
    bad_request.nested_type.add(name="FieldViolation", field=[
        field("field", 1, F.TYPE_STRING), field("description", 2, F.TYPE_STRING)])
    pool.Add(rpc)
    return (GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status")),
            GetMessageClass(pool.FindMessageTypeByName(_BAD_REQUEST)))


_Status, _BadRequest = _rpc_messages()


@dataclass(frozen=True)
class FieldViolation:
    """A request field the server refused, and why."""

    field: str
    description: str


class ReboundError(Exception):
    """A call failed: its gRPC `code`, `message` and, for INVALID_ARGUMENT,
    the offending fields (`violations`, from the google.rpc.BadRequest in the
    status details)."""

    def __init__(self, code: grpc.StatusCode, message: str,
                 violations: tuple[FieldViolation, ...] = ()) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.violations = violations

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "ReboundError":
        """The error of a failed call. grpc's errors are also grpc.Call (code,
        details, trailing metadata); anything else reads as UNKNOWN."""
        call = cast(grpc.Call, error)
        if not callable(getattr(call, "code", None)):
            return cls(grpc.StatusCode.UNKNOWN, str(error))
        return cls(call.code(), call.details() or "", _violations(call.trailing_metadata()))


def _violations(trailers: Optional[tuple[tuple[str, str | bytes], ...]]
                ) -> tuple[FieldViolation, ...]:
    status_bytes = next((value for key, value in trailers or ()
                         if key == _STATUS_TRAILER and isinstance(value, bytes)), None)
    if status_bytes is None:
        return ()
    try:
        status = _Status.FromString(status_bytes)
        out: list[FieldViolation] = []
        for detail in status.details:
            if detail.type_url.rpartition("/")[2] == _BAD_REQUEST:
                out.extend(FieldViolation(v.field, v.description)
                           for v in _BadRequest.FromString(detail.value).field_violations)
        return tuple(out)
    except message.DecodeError:
        return ()  # A malformed trailer: the code and message still stand.
