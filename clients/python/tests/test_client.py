"""The Python client against the real pipeline (Kafka, Redis, the three
services): publish, watch, list, act, dismiss, insights, scores, assess, and
the fault cases: notify killed during a watch, ingest killed during a
publish."""

from __future__ import annotations

import threading
import time
from collections import Counter

import grpc
import pytest

from google.protobuf.timestamp_pb2 import Timestamp
from rebound.v1 import events_pb2, notify_pb2
from rebound_client import Publisher, ReboundError, Tls

PROFILE = events_pb2.ProfileSnapshot(has_photo=True, connection_count=400, completeness=0.9,
                                     account_age_days=900, industry="software",
                                     company="Contoso", headline="Engineer")


def event(tenant: str, event_id: str, sender: str, recipient: str, seconds_ago: int,
          **payload) -> events_pb2.ConnectionEvent:
    return events_pb2.ConnectionEvent(
        event_id=event_id, tenant_id=tenant, sender_id=sender, recipient_id=recipient,
        occurred_at=Timestamp(seconds=int(time.time()) - seconds_ago), **payload)


def declined_pair(tenant: str, sender: str, recipient: str, request: str,
                  note: str = "Quick call about our platform?") -> list:
    return [
        event(tenant, f"{request}-s", sender, recipient, 7200,
              request_sent=events_pb2.RequestSent(request_id=request, note=note,
                                                  sender_profile=PROFILE,
                                                  recipient_profile=PROFILE)),
        event(tenant, f"{request}-d", sender, recipient, 3600,
              request_declined=events_pb2.RequestDeclined(
                  request_id=request, kind=events_pb2.DECLINE_KIND_DECLINED)),
    ]


def wait_for(check, timeout: float = 60, every: float = 0.2):
    """check() until it is truthy (a NOT_FOUND member reads as not yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = check()
        except ReboundError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                raise
            got = None
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def test_publish_watch_and_every_typed_call(pipeline):
    client = pipeline.client()
    t = pipeline.tenant
    events = declined_pair(t, "ana", "ben", "q1") + declined_pair(t, "ana", "cara", "q2")
    with client.publisher(batch_size=2, max_in_flight=2) as publisher:
        publisher.publish_many(events)
        # The same events again: ingest answers DUPLICATE, nothing is written twice.
        result = publisher.flush()
        assert (result.published, result.rejected, result.failed) == (4, [], [])
        publisher.publish_many(events)
    assert (result.published, result.duplicates) == (4, 4)

    seen = []
    for update in client.watch("ana", from_beginning=True, deadline=60):
        seen.append(update.suggestion)
        if len(seen) == 2:
            break
    assert sorted(s.recipient_id for s in seen) == ["ben", "cara"]

    listed = client.list_suggestions("ana", page_size=1)  # two pages
    assert sorted(s.suggestion_id for s in listed) == sorted(s.suggestion_id for s in seen)
    ben = next(s for s in listed if s.recipient_id == "ben")
    cara = next(s for s in listed if s.recipient_id == "cara")
    acted = client.mark_acted("ana", ben.suggestion_id)
    assert acted.state == notify_pb2.SUGGESTION_STATE_ACTED
    assert client.mark_acted("ana", ben.suggestion_id).version == acted.version  # idempotent
    assert client.dismiss("ana", cara.suggestion_id).state == notify_pb2.SUGGESTION_STATE_DISMISSED
    with pytest.raises(ReboundError) as already:
        client.dismiss("ana", ben.suggestion_id)
    assert already.value.code == grpc.StatusCode.FAILED_PRECONDITION

    insights = client.insights("ana")
    assert insights.account_safety.recent_answers.declined == 2
    assert sum(r.count for r in insights.decline_breakdown) == 2
    scores = wait_for(lambda: client.scores("ana"))
    assert (scores.as_sender.sent, scores.as_sender.declined) == (2, 2)
    with pytest.raises(ReboundError) as unknown:
        client.scores("nobody")
    assert unknown.value.code == grpc.StatusCode.NOT_FOUND

    draft = events_pb2.RequestSent(note="Quick call about our platform?",
                                   sender_profile=PROFILE, recipient_profile=PROFILE)
    assessment = client.assess("ana", "ben", draft)
    assert 0 < assessment.acceptance_probability < 1
    assert any(f.kind == 8 for f in assessment.fixes)  # ACTION_KIND_DROP_PITCH
    with pytest.raises(ReboundError) as bad:
        client.assess("", "ben", draft)
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in bad.value.violations] == ["sender_id"]


def test_rejected_events_name_their_field_and_nothing_is_published_for_them(pipeline):
    client = pipeline.client()
    t = pipeline.tenant
    good = declined_pair(t, "dora", "eli", "q3")
    bad = event(t, "bad-1", "", "eli", 60,
                request_accepted=events_pb2.RequestAccepted(request_id="q3"))
    too_long = declined_pair(t, "fay", "eli", "q4", note="x" * 301)[0]
    reported = []
    with client.publisher(on_rejected=reported.append) as publisher:
        publisher.publish_many([*good, bad, too_long])
    result = publisher.close()
    assert result.published == 2
    assert {(r.event_id, r.field) for r in result.rejected} == {
        ("bad-1", "sender_id"), ("q4-s", "request_sent.note")}
    assert reported == result.rejected
    assert wait_for(lambda: client.scores("dora").as_sender.declined == 1)
    with pytest.raises(ReboundError) as nothing:
        client.scores("fay")
    assert nothing.value.code == grpc.StatusCode.NOT_FOUND


def test_a_wrong_token_is_refused(pipeline):
    client = pipeline.client(token="not-the-token")
    with pytest.raises(ReboundError) as denied:
        client.insights("ana")
    assert denied.value.code in (grpc.StatusCode.UNAUTHENTICATED,
                                 grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(ReboundError):
        with client.publisher() as publisher:
            publisher.publish(declined_pair(pipeline.tenant, "a", "b", "q9")[0])


def test_watch_resumes_across_notify_killed_and_never_repeats(pipeline):
    client = pipeline.client()
    t = pipeline.tenant
    pairs = [(f"s{i % 3}", f"r{i}", f"w{i}") for i in range(24)]
    watch = client.watch("", from_beginning=True, deadline=150)  # the whole tenant
    got: list = []
    done = threading.Event()

    def consume():
        for update in watch:
            got.append((update.suggestion.suggestion_id, update.suggestion.version))
            if len({sid for sid, _ in got}) >= len(pairs):
                break
        done.set()

    reader = threading.Thread(target=consume)
    reader.start()
    with client.publisher() as publisher:
        for sender, recipient, request in pairs[:12]:
            publisher.publish_many(declined_pair(t, sender, recipient, request))
    assert wait_for(lambda: len(got) >= 12, timeout=60), f"only {len(got)} before the kill"
    pipeline.restart("notify")  # kill -9, then start again on its port
    with client.publisher() as publisher:
        for sender, recipient, request in pairs[12:]:
            publisher.publish_many(declined_pair(t, sender, recipient, request))
    assert done.wait(120), f"{len(got)} updates; reconnects {watch.reconnects}"
    watch.cancel()
    reader.join(10)
    assert watch.reconnects >= 1
    assert len(got) == len(set(got)), [k for k, n in Counter(got).items() if n > 1]
    expected = {f"w{i}-d" for i in range(24)}
    assert {sid for sid, _ in got} == expected


def test_publish_across_ingest_killed_loses_and_doubles_nothing(pipeline):
    client = pipeline.client()
    t = pipeline.tenant
    senders, per_sender = 40, 50
    events = [event(t, f"p{s}-{i}", f"m{s}", f"x{i}", 600,
                    request_sent=events_pb2.RequestSent(request_id=f"p{s}-{i}",
                                                        sender_profile=PROFILE,
                                                        recipient_profile=PROFILE))
              for i in range(per_sender) for s in range(senders)]
    publisher = Publisher(pipeline.address("ingest"), token=pipeline.token, batch_size=20,
                          max_in_flight=2, max_rounds=30, backoff_max=1.0)
    outcome: dict = {}

    def publish():
        publisher.publish_many(events)
        outcome["result"] = publisher.close()

    thread = threading.Thread(target=publish)
    thread.start()
    assert wait_for(lambda: publisher._result.published > 200, timeout=60)
    pipeline.restart("ingest")  # kill -9 mid-publish, then start again
    thread.join(180)
    result = outcome["result"]
    assert result.failed == [] and result.rejected == []
    assert result.rounds >= 2  # the broken stream's events went again
    assert result.delivered >= len(events)
    # Nothing lost and nothing counted twice downstream: every sender's
    # requests counted exactly once.
    assert wait_for(lambda: all(client.scores(f"m{s}").as_sender.sent == per_sender
                                for s in range(senders)), timeout=90)
    for s in range(senders):
        assert client.scores(f"m{s}").as_sender.sent == per_sender


def test_tls_with_the_servers_ca_and_refused_without(tls_pipeline, tls_dir):
    p = tls_pipeline
    client = p.client(tls=Tls(root_certificates=(tls_dir / "ca.pem").read_bytes()))
    with client.publisher() as publisher:
        publisher.publish_many(declined_pair(p.tenant, "tia", "ugo", "t1"))
    assert publisher.close().published == 2
    update = next(iter(client.watch("tia", from_beginning=True, deadline=60)))
    assert update.suggestion.recipient_id == "ugo"
    # Plaintext, or a CA that did not sign the server's certificate: no call.
    for tls in (None, Tls(root_certificates=(tls_dir / "other-ca.pem").read_bytes())):
        with pytest.raises(ReboundError) as refused:
            p.client(tls=tls).insights("tia")
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
