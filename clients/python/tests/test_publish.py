"""Publisher against the real ingest: outcomes, rejections with their field,
FAILED events retried (a tenant over its quota), and ingest restarted in the
middle of a publish (SIGTERM drain, kill -9)."""

from __future__ import annotations

import signal
import threading

import grpc
import pytest

from rebound.v1 import events_pb2
from rebound_client import PublishResult, Publisher, ReboundError, Rejected
from pipeline import MakePipeline, Pipeline
from support import declined_pair, sent, wait_for


def test_published_then_duplicate_and_on_the_topic_once(pipeline: Pipeline) -> None:
    client = pipeline.client()
    events = (declined_pair(pipeline.tenant, "ana", "ben", "q1")
              + declined_pair(pipeline.tenant, "ana", "cara", "q2"))
    with client.publisher(batch_size=2, max_in_flight=2) as publisher:
        publisher.publish_many(events)
        first = publisher.flush()
        assert (first.published, first.duplicates, first.rejected, first.failed) == (4, 0, [], [])
        # The same events again: ingest answers DUPLICATE, writes nothing.
        publisher.publish_many(events)
    total = publisher.result
    assert (total.published, total.duplicates, total.delivered) == (4, 4, 8)
    assert pipeline.topic_records() == 4
    with pytest.raises(RuntimeError):
        publisher.publish(events[0])  # closed


def test_rejected_events_name_their_field_and_nothing_is_published_for_them(
        pipeline: Pipeline) -> None:
    client = pipeline.client()
    t = pipeline.tenant
    good = declined_pair(t, "dora", "eli", "q3")
    no_sender = sent(t, "bad-1", "", "eli", "q5")
    too_long = sent(t, "q4-s", "fay", "eli", "q4", note="x" * 301)
    reported: list[Rejected] = []
    with client.publisher(on_rejected=reported.append) as publisher:
        publisher.publish_many([*good, no_sender, too_long])
        publisher.flush()
        # An event id reused for another event: REJECTED on event_id with
        # ALREADY_EXISTS (6), not DUPLICATE.
        publisher.publish(sent(t, "q3-s", "dora", "eli", "q3", note="other bytes"))
    result = publisher.result
    assert result.published == 2 and result.failed == []
    assert {(r.event_id, r.field, r.code) for r in result.rejected} == {
        ("bad-1", "sender_id", 3), ("q4-s", "request_sent.note", 3), ("q3-s", "event_id", 6)}
    assert all(r.error for r in result.rejected)
    assert reported == result.rejected
    assert pipeline.topic_records() == 2
    assert wait_for(lambda: client.scores("dora").as_sender.declined == 1)
    with pytest.raises(ReboundError) as nothing:
        client.scores("fay")
    assert nothing.value.code == grpc.StatusCode.NOT_FOUND


def test_failed_events_over_the_tenants_quota_go_again_until_published_once(
        make_pipeline: MakePipeline) -> None:
    # 400 events/s with a burst of 100: most of 1,000 events are answered
    # FAILED (RESOURCE_EXHAUSTED, retry_after_ms) at first.
    p = make_pipeline(ingest_args=["--tenant-quota=400:100"])
    events = [sent(p.tenant, f"f{s}-{i}", f"m{s}", f"x{i}", f"f{s}-{i}")
              for i in range(50) for s in range(20)]
    with p.client().publisher(batch_size=100, max_in_flight=2, max_rounds=20,
                              backoff_max=1.0) as publisher:
        publisher.publish_many(events)
    result = publisher.result
    assert (result.published, result.duplicates, result.rejected, result.failed) == \
        (len(events), 0, [], [])
    assert result.rounds >= 2  # FAILED events went again
    assert p.topic_records() == len(events)  # each once


def _publish_across_restart(pipeline: Pipeline, sig: int,
                            events: list[events_pb2.ConnectionEvent], batch_size: int,
                            max_in_flight: int) -> PublishResult:
    """Publishes `events` in a thread and restarts ingest (stopped with
    `sig`) once 200 are published; returns the Publisher's result."""
    publisher = Publisher(pipeline.address("ingest"), token=pipeline.token,
                          batch_size=batch_size, max_in_flight=max_in_flight,
                          max_rounds=30, backoff_max=1.0)
    done: dict[str, PublishResult] = {}

    def publish() -> None:
        publisher.publish_many(events)
        done["result"] = publisher.close()

    thread = threading.Thread(target=publish)
    thread.start()
    assert wait_for(lambda: publisher.result.published > 200, timeout=60, every=0.005)
    assert publisher.result.published < len(events), "published before the restart"
    pipeline.restart("ingest", sig)
    thread.join(180)
    assert not thread.is_alive() and "result" in done
    result = done["result"]
    assert result.failed == [] and result.rejected == []
    assert result.rounds >= 2  # the broken stream's events went again
    assert result.delivered == len(events)
    return result


def _sends(tenant: str, senders: int, per_sender: int) -> list[events_pb2.ConnectionEvent]:
    return [sent(tenant, f"p{s}-{i}", f"m{s}", f"x{i}", f"p{s}-{i}")
            for i in range(per_sender) for s in range(senders)]


def test_ingest_drained_during_a_publish_publishes_each_event_once(pipeline: Pipeline) -> None:
    events = _sends(pipeline.tenant, 60, 100)
    result = _publish_across_restart(pipeline, signal.SIGTERM, events, 20, 2)
    # A drain answers every batch it took (events it had not published yet
    # FAILED UNAVAILABLE) before the stream ends: nothing published is left
    # unanswered, so nothing is sent twice and the topic holds each once.
    assert (result.published, result.duplicates) == (len(events), 0)
    assert pipeline.topic_records() == len(events)


def test_ingest_killed_during_a_publish_loses_nothing_and_counts_nothing_twice(
        pipeline: Pipeline) -> None:
    senders, per_sender, batch_size, max_in_flight = 60, 100, 20, 2
    events = _sends(pipeline.tenant, senders, per_sender)
    result = _publish_across_restart(pipeline, signal.SIGKILL, events, batch_size,
                                     max_in_flight)
    # Events the killed ingest had written to Kafka but not answered were
    # sent again; the new ingest read their ids back from the topic before
    # serving (its dedup warm-up), so it answered DUPLICATE instead of
    # writing them twice: every event is on the topic exactly once...
    assert result.published + result.duplicates == len(events)
    assert pipeline.topic_records() == len(events)
    # ...and scoring counts every request once.
    client = pipeline.client()
    assert wait_for(lambda: all(client.scores(f"m{s}").as_sender.sent == per_sender
                                for s in range(senders)), timeout=90)
    for s in range(senders):
        assert client.scores(f"m{s}").as_sender.sent == per_sender
