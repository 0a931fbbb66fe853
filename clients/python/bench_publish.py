"""Publish throughput of the Python client: publishes events through
Publisher to a running ingest and prints events/s and the CPU time of this
process per event (user + system, over the publish only).

The events are built before the clock starts: either `--count N` generated
here (requests sent and then accepted, spread over `--senders` members, ids
fresh each run) or `--events FILE` of ConnectionEvent JSON lines (e.g.
rebound-sim's output, as bench/python_client_bench.sh runs it).

    python bench_publish.py --target HOST:PORT --count 50000 [--tenant T --token TOKEN]
    python bench_publish.py --target HOST:PORT --events FILE [--token TOKEN]
"""

from __future__ import annotations

import argparse
import time
import uuid

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from rebound.v1 import events_pb2
from rebound_client import Publisher


def generated(count: int, tenant: str, senders: int) -> list[events_pb2.ConnectionEvent]:
    """`count` valid events: RequestSent and then RequestAccepted of
    count / 2 requests, sender i % senders to recipient i."""
    run = uuid.uuid4().hex[:8]
    now = int(time.time())
    profile = events_pb2.ProfileSnapshot(has_photo=True, connection_count=300,
                                         completeness=0.8, account_age_days=700,
                                         industry="software", headline="Engineer")
    events = []
    for n in range(count):
        i, accepted = divmod(n, 2)
        request = f"{run}-{i}"
        e = events_pb2.ConnectionEvent(
            event_id=f"{request}-{'a' if accepted else 's'}", tenant_id=tenant,
            occurred_at=Timestamp(seconds=now - (600 if accepted else 3600)),
            sender_id=f"bench-m{i % senders}", recipient_id=f"bench-r{i}")
        if accepted:
            e.request_accepted.request_id = request
        else:
            e.request_sent.CopyFrom(events_pb2.RequestSent(
                request_id=request, note="Hi, we met at the meetup last week.",
                channel=events_pb2.CHANNEL_EVENT, sender_profile=profile,
                recipient_profile=profile, mutual_connections=3))
        events.append(e)
    return events


def from_file(path: str) -> list[events_pb2.ConnectionEvent]:
    with open(path) as f:
        return [json_format.Parse(line, events_pb2.ConnectionEvent())
                for line in f if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, help="ingest's host:port")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--count", type=int, help="events to generate")
    source.add_argument("--events", help="a file of ConnectionEvent JSON lines")
    parser.add_argument("--tenant", default="bench", help="tenant of generated events")
    parser.add_argument("--senders", type=int, default=1000,
                        help="members the generated requests are spread over")
    parser.add_argument("--token", default=None, help="the tenant's bearer token")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--max-in-flight", type=int, default=8)
    args = parser.parse_args()
    events = (generated(args.count, args.tenant, args.senders) if args.count is not None
              else from_file(args.events))
    publisher = Publisher(args.target, token=args.token, batch_size=args.batch_size,
                          max_in_flight=args.max_in_flight)
    wall, cpu = time.perf_counter(), time.process_time()
    publisher.publish_many(events)
    result = publisher.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"python Publisher: {len(events)} events, published={result.published} "
          f"duplicates={result.duplicates} rejected={len(result.rejected)} "
          f"failed={len(result.failed)} in {wall:.2f}s: {len(events) / wall:.0f} events/s, "
          f"cpu {1e6 * cpu / len(events):.1f} us/event")


if __name__ == "__main__":
    main()
