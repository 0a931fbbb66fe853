#!/usr/bin/env python3
"""Where a pipeline run's latency went, from the services' stage histograms.

  stage_latency.py snapshot FILE PORT...   saves the /metrics of each port
  stage_latency.py diff BEFORE AFTER       prints each stage's p50/p99 over
                                           the run (the histograms' deltas)

Stages, in the order an event meets them:
  ingest ack          rebound_ingest_publish_latency_seconds
  event -> scoring    rebound_scoring_event_age_seconds (produced by ingest ->
                      its effects written by scoring)
  verdict -> notify   rebound_notify_record_age_seconds{source="verdicts"}
  append -> watch     rebound_notify_watch_delay_seconds
Quantiles are read from the buckets (linear inside a bucket), so they are
as coarse as the buckets (1, 2, 5, 10, 20, 50 ms ...).
"""
import json
import re
import sys
import urllib.request

STAGES = [
    ("ingest ack", "rebound_ingest_publish_latency_seconds", ""),
    ("event -> scoring written", "rebound_scoring_event_age_seconds", ""),
    ("verdict -> notify written", "rebound_notify_record_age_seconds",
     'source="verdicts"'),
    ("append -> watch write", "rebound_notify_watch_delay_seconds", ""),
]
LINE = re.compile(r'^(\w+)_bucket\{(.*)\} (\S+)$')


def buckets(text, name, labels):
    """{upper bound: cumulative count} of histogram `name` whose labels
    include `labels` (summed over the other labels)."""
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) != name:
            continue
        if labels and labels not in m.group(2):
            continue
        le = re.search(r'le="([^"]+)"', m.group(2)).group(1)
        bound = float("inf") if le == "+Inf" else float(le)
        out[bound] = out.get(bound, 0.0) + float(m.group(3))
    return out


def quantile(cumulative, q):
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]] if bounds else 0
    if total <= 0:
        return None
    want, lower, below = q * total, 0.0, 0.0
    for b in bounds:
        if cumulative[b] >= want:
            if b == float("inf"):
                return lower  # Beyond the last bound: at least that.
            inside = cumulative[b] - below
            frac = (want - below) / inside if inside else 1.0
            return lower + (b - lower) * frac
        lower, below = b, cumulative[b]
    return lower


def snapshot(path, ports):
    texts = []
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=5) as r:
            texts.append(r.read().decode())
    with open(path, "w") as f:
        json.dump(texts, f)


def diff(before_path, after_path):
    before = "\n".join(json.load(open(before_path)))
    after = "\n".join(json.load(open(after_path)))
    print("  stage latency over the run (from the services' histograms):")
    for title, name, labels in STAGES:
        a, b = buckets(after, name, labels), buckets(before, name, labels)
        delta = {k: v - b.get(k, 0.0) for k, v in a.items()}
        n = delta.get(float("inf"), 0)
        p50, p99 = quantile(delta, 0.5), quantile(delta, 0.99)
        if p50 is None:
            print(f"    {title:26s} no samples")
            continue
        print(f"    {title:26s} p50 {p50 * 1e3:8.1f} ms  p99 {p99 * 1e3:8.1f} ms"
              f"  ({int(n)} samples)")
    diff_counters(before, after)


COUNTERS = [
    ("notify suggestion versions written", "rebound_notify_suggestions_total"),
]
SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')


def counters(text, name):
    """{labels: value} of counter `name`."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == name:
            out[m.group(2) or ""] = out.get(m.group(2) or "", 0.0) + float(
                m.group(3))
    return out


def diff_counters(before, after):
    for title, name in COUNTERS:
        a, b = counters(after, name), counters(before, name)
        rows = [(v - b.get(k, 0.0), k) for k, v in a.items()]
        total = sum(n for n, _ in rows)
        print(f"  {title} over the run: {int(total)}")
        for n, labels in sorted(rows, reverse=True):
            if n > 0:
                print(f"    {labels:40s} {int(n)}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "snapshot":
        snapshot(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
