"""Publisher: batches events over Ingest/PublishStream with a bounded number
of batches in flight, retries what may be retried with the same event_id,
reports what was rejected and why."""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional

import grpc

from rebound.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

from ._conn import Tls, backoff, channel, metadata
from .errors import ReboundError

# Stream errors after which the unanswered events are sent again (ingest
# restarting or draining, a connection lost, a deadline), with the same event
# ids: an ingest that published one and remembers it (its dedup window, which
# a new instance warms from the topic) answers DUPLICATE. A replica that was
# already running when another one crashed never saw that one's events, so
# a resend reaching it is written again: consumers dedupe by event id
# (scoring does).
_TRANSIENT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.CANCELLED, grpc.StatusCode.INTERNAL,
              grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED,
              grpc.StatusCode.ABORTED}


@dataclass(frozen=True)
class Rejected:
    """An event ingest refused: fix it, retrying it unchanged fails again."""

    event_id: str
    field: str
    error: str
    code: int


@dataclass(frozen=True)
class Failed:
    """An event still not published after every attempt (safe to publish
    again later with the same event_id)."""

    event_id: str
    error: str


@dataclass
class PublishResult:
    """A Publisher's totals: each event it was given in exactly one of
    published, duplicates, rejected, failed (once answered for good)."""

    published: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    # Streams opened, over every flush: one per round (first sends and retries).
    rounds: int = 0

    @property
    def delivered(self) -> int:
        """Events Kafka holds: published now, or earlier (DUPLICATE)."""
        return self.published + self.duplicates


def _batch_limit(error: ingest_pb2.BatchError) -> Optional[int]:
    """The most events a batch may hold, when ingest refused one for
    holding more ("events: batch of N events, at most M")."""
    if error.field != "events":
        return None
    found = re.search(r"at most (\d+)", error.error)
    return int(found.group(1)) if found and int(found.group(1)) > 0 else None


class Publisher:
    """Publishes ConnectionEvents through ingest's PublishStream.

    publish() and publish_many() buffer; the buffer is streamed once it holds
    `batch_size * max_in_flight * 4` events (in the calling thread, which
    waits for the answers), and by flush() and close() (a context manager
    closes on exit). Each round streams the events in batches of
    `batch_size` with at most `max_in_flight` batches unanswered.

    Every event ends in exactly one of PublishResult's buckets. PUBLISHED and
    DUPLICATE (ingest already held it) are delivered. FAILED events, and the
    unanswered ones of a stream that broke or ended early (ingest restarting
    or draining), are sent again with the same event_id after an exponential
    backoff (`backoff_initial` doubling up to `backoff_max` seconds, at least
    the server's retry_after_ms), up to `max_rounds` rounds in all; what is
    still not through then is in `failed` (safe to publish again later with
    the same ids). REJECTED events are in `rejected` with the field and the
    reason, and passed to `on_rejected` as they come: fix them, unchanged
    they fail again (an exception on_rejected raises is raised by the flush,
    once its events are all answered). A batch refused for holding more
    events than ingest takes ("at most M"), or a request over its message
    size, is split and sent again: `batch_size` shrinks to fit. A stream refused for good (a wrong token:
    UNAUTHENTICATED, PERMISSION_DENIED) raises ReboundError, with its events
    in `failed`. `stream_timeout` (s) bounds one round's stream: a round
    still running then is continued by the next (answered events are not
    sent again).

    Threads: publish(), publish_many(), flush(), close() and `result` may be
    used from several threads at once; flushes run one at a time, and
    on_rejected is called from the flushing thread.
    """

    def __init__(self, target: str, *, token: Optional[str] = None,
                 tls: Optional[Tls] = None, batch_size: int = 200,
                 max_in_flight: int = 8, max_rounds: int = 10,
                 backoff_initial: float = 0.1, backoff_max: float = 5.0,
                 stream_timeout: float = 120.0,
                 on_rejected: Optional[Callable[[Rejected], None]] = None) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be 1..1000")
        if max_in_flight < 1 or max_rounds < 1:
            raise ValueError("max_in_flight and max_rounds must be >= 1")
        self._channel = channel(target, tls)
        self._stub = ingest_pb2_grpc.IngestStub(self._channel)
        self._metadata = metadata(token)
        self._batch_size = batch_size
        self._max_in_flight = max_in_flight
        self._max_rounds = max_rounds
        self._backoff = (backoff_initial, backoff_max)
        self._stream_timeout = stream_timeout
        self._on_rejected = on_rejected
        self._buffer: list[events_pb2.ConnectionEvent] = []
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._batch_ids = itertools.count(1)
        self._result = PublishResult()
        self._result_lock = threading.Lock()
        self._callback_error: Optional[Exception] = None
        self._max_request_bytes = 0  # ingest's message limit, once it said
        self._closed = False

    @property
    def result(self) -> PublishResult:
        """A copy of the totals so far (while a flush runs, too)."""
        with self._result_lock:
            r = self._result
            return PublishResult(r.published, r.duplicates, list(r.rejected),
                                 list(r.failed), r.rounds)

    def publish(self, event: events_pb2.ConnectionEvent) -> None:
        """Buffers one event (see the class)."""
        self.publish_many((event,))

    def publish_many(self, events: Iterable[events_pb2.ConnectionEvent]) -> None:
        """Buffers events, streaming the buffer once it is full."""
        with self._buffer_lock:
            if self._closed:
                raise RuntimeError("publisher is closed")
            self._buffer.extend(events)
            full = len(self._buffer) >= self._batch_size * self._max_in_flight * 4
        if full:
            self.flush()

    def flush(self) -> PublishResult:
        """Streams everything buffered and waits until every event is
        answered for good (or out of rounds); returns the totals so far."""
        with self._flush_lock:
            with self._buffer_lock:
                pending, self._buffer = self._buffer, []
            rounds = 0
            retry_after = 0.0
            try:
                while pending:
                    if rounds:
                        time.sleep(max(retry_after, backoff(rounds, *self._backoff)))
                    rounds += 1
                    with self._result_lock:
                        self._result.rounds += 1
                    pending, retry_after, last_error = self._round(pending)
                    if pending and rounds >= self._max_rounds:
                        self._fail(pending, last_error)
                        break
            finally:
                # An on_rejected error belongs to this flush: raised below
                # when the flush ends normally, dropped when a round raised
                # its own error; never carried to a later flush.
                error, self._callback_error = self._callback_error, None
            if error is not None:
                raise error
            return self.result

    def close(self) -> PublishResult:
        """Flushes, then closes the channel; publishing after is an error."""
        with self._buffer_lock:
            self._closed = True
        try:
            return self.flush()
        finally:
            self._channel.close()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _round(self, events: list[events_pb2.ConnectionEvent]
               ) -> tuple[list[events_pb2.ConnectionEvent], float, str]:
        """One stream: returns the events to send again, the longest
        retry_after the server asked for (s) and the last error."""
        if self._max_request_bytes:
            # The request framing takes a few bytes beyond the event's own.
            too_big = [e for e in events if e.ByteSize() + 32 > self._max_request_bytes]
            if too_big:
                self._fail(too_big, f"event over ingest's message limit of "
                                    f"{self._max_request_bytes} bytes")
                events = [e for e in events if e.ByteSize() + 32 <= self._max_request_bytes]
        batches = [events[i:i + self._batch_size]
                   for i in range(0, len(events), self._batch_size)]
        window = threading.Semaphore(self._max_in_flight)
        lock = threading.Lock()
        unanswered: dict[int, list[events_pb2.ConnectionEvent]] = {}
        sent = 0
        stop = threading.Event()

        def requests() -> Iterator[ingest_pb2.PublishRequest]:
            nonlocal sent
            for batch in batches:
                while not window.acquire(timeout=0.05):
                    if stop.is_set():
                        return
                batch_id = next(self._batch_ids)
                with lock:
                    # Checked under the lock: a batch is either handed to the
                    # stream or left for the next round, never lost between.
                    if stop.is_set():
                        return
                    unanswered[batch_id] = batch
                    sent += 1
                yield ingest_pb2.PublishRequest(batch_id=batch_id, events=batch)

        again: list[events_pb2.ConnectionEvent] = []
        retry_after = 0.0
        last_error = ""
        def abandon(error: str) -> None:
            # Ends the round for good: what it has not delivered is failed.
            with lock:
                stop.set()
                self._fail(again + [e for b in unanswered.values() for e in b]
                           + [e for b in batches[sent:] for e in b], error)
                unanswered.clear()
                del batches[sent:]

        call = self._stub.PublishStream(requests(), metadata=self._metadata,
                                        timeout=self._stream_timeout)
        try:
            for response in call:
                with lock:
                    batch = unanswered.pop(response.batch_id, None)
                if batch is None:
                    continue  # Not one of this round's batches.
                window.release()
                if response.HasField("error"):
                    limit = _batch_limit(response.error)
                    if limit is not None and limit < len(batch):
                        # More events than this ingest takes in one batch:
                        # from now on batches of its limit; these go again.
                        self._batch_size = min(self._batch_size, limit)
                        again.extend(batch)
                        last_error = f"{response.error.field}: {response.error.error}"
                        continue
                    for e in batch:
                        self._reject(Rejected(e.event_id, response.error.field,
                                              response.error.error,
                                              response.error.code))
                    continue
                answered = set()
                for r in response.results:
                    if r.index >= len(batch) or r.index in answered:
                        continue
                    answered.add(r.index)
                    if r.outcome == ingest_pb2.OUTCOME_PUBLISHED:
                        self._count(published=1)
                    elif r.outcome == ingest_pb2.OUTCOME_DUPLICATE:
                        self._count(duplicates=1)
                    elif r.outcome == ingest_pb2.OUTCOME_REJECTED:
                        self._reject(Rejected(r.event_id, r.field, r.error, r.code))
                    else:  # FAILED (or an outcome this client does not know)
                        again.append(batch[r.index])
                        retry_after = max(retry_after, r.retry_after_ms / 1000)
                        last_error = r.error or f"outcome {r.outcome}"
                # An event the answer skipped (never the case with ingest's
                # one result per event) goes again rather than missing.
                again.extend(e for i, e in enumerate(batch) if i not in answered)
        except grpc.RpcError as error:
            refused = ReboundError.from_rpc_error(error)
            if (refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
                    and "larger than max" in refused.message):
                # A request over the server's message size: halve the
                # batches, and remember the limit ("(X vs. Y)") so an event
                # alone over it fails at once instead of every round.
                self._batch_size = max(1, self._batch_size // 2)
                limit = re.search(r"vs\.?\s*(\d+)", refused.message)
                if limit:
                    self._max_request_bytes = int(limit.group(1))
            elif refused.code not in _TRANSIENT:
                abandon(str(refused))
                raise refused from None
            last_error = str(refused)
        except BaseException as error:  # KeyboardInterrupt, a bug: account, stop
            abandon(f"publishing stopped: {error!r}")
            raise
        finally:
            stop.set()  # The request thread ends, whatever ended the round.
            call.cancel()
        # A stream that broke, or ended with batches unanswered or unsent
        # (a server draining): those go again.
        with lock:
            stop.set()
            left = [e for batch in unanswered.values() for e in batch]
            left += [e for batch in batches[sent:] for e in batch]
            unanswered.clear()
        if left:
            again.extend(left)
            last_error = last_error or "the stream ended before every batch was answered"
        return again, retry_after, last_error

    @property
    def batch_size(self) -> int:
        """Events per batch now: the one given, or less once ingest said its
        limit (a batch refused for too many events, or a request over its
        message size)."""
        return self._batch_size

    def _count(self, published: int = 0, duplicates: int = 0) -> None:
        with self._result_lock:
            self._result.published += published
            self._result.duplicates += duplicates

    def _fail(self, events: list[events_pb2.ConnectionEvent], error: str) -> None:
        with self._result_lock:
            self._result.failed.extend(Failed(e.event_id, error) for e in events)

    def _reject(self, rejected: Rejected) -> None:
        with self._result_lock:
            self._result.rejected.append(rejected)
        if self._on_rejected is not None:
            try:
                self._on_rejected(rejected)
            except Exception as error:  # Raised by flush once all are answered.
                if self._callback_error is None:
                    self._callback_error = error
