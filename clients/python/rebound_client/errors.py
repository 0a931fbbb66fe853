"""Errors the client raises: the gRPC status, and the fields the server named."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class ReboundError(Exception):
    """A call failed: its gRPC code, message and, for INVALID_ARGUMENT, the
    offending fields (google.rpc.BadRequest in the status details)."""

    def __init__(self, code: grpc.StatusCode, message: str,
                 violations: tuple[FieldViolation, ...] = ()) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.violations = violations

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "ReboundError":
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        message = error.details() if hasattr(error, "details") else str(error)
        violations: tuple[FieldViolation, ...] = ()
        trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        for key, value in trailers or ():
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                violations = tuple(_violations(value))
        return cls(code, message or "", violations)


def _fields(data: bytes):
    """(field number, value) of a protobuf message's varint and
    length-delimited fields (enough for google.rpc.Status and BadRequest)."""
    i = 0

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            if i >= len(data):
                raise ValueError("truncated varint")
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, varint()
        elif wire == 2:
            n = varint()
            yield number, data[i:i + n]
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"wire type {wire}")


def _violations(status: bytes):
    try:
        for number, detail in _fields(status):
            if number != 3 or not isinstance(detail, bytes):
                continue  # google.rpc.Status.details = 3 (Any)
            any_fields = dict(_fields(detail))
            if any_fields.get(1) != _BAD_REQUEST.encode():
                continue
            for n, violation in _fields(any_fields.get(2, b"")):
                if n == 1 and isinstance(violation, bytes):
                    v = dict(_fields(violation))
                    yield FieldViolation(v.get(1, b"").decode(errors="replace"),
                                         v.get(2, b"").decode(errors="replace"))
    except ValueError:
        return
