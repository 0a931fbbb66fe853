"""Quickstart: publish an invitation and its decline, then print the retry
suggestion notify streams for it. Reads the addresses, tenant and token from
the environment (`eval "$(scripts/serve.sh start)"` sets them)."""

import os
import time
import uuid

from google.protobuf.timestamp_pb2 import Timestamp

from rebound.v1 import events_pb2, scoring_pb2
from rebound_client import Client

tenant = os.environ["REBOUND_TENANT"]
client = Client(tenant, ingest=os.environ["REBOUND_INGEST"],
                notify=os.environ["REBOUND_NOTIFY"], token=os.environ["REBOUND_TOKEN"])
run = uuid.uuid4().hex[:8]  # fresh ids each run
profile = events_pb2.ProfileSnapshot(has_photo=True, connection_count=400, completeness=0.9,
                                     account_age_days=900, industry="software", headline="Engineer")


def event(kind: str, seconds_ago: int, **payload) -> events_pb2.ConnectionEvent:
    at = Timestamp(seconds=int(time.time()) - seconds_ago)
    return events_pb2.ConnectionEvent(event_id=f"{run}-{kind}", tenant_id=tenant, occurred_at=at,
                                      sender_id=f"ana-{run}", recipient_id="ben", **payload)


with client.publisher() as publisher:
    publisher.publish(event("sent", 7200, request_sent=events_pb2.RequestSent(
        request_id=f"q-{run}", note="Quick call about our platform? Free trial inside.",
        sender_profile=profile, recipient_profile=profile)))
    publisher.publish(event("declined", 3600, request_declined=events_pb2.RequestDeclined(
        request_id=f"q-{run}", kind=events_pb2.DECLINE_KIND_DECLINED)))
result = publisher.close()
print(f"published {result.published}, rejected {len(result.rejected)}")

for update in client.watch(f"ana-{run}", from_beginning=True, deadline=60):
    s = update.suggestion
    print(f"suggestion {s.suggestion_id}: {scoring_pb2.DeclineReason.Name(s.reason)}, "
          f"{'retry from ' + s.not_before.ToJsonString() if s.should_retry else 'do not retry'}")
    for action in s.actions:
        print(f"  - {action.detail}")
    break
