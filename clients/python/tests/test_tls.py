"""TLS options against services serving TLS: the servers' CA, a client
certificate for mutual TLS (the tenant named by its CN, no token), and what
is refused without them."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from rebound_client import Client, ReboundError, Tls
from pipeline import MakePipeline
from support import declined_pair


def test_tls_with_the_servers_ca_and_refused_without(
        make_pipeline: MakePipeline, tls_dir: Path) -> None:
    p = make_pipeline(tls_dir=tls_dir)
    client = p.client()
    with client.publisher() as publisher:
        publisher.publish_many(declined_pair(p.tenant, "tia", "ugo", "t1"))
    assert publisher.result.published == 2
    update = next(iter(client.watch("tia", from_beginning=True, deadline=60)))
    assert update.suggestion.recipient_id == "ugo"
    # Plaintext, or a CA that did not sign the server's certificate: no call.
    for tls in (None, Tls(root_certificates=(tls_dir / "other-ca.pem").read_bytes())):
        plain = Client(p.tenant, notify=p.address("notify"), token=p.token, tls=tls)
        with pytest.raises(ReboundError) as refused:
            plain.insights("tia")
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_with_the_tenants_client_certificate(
        make_pipeline: MakePipeline, tls_dir: Path) -> None:
    p = make_pipeline(tls_dir=tls_dir, mutual_tls=True)
    client = p.client(token="")  # the certificate names the tenant
    with client.publisher() as publisher:
        publisher.publish_many(declined_pair(p.tenant, "val", "wes", "m1"))
    assert publisher.result.published == 2
    update = next(iter(client.watch("val", from_beginning=True, deadline=60)))
    assert update.suggestion.suggestion_id == "m1-d"
    # The servers' CA and the token, but no client certificate: refused.
    no_cert = p.client(tls=Tls(root_certificates=(tls_dir / "ca.pem").read_bytes()))
    with pytest.raises(ReboundError) as refused:
        no_cert.insights("val")
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
