"""A resumable watch of Notify/WatchSuggestions."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Iterator, Optional

import grpc

from rebound.v1 import notify_pb2, notify_pb2_grpc

from ._conn import backoff
from .errors import ReboundError

# After these the watch reconnects (notify restarting, a connection lost, a
# replica draining); any other code is the caller's to see.
_RECONNECT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
              grpc.StatusCode.CANCELLED, grpc.StatusCode.ABORTED,
              grpc.StatusCode.RESOURCE_EXHAUSTED}


class Watch:
    """Iterates over SuggestionUpdates of a tenant or one of its members.

    Across disconnects and notify restarts it reconnects with backoff
    (`backoff_initial` doubling up to `backoff_max` seconds, reset by an
    update) and resumes after the last update it read: `resume_token`, a
    position in notify's Redis stream that any replica serves, so nothing in
    between is missed. Before the first update that position is the one the
    stream started at (notify's start marker), so a watch from now that
    reconnects does not skip what was written while it was away. It never yields the same (suggestion_id, version)
    twice (the last `remember` of them are kept). Save `resume_token` to
    resume in another process: Watch(..., resume_token=saved).

    Ends at `deadline` (seconds from construction; None: never) or when
    cancel() is called; raises ReboundError for what a reconnect cannot mend:
    a wrong token (UNAUTHENTICATED, PERMISSION_DENIED), a resume token older
    than what notify keeps (FAILED_PRECONDITION) or after its newest update
    (OUT_OF_RANGE: the stream was reset) — then list_suggestions() and watch
    without a token to resync.

    Threads: iterate from one thread; cancel() may be called from any.
    """

    def __init__(self, stub: notify_pb2_grpc.NotifyStub,
                 md: tuple[tuple[str, str], ...], tenant_id: str,
                 member_id: str = "", *, resume_token: str = "",
                 from_beginning: bool = False, deadline: Optional[float] = None,
                 backoff_initial: float = 0.1, backoff_max: float = 5.0,
                 remember: int = 100_000) -> None:
        self._stub = stub
        self._metadata = md
        self._tenant = tenant_id
        self._member = member_id
        self.resume_token = resume_token
        self._from_beginning = from_beginning
        self._until = None if deadline is None else time.monotonic() + deadline
        self._backoff = (backoff_initial, backoff_max)
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._remember = remember
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._call: Optional[grpc.RpcContext] = None
        # Reconnections so far (for tests and logs).
        self.reconnects = 0

    def cancel(self) -> None:
        """Ends the iteration (the open stream is cancelled at once)."""
        self._cancelled.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()

    def _left(self) -> Optional[float]:
        return None if self._until is None else self._until - time.monotonic()

    def __iter__(self) -> Iterator[notify_pb2.SuggestionUpdate]:
        failures = 0
        while not self._cancelled.is_set():
            left = self._left()
            if left is not None and left <= 0:
                return
            request = notify_pb2.WatchSuggestionsRequest(
                tenant_id=self._tenant, member_id=self._member,
                resume_token=self.resume_token,
                from_beginning=self._from_beginning and not self.resume_token,
                start_marker=True)
            call = self._stub.WatchSuggestions(request, metadata=self._metadata,
                                               timeout=left)
            with self._lock:
                self._call = call
            if self._cancelled.is_set():
                call.cancel()
            try:
                for update in call:
                    if not update.HasField("suggestion"):
                        # The start marker: where this stream starts, kept
                        # so a reconnect before the first suggestion resumes
                        # there instead of at a later "now". (It comes before
                        # notify's first read: no sign the stream is healthy,
                        # so the backoff is not reset by it.)
                        self.resume_token = update.resume_token
                        continue
                    failures = 0
                    key = (update.suggestion.suggestion_id, update.suggestion.version)
                    self.resume_token = update.resume_token
                    if key in self._seen:
                        continue
                    self._seen[key] = None
                    if len(self._seen) > self._remember:
                        self._seen.popitem(last=False)
                    yield update
            except grpc.RpcError as error:
                if self._cancelled.is_set():
                    return
                left = self._left()
                if left is not None and left <= 0:
                    return  # The deadline passed (DEADLINE_EXCEEDED).
                if error.code() not in _RECONNECT:
                    raise ReboundError.from_rpc_error(error) from None
            finally:
                # Also when the consumer stops iterating (break, close()):
                # the stream is cancelled now, not when it is collected.
                call.cancel()
                with self._lock:
                    self._call = None
            # The stream ended or broke: reconnect after a backoff.
            failures += 1
            self.reconnects += 1
            delay = backoff(failures, *self._backoff)
            left = self._left()
            if left is not None:
                delay = min(delay, max(0.0, left))
            if self._cancelled.wait(delay):
                return
