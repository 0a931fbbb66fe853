"""Events and waiting, shared by the tests."""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from rebound.v1 import events_pb2
from rebound_client import ReboundError

T = TypeVar("T")

PROFILE = events_pb2.ProfileSnapshot(has_photo=True, connection_count=400, completeness=0.9,
                                     account_age_days=900, industry="software",
                                     company="Contoso", headline="Engineer")


def event(tenant: str, event_id: str, sender: str, recipient: str, seconds_ago: int,
          **payload: Any) -> events_pb2.ConnectionEvent:
    return events_pb2.ConnectionEvent(
        event_id=event_id, tenant_id=tenant, sender_id=sender, recipient_id=recipient,
        occurred_at=Timestamp(seconds=int(time.time()) - seconds_ago), **payload)


def sent(tenant: str, event_id: str, sender: str, recipient: str, request: str,
         note: str = "", seconds_ago: int = 600) -> events_pb2.ConnectionEvent:
    return event(tenant, event_id, sender, recipient, seconds_ago,
                 request_sent=events_pb2.RequestSent(request_id=request, note=note,
                                                     sender_profile=PROFILE,
                                                     recipient_profile=PROFILE))


def declined_pair(tenant: str, sender: str, recipient: str, request: str,
                  note: str = "Quick call about our platform?"
                  ) -> list[events_pb2.ConnectionEvent]:
    """A request (event id REQUEST-s) and its decline (REQUEST-d, which is
    also the id of the suggestion notify makes of it)."""
    return [
        sent(tenant, f"{request}-s", sender, recipient, request, note, seconds_ago=7200),
        event(tenant, f"{request}-d", sender, recipient, 3600,
              request_declined=events_pb2.RequestDeclined(
                  request_id=request, kind=events_pb2.DECLINE_KIND_DECLINED)),
    ]


def wait_for(check: Callable[[], Optional[T]], timeout: float = 60,
             every: float = 0.2) -> Optional[T]:
    """check() until it is truthy or `timeout` passes; returns its last
    value. A NOT_FOUND answer (a member not scored yet) reads as not yet."""
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
