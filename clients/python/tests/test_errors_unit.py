"""ReboundError from a failed call's status: the code, the message and the
google.rpc.BadRequest field violations of grpc-status-details-bin (bytes
written here by hand, as protobuf's wire format lays them out)."""

from __future__ import annotations

from typing import Any

import grpc

from rebound_client import FieldViolation, ReboundError


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads under 128 bytes)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def _status(*details: tuple[str, bytes]) -> bytes:
    """google.rpc.Status{code: 3, message: "bad", details: [Any...]}."""
    out = b"\x08\x03" + _field(2, b"bad")
    for type_url, value in details:
        out += _field(3, _field(1, type_url.encode()) + _field(2, value))
    return out


def _bad_request(*violations: tuple[str, str]) -> bytes:
    return b"".join(_field(1, _field(1, f.encode()) + _field(2, d.encode()))
                    for f, d in violations)


class _Failed(grpc.RpcError):
    def __init__(self, trailers: tuple[tuple[str, str | bytes], ...]) -> None:
        self._trailers = trailers

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INVALID_ARGUMENT

    def details(self) -> str:
        return "sender_id: is required"

    def trailing_metadata(self) -> Any:
        return self._trailers


def test_field_violations_are_read_from_the_status_details() -> None:
    status = _status(
        ("type.googleapis.com/google.rpc.DebugInfo", b""),  # skipped
        ("type.googleapis.com/google.rpc.BadRequest",
         _bad_request(("sender_id", "is required"), ("request.note", "too long"))))
    error = ReboundError.from_rpc_error(_Failed((("other", "x"),
                                                 ("grpc-status-details-bin", status))))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == "sender_id: is required"
    assert error.violations == (FieldViolation("sender_id", "is required"),
                                FieldViolation("request.note", "too long"))
    assert str(error) == "INVALID_ARGUMENT: sender_id: is required"


def test_no_or_a_malformed_status_leaves_the_code_and_message() -> None:
    for trailers in ((), (("grpc-status-details-bin", b"\x1a\x05ab"),)):
        error = ReboundError.from_rpc_error(_Failed(trailers))
        assert (error.code, error.violations) == (grpc.StatusCode.INVALID_ARGUMENT, ())
