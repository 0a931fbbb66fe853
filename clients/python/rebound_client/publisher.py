"""Publisher: batches events over Ingest/PublishStream with a bounded number
of batches in flight, retries what may be retried with the same event_id,
reports what was rejected and why."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional

import grpc

from rebound.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

from ._conn import Tls, channel, metadata
from .errors import ReboundError

# Stream errors after which the unanswered events are sent again (ingest
# restarting, a connection lost, a deadline): the same event ids, so ingest
# answers DUPLICATE for any it had published and nothing is written twice by
# an instance that remembers them.
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
    published: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    # Stream rounds used: 1 + retries.
    rounds: int = 0

    @property
    def delivered(self) -> int:
        """Events Kafka holds: published now, or earlier (DUPLICATE)."""
        return self.published + self.duplicates


class Publisher:
    """Publishes ConnectionEvents through ingest.

    publish() buffers; the buffer is streamed when it holds
    `batch_size * max_in_flight * 4` events, and by flush() and close()
    (a context manager closes on exit). Each round streams the events in
    batches of `batch_size` with at most `max_in_flight` batches unanswered.
    FAILED events, and the unanswered ones of a stream that broke, are sent
    again with the same event_id after an exponential backoff (at least the
    server's retry_after_ms), up to `max_rounds` rounds; what is still not
    published then is in PublishResult.failed. REJECTED events are in
    PublishResult.rejected (and passed to `on_rejected`) with the field and
    the reason. Thread-safe: publish() may be called from several threads;
    flushes run one at a time.
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
        self._closed = False

    def publish(self, event: events_pb2.ConnectionEvent) -> None:
        self.publish_many((event,))

    def publish_many(self, events: Iterable[events_pb2.ConnectionEvent]) -> None:
        with self._buffer_lock:
            if self._closed:
                raise RuntimeError("publisher is closed")
            self._buffer.extend(events)
            full = len(self._buffer) >= self._batch_size * self._max_in_flight * 4
        if full:
            self.flush()

    def flush(self) -> PublishResult:
        """Streams everything buffered and waits for every answer; returns
        the totals so far."""
        with self._flush_lock:
            with self._buffer_lock:
                pending, self._buffer = self._buffer, []
            rounds = 0
            retry_after = 0.0
            while pending:
                if rounds:
                    time.sleep(max(retry_after, self._delay(rounds)))
                rounds += 1
                self._result.rounds += 1
                pending, retry_after, last_error = self._round(pending)
                if pending and rounds >= self._max_rounds:
                    self._result.failed.extend(
                        Failed(e.event_id, last_error) for e in pending)
                    break
            return self._result

    def close(self) -> PublishResult:
        with self._buffer_lock:
            self._closed = True
        result = self.flush()
        self._channel.close()
        return result

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _delay(self, attempt: int) -> float:
        initial, most = self._backoff
        return min(most, initial * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def _round(self, events: list[events_pb2.ConnectionEvent]
               ) -> tuple[list[events_pb2.ConnectionEvent], float, str]:
        """One stream: returns the events to send again, the longest
        retry_after the server asked for (s) and the last error."""
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
        call = self._stub.PublishStream(requests(), metadata=self._metadata,
                                        timeout=self._stream_timeout)
        try:
            for response in call:
                with lock:
                    batch = unanswered.pop(response.batch_id, None)
                window.release()
                if batch is None:
                    continue
                if response.HasField("error"):
                    for e in batch:
                        self._reject(Rejected(e.event_id, response.error.field,
                                              response.error.error,
                                              response.error.code))
                    continue
                for r in response.results:
                    if r.outcome == ingest_pb2.OUTCOME_PUBLISHED:
                        self._result.published += 1
                    elif r.outcome == ingest_pb2.OUTCOME_DUPLICATE:
                        self._result.duplicates += 1
                    elif r.outcome == ingest_pb2.OUTCOME_REJECTED:
                        self._reject(Rejected(r.event_id, r.field, r.error, r.code))
                    else:  # FAILED (or an outcome this client does not know)
                        again.append(batch[r.index])
                        retry_after = max(retry_after, r.retry_after_ms / 1000)
                        last_error = r.error or ingest_pb2.Outcome.Name(r.outcome)
        except grpc.RpcError as error:
            if error.code() not in _TRANSIENT:
                stop.set()
                raise ReboundError.from_rpc_error(error) from None
            last_error = f"{error.code().name}: {error.details()}"
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

    def _reject(self, rejected: Rejected) -> None:
        self._result.rejected.append(rejected)
        if self._on_rejected is not None:
            self._on_rejected(rejected)
