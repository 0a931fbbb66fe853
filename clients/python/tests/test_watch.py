"""watch() against the real pipeline: a published decline comes out as a
streamed suggestion; the watch resumes across notify killed (and events
published while it was down), and from a saved token in a new watch; it
stops on cancel() and at its deadline; what a reconnect cannot mend raises."""

from __future__ import annotations

import threading
import time
from collections import Counter

import grpc
import pytest

from rebound.v1 import notify_pb2, scoring_pb2
from rebound_client import ReboundError
from pipeline import Pipeline
from support import declined_pair, wait_for


def test_a_published_decline_is_scored_and_its_suggestion_streamed(pipeline: Pipeline) -> None:
    client = pipeline.client()
    with client.publisher() as publisher:
        publisher.publish_many(declined_pair(pipeline.tenant, "ana", "ben", "q1"))
    assert publisher.result.published == 2
    update = next(iter(client.watch("ana", from_beginning=True, deadline=60)))
    s = update.suggestion
    assert (s.suggestion_id, s.tenant_id, s.member_id, s.recipient_id, s.request_id) == \
        ("q1-d", pipeline.tenant, "ana", "ben", "q1")
    assert s.reason != scoring_pb2.DECLINE_REASON_UNSPECIFIED and s.version >= 1
    assert s.state in (notify_pb2.SUGGESTION_STATE_READY,
                       notify_pb2.SUGGESTION_STATE_WAITING_ON_PROFILE)
    assert update.resume_token
    scores = wait_for(lambda: client.scores("ana"))
    assert scores is not None
    assert (scores.as_sender.sent, scores.as_sender.declined) == (1, 1)


def test_watch_resumes_across_notify_killed_and_never_repeats(pipeline: Pipeline) -> None:
    client = pipeline.client()
    t = pipeline.tenant
    pairs = [(f"s{i % 3}", f"r{i}", f"w{i}") for i in range(30)]
    watch = client.watch("", from_beginning=True, deadline=150)  # the whole tenant
    got: list[tuple[str, int]] = []
    done = threading.Event()

    def consume() -> None:
        for update in watch:
            got.append((update.suggestion.suggestion_id, update.suggestion.version))
            if len({sid for sid, _ in got}) >= len(pairs):
                break
        done.set()

    def publish(part: list[tuple[str, str, str]]) -> None:
        with client.publisher() as publisher:
            for sender, recipient, request in part:
                publisher.publish_many(declined_pair(t, sender, recipient, request))
        assert publisher.result.published == 2 * len(part)

    reader = threading.Thread(target=consume)
    reader.start()
    publish(pairs[:10])
    assert wait_for(lambda: len(got) >= 10, timeout=60), f"only {len(got)} before the kill"
    pipeline.kill("notify")  # kill -9 with the watch open
    publish(pairs[10:20])  # scored while notify is down
    pipeline.start("notify")
    pipeline.wait_serving("notify")
    publish(pairs[20:])
    assert done.wait(120), f"{len(got)} updates; reconnects {watch.reconnects}"
    reader.join(10)
    assert watch.reconnects >= 1
    assert len(got) == len(set(got)), [k for k, n in Counter(got).items() if n > 1]
    assert {sid for sid, _ in got} == {f"{request}-d" for _, _, request in pairs}


def test_a_new_watch_resumes_after_a_saved_token(pipeline: Pipeline) -> None:
    client = pipeline.client()
    t = pipeline.tenant
    with client.publisher() as publisher:
        publisher.publish_many(declined_pair(t, "gus", "h1", "g1"))
    first = client.watch("gus", from_beginning=True, deadline=60)
    seen = next(iter(first)).suggestion.suggestion_id
    saved = first.resume_token
    first.cancel()
    with client.publisher() as publisher:
        publisher.publish_many(declined_pair(t, "gus", "h2", "g2")
                               + declined_pair(t, "gus", "h3", "g3"))
    later = []
    for update in client.watch("gus", resume_token=saved, deadline=60):
        later.append(update.suggestion.suggestion_id)
        if len(later) == 2:
            break
    assert seen == "g1-d" and sorted(later) == ["g2-d", "g3-d"]


def test_a_watch_stops_on_cancel_and_at_its_deadline(pipeline: Pipeline) -> None:
    client = pipeline.client()
    started = time.monotonic()
    assert list(client.watch("nobody", deadline=1.5)) == []
    assert 1.4 <= time.monotonic() - started < 10

    watch = client.watch("nobody")
    threading.Timer(0.5, watch.cancel).start()
    started = time.monotonic()
    assert list(watch) == []
    assert time.monotonic() - started < 5


def test_what_a_reconnect_cannot_mend_raises(pipeline: Pipeline) -> None:
    started = time.monotonic()
    with pytest.raises(ReboundError) as denied:
        next(iter(pipeline.client(token="not-the-token").watch("ana", deadline=30)))
    assert denied.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert time.monotonic() - started < 10  # raised, not retried until the deadline
    with pytest.raises(ReboundError) as bad:
        next(iter(pipeline.client().watch("ana", resume_token="not-a-token", deadline=30)))
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_watch_from_now_keeps_its_start_across_notify_killed_before_any_update(
        pipeline: Pipeline) -> None:
    """No suggestion yet when notify dies: the watch resumes from the start
    marker notify sent, so what the restarted notify writes before the watch
    is back (a slow backoff makes that the likely order) is not skipped."""
    client = pipeline.client()
    t = pipeline.tenant
    watch = client.watch("late", deadline=120, backoff_initial=4, backoff_max=4)
    got: list[str] = []
    done = threading.Event()

    def consume() -> None:
        for update in watch:
            got.append(update.suggestion.suggestion_id)
            if len(got) >= 5:
                break
        done.set()

    reader = threading.Thread(target=consume)
    reader.start()
    assert wait_for(lambda: watch.resume_token, timeout=30), "no start marker"
    pipeline.kill("notify")
    with client.publisher() as publisher:
        for i in range(5):
            publisher.publish_many(declined_pair(t, "late", f"x{i}", f"late{i}"))
    assert publisher.result.published == 10
    pipeline.start("notify")
    pipeline.wait_serving("notify")
    assert wait_for(lambda: len(client.list_suggestions("late")) == 5, timeout=60)
    assert done.wait(60), f"got {got}; reconnects {watch.reconnects}"
    reader.join(10)
    assert watch.reconnects >= 1
    assert sorted(got) == [f"late{i}-d" for i in range(5)]
