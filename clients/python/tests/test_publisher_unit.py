"""Publisher's retry and flow control against a scripted ingest stub (no
servers): FAILED events go again with the same ids, a broken stream's
unanswered batches go again and the answered ones do not, the window bounds
the batches in flight, and what never gets through is reported."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import grpc
import pytest

from rebound.v1 import events_pb2, ingest_pb2
from rebound_client import Publisher, ReboundError, Rejected


class Broken(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "scripted") -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[()]:
        return ()


# What a scripted stream answers a batch: an outcome per event, a whole
# answer, or an error that ends the stream.
Answer = Union[Sequence["ingest_pb2.Outcome"], ingest_pb2.PublishResponse, Exception]
Script = Callable[[int, ingest_pb2.PublishRequest], Answer]


class ScriptedCall:
    """A scripted stream's answers, cancellable like grpc's call."""

    def __init__(self, answers: Iterator[ingest_pb2.PublishResponse]) -> None:
        self._answers = answers
        self.cancelled = False

    def __iter__(self) -> "ScriptedCall":
        return self

    def __next__(self) -> ingest_pb2.PublishResponse:
        return next(self._answers)

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class ScriptedIngest:
    """Answers each stream with `script(stream_no, request)`; records every
    event id received and the most batches ever received and not yet
    answered."""

    def __init__(self, script: Script, hold: float = 0.0) -> None:
        self.script = script
        self.hold = hold
        self.streams = 0
        self.received: list[list[str]] = []
        self.max_unanswered = 0
        self.calls: list[ScriptedCall] = []
        self.pumps: list[threading.Thread] = []

    def PublishStream(self, requests: Iterator[ingest_pb2.PublishRequest],
                      **_: Any) -> ScriptedCall:
        self.streams += 1
        stream = self.streams
        inbox: queue.Queue[Optional[ingest_pb2.PublishRequest]] = queue.Queue()

        def pump() -> None:
            for r in requests:
                inbox.put(r)
            inbox.put(None)

        self.pumps.append(threading.Thread(target=pump, daemon=True))
        self.pumps[-1].start()

        def answers() -> Iterator[ingest_pb2.PublishResponse]:
            unanswered = 0
            while True:
                if self.hold:
                    time.sleep(self.hold)  # let the client send what the window allows
                items: list[Optional[ingest_pb2.PublishRequest]] = []
                while True:
                    try:
                        items.append(inbox.get(timeout=0.5 if not items else 0.01))
                    except queue.Empty:
                        break
                    if items[-1] is None:
                        break
                done = bool(items) and items[-1] is None
                batch_requests = [r for r in items if r is not None]
                unanswered += len(batch_requests)
                self.max_unanswered = max(self.max_unanswered, unanswered)
                for r in batch_requests:
                    self.received.append([e.event_id for e in r.events])
                    outcome = self.script(stream, r)
                    if isinstance(outcome, Exception):
                        raise outcome
                    unanswered -= 1
                    if isinstance(outcome, ingest_pb2.PublishResponse):
                        yield outcome
                        continue
                    yield ingest_pb2.PublishResponse(batch_id=r.batch_id, results=[
                        ingest_pb2.EventResult(
                            index=i, event_id=e.event_id, outcome=o,
                            field="x" if o == ingest_pb2.OUTCOME_REJECTED else "")
                        for i, (e, o) in enumerate(zip(r.events, outcome))])
                if done:
                    return

        self.calls.append(ScriptedCall(answers()))
        return self.calls[-1]


def events(n: int) -> list[events_pb2.ConnectionEvent]:
    return [events_pb2.ConnectionEvent(event_id=f"e{i}", tenant_id="t") for i in range(n)]


def publisher(ingest: ScriptedIngest, **options: Any) -> Publisher:
    options = {"backoff_initial": 0.001, "backoff_max": 0.01, **options}
    p = Publisher("127.0.0.1:1", **options)
    p._stub = ingest  # type: ignore[assignment]  # the scripted ingest, no channel
    return p


def test_failed_events_go_again_with_the_same_ids() -> None:
    failed_once: set[str] = set()

    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        out = []
        for e in request.events:
            if int(e.event_id[1:]) % 3 == 0 and e.event_id not in failed_once:
                failed_once.add(e.event_id)
                out.append(ingest_pb2.OUTCOME_FAILED)
            else:
                out.append(ingest_pb2.OUTCOME_PUBLISHED)
        return out

    ingest = ScriptedIngest(script)
    p = publisher(ingest, batch_size=10)
    p.publish_many(events(100))
    result = p.close()
    assert (result.published, result.failed, result.rejected) == (100, [], [])
    assert result.rounds == 2
    sent = [i for batch in ingest.received for i in batch]
    assert sorted(sent[100:]) == sorted(failed_once)  # the second round: only those, same ids


def test_a_broken_stream_resends_only_the_unanswered_batches() -> None:
    answered: Counter[str] = Counter()

    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        if stream == 1 and request.batch_id > 3:
            return Broken(grpc.StatusCode.UNAVAILABLE)
        answered.update(e.event_id for e in request.events)
        return [ingest_pb2.OUTCOME_PUBLISHED] * len(request.events)

    ingest = ScriptedIngest(script)
    p = publisher(ingest, batch_size=10, max_in_flight=4)
    p.publish_many(events(200))
    result = p.close()
    assert (result.published, result.failed, result.rounds) == (200, [], 2)
    # Every event answered exactly once: the three batches answered before
    # the break were not sent again, every other one was.
    assert set(answered) == {f"e{i}" for i in range(200)}
    assert set(answered.values()) == {1}


def test_the_window_bounds_batches_in_flight() -> None:
    ingest = ScriptedIngest(lambda s, r: [ingest_pb2.OUTCOME_PUBLISHED] * len(r.events), hold=0.05)
    p = publisher(ingest, batch_size=5, max_in_flight=3)
    p.publish_many(events(100))
    assert p.close().published == 100
    assert 1 <= ingest.max_unanswered <= 3


def test_what_never_gets_through_is_reported_and_rejections_named() -> None:
    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        return [ingest_pb2.OUTCOME_REJECTED if e.event_id == "e0" else ingest_pb2.OUTCOME_FAILED
                for e in request.events]

    rejected: list[Rejected] = []
    p = publisher(ScriptedIngest(script), max_rounds=3, on_rejected=rejected.append)
    p.publish_many(events(4))
    result = p.close()
    assert [(r.event_id, r.field) for r in result.rejected] == [("e0", "x")] == \
        [(r.event_id, r.field) for r in rejected]
    assert sorted(f.event_id for f in result.failed) == ["e1", "e2", "e3"]
    assert result.rounds == 3


def test_a_refused_stream_raises() -> None:
    p = publisher(ScriptedIngest(lambda s, r: Broken(grpc.StatusCode.UNAUTHENTICATED)))
    p.publish_many(events(3))
    with pytest.raises(ReboundError) as error:
        p.flush()
    assert error.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert sorted(f.event_id for f in p.result.failed) == ["e0", "e1", "e2"]


def test_a_failed_event_waits_the_retry_after_the_server_asked() -> None:
    first: dict[str, float] = {}

    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        now = time.monotonic()
        if stream == 1:
            first["at"] = now
            return ingest_pb2.PublishResponse(batch_id=request.batch_id, results=[
                ingest_pb2.EventResult(index=0, event_id="e0", outcome=ingest_pb2.OUTCOME_FAILED,
                                       code=8, retry_after_ms=300)])
        first["again"] = now - first["at"]
        return [ingest_pb2.OUTCOME_PUBLISHED]

    p = publisher(ScriptedIngest(script))
    p.publish_many(events(1))
    assert p.close().published == 1
    assert first["again"] >= 0.3


def test_a_batch_refused_as_a_whole_is_reported_per_event() -> None:
    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        return ingest_pb2.PublishResponse(batch_id=request.batch_id, error=ingest_pb2.BatchError(
            code=3, field="events", error="more than 2 events"))

    p = publisher(ScriptedIngest(script), batch_size=3)
    p.publish_many(events(3))
    result = p.close()
    assert [(r.event_id, r.field, r.code) for r in result.rejected] == \
        [(f"e{i}", "events", 3) for i in range(3)]
    assert (result.published, result.failed, result.rounds) == (0, [], 1)


def test_a_raising_on_rejected_is_raised_after_every_event_is_answered() -> None:
    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        return [ingest_pb2.OUTCOME_REJECTED if int(e.event_id[1:]) % 10 == 0
                else ingest_pb2.OUTCOME_PUBLISHED for e in request.events]

    def on_rejected(r: Rejected) -> None:
        raise RuntimeError(f"cannot store {r.event_id}")

    ingest = ScriptedIngest(script)
    p = publisher(ingest, batch_size=10, on_rejected=on_rejected)
    p.publish_many(events(100))
    with pytest.raises(RuntimeError, match="cannot store e0"):
        p.flush()
    result = p.result
    assert (result.published, len(result.rejected), result.failed) == (90, 10, [])
    assert p.close().published == 90  # the error was raised once
    for pump in ingest.pumps:
        pump.join(2)
        assert not pump.is_alive()  # the request thread ended


def test_a_stream_refused_mid_flight_fails_what_it_did_not_deliver() -> None:
    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        if request.batch_id > 2:
            return Broken(grpc.StatusCode.PERMISSION_DENIED)
        return [ingest_pb2.OUTCOME_PUBLISHED] * len(request.events)

    ingest = ScriptedIngest(script)
    p = publisher(ingest, batch_size=10, max_in_flight=4)
    p.publish_many(events(100))
    with pytest.raises(ReboundError) as error:
        p.close()
    assert error.value.code == grpc.StatusCode.PERMISSION_DENIED
    result = p.result
    # Every event in exactly one bucket: 20 delivered, the other 80 failed.
    assert result.published == 20
    assert sorted(int(f.event_id[1:]) for f in result.failed) == list(range(20, 100))
    assert ingest.calls[-1].cancelled


def test_a_batch_over_ingests_limit_is_split_and_sent_again() -> None:
    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        if len(request.events) > 4:
            return ingest_pb2.PublishResponse(batch_id=request.batch_id, error=ingest_pb2.BatchError(
                code=3, field="events", error=f"batch of {len(request.events)} events, at most 4"))
        return [ingest_pb2.OUTCOME_PUBLISHED] * len(request.events)

    ingest = ScriptedIngest(script)
    p = publisher(ingest, batch_size=10)
    p.publish_many(events(25))
    result = p.close()
    assert (result.published, result.rejected, result.failed) == (25, [], [])
    assert p.batch_size == 4
    assert max(len(b) for b in ingest.received[3:]) <= 4  # after the 3 refused ones


def test_a_request_over_the_message_size_halves_the_batches() -> None:
    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        if len(request.events) > 3:
            return Broken(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          "Received message larger than max (5000 vs. 4194304)")
        return [ingest_pb2.OUTCOME_PUBLISHED] * len(request.events)

    p = publisher(ScriptedIngest(script), batch_size=16)
    p.publish_many(events(20))
    result = p.close()
    assert (result.published, result.failed) == (20, [])
    assert p.batch_size == 2  # 16 -> 8 -> 4 -> 2


def test_an_event_alone_over_the_message_size_fails_at_once() -> None:
    big = events_pb2.ConnectionEvent(event_id="huge", tenant_id="t",
                                     sender_id="x" * 5000)

    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        if request.ByteSize() > 4000:
            return Broken(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"Received message larger than max ({request.ByteSize()} vs. 4000)")
        return [ingest_pb2.OUTCOME_PUBLISHED] * len(request.events)

    p = publisher(ScriptedIngest(script), batch_size=4, max_rounds=10)
    p.publish_many(events(8) + [big])
    result = p.close()
    assert result.published == 8
    assert [f.event_id for f in result.failed] == ["huge"]
    assert "4000 bytes" in result.failed[0].error
    assert result.rounds == 2  # the second round failed it without sending it


def test_an_on_rejected_error_is_not_carried_to_a_later_flush() -> None:
    def script(stream: int, request: ingest_pb2.PublishRequest) -> Answer:
        if stream == 1 and request.batch_id == 2:
            return Broken(grpc.StatusCode.PERMISSION_DENIED)
        if stream == 1:
            return [ingest_pb2.OUTCOME_REJECTED] + [ingest_pb2.OUTCOME_PUBLISHED] * (
                len(request.events) - 1)
        return [ingest_pb2.OUTCOME_PUBLISHED] * len(request.events)

    def on_rejected(r: Rejected) -> None:
        raise RuntimeError("callback")

    p = publisher(ScriptedIngest(script), batch_size=5, max_in_flight=1,
                  on_rejected=on_rejected)
    p.publish_many(events(10))
    with pytest.raises(ReboundError):  # the stream's own error wins
        p.flush()
    p.publish_many(events(3))
    assert p.flush().published == 4 + 3  # the callback's error is not raised now
