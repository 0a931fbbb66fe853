"""Channels and call metadata: TLS (or plaintext on loopback) and the
tenant's bearer token."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

import grpc


@dataclass(frozen=True)
class Tls:
    """TLS for the channel. root_certificates: PEM of the CA that signed the
    servers (None: the system's roots); private_key + certificate_chain: the
    client's certificate, for servers that require mutual TLS."""

    root_certificates: Optional[bytes] = None
    private_key: Optional[bytes] = None
    certificate_chain: Optional[bytes] = None
    # Name to check the server's certificate against, when not the target's.
    server_name: Optional[str] = None


def channel(target: str, tls: Optional[Tls]) -> grpc.Channel:
    options: list[tuple[str, int | str]] = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.max_receive_message_length", 16 * 1024 * 1024)]
    if tls is None:
        return grpc.insecure_channel(target, options=options)
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    creds = grpc.ssl_channel_credentials(tls.root_certificates, tls.private_key,
                                         tls.certificate_chain)
    return grpc.secure_channel(target, creds, options=options)


def metadata(token: Optional[str]) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def backoff(attempt: int, initial: float, most: float) -> float:
    """Seconds to wait before retry `attempt` (1, 2, ...): `initial` doubling
    up to `most`, with jitter (half to all of it) so clients spread out."""
    return min(most, initial * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)
