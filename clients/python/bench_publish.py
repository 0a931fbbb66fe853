"""Publish throughput of the Python client: publishes a file of
ConnectionEvent JSON lines through Publisher (parsed before the clock starts)
and prints events/s and the client process's CPU per event.

    python bench_publish.py --target HOST:PORT --events FILE [--token T]
"""

from __future__ import annotations

import argparse
import time

from google.protobuf import json_format
from rebound.v1 import events_pb2
from rebound_client import Publisher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--token", default=None)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--max-in-flight", type=int, default=8)
    args = parser.parse_args()
    with open(args.events) as f:
        events = [json_format.Parse(line, events_pb2.ConnectionEvent()) for line in f if line.strip()]
    publisher = Publisher(args.target, token=args.token, batch_size=args.batch_size,
                          max_in_flight=args.max_in_flight)
    wall, cpu = time.perf_counter(), time.process_time()
    publisher.publish_many(events)
    result = publisher.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"python Publisher: {len(events)} events, published={result.published} "
          f"duplicates={result.duplicates} rejected={len(result.rejected)} failed={len(result.failed)} "
          f"in {wall:.2f}s: {len(events) / wall:.0f} events/s, cpu {1e6 * cpu / len(events):.1f} us/event")


if __name__ == "__main__":
    main()
