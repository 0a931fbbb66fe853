#!/usr/bin/env python3
"""A stage's latency second by second, from a service's histogram, to tell
a steady tail from a few stalls.

  stage_series.py PORT SECONDS [HISTOGRAM]

PORT: the service's metrics port (the services log it as "metrics_port" when
ready); HISTOGRAM defaults to scoring's rebound_scoring_event_age_seconds
(see stage_latency.py for the others). Prints, each second, the samples
added and their p50/p99 (read from the buckets, as coarse as they are).
"""
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stage_latency  # noqa: E402


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    port, seconds = sys.argv[1], int(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) == 4 else (
        "rebound_scoring_event_age_seconds")
    prev = None
    for i in range(seconds + 1):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=5) as r:
            b = stage_latency.buckets(r.read().decode(), name, "")
        if prev is not None:
            d = {k: v - prev.get(k, 0.0) for k, v in b.items()}
            n = int(d.get(float("inf"), 0))
            p50 = stage_latency.quantile(d, 0.5) or 0.0
            p99 = stage_latency.quantile(d, 0.99) or 0.0
            print(f"{i:4d} s  {n:6d} samples  p50 {p50 * 1e3:8.1f} ms  "
                  f"p99 {p99 * 1e3:8.1f} ms", flush=True)
        prev = b
        time.sleep(1)


if __name__ == "__main__":
    main()
