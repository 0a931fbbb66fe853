#!/usr/bin/env python3
"""Where the Kafka broker's CPU goes over a run.

  broker_cpu.py snapshot PID OUT.json   the broker JVM's CPU by thread group
                                        (/proc) and its request counters
                                        (bench/KafkaRequests.java, attach API)
  broker_cpu.py diff A.json B.json EVENTS
                                        per event and per second: CPU by
                                        thread group, requests by type and
                                        their time in the API handler

Thread groups are thread names with their numbers taken out
(data-plane-kafka-request-handler-3 -> data-plane-kafka-request-handler-#);
the kernel truncates names to 15 characters.
"""
import json
import os
import re
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def threads(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / HZ
        group = re.sub(r"\d+", "#", name)
        out[group] = out.get(group, 0.0) + cpu
    return out


def requests(pid):
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(["java", os.path.join(here, "KafkaRequests.java"), str(pid)],
                       capture_output=True, text=True, timeout=120)
    counts, handler, messages = {}, {}, 0
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts[0] == "requests":
            counts[parts[1]] = int(parts[2])
        elif parts[0] == "handler-ms":
            handler[parts[1]] = float(parts[2])
        elif parts[0] == "messages-in":
            messages = int(parts[1])
    return counts, handler, messages, r.stderr.strip()


def snapshot(pid, path):
    counts, handler, messages, err = requests(pid)
    snap = {"time": time.time(), "threads": threads(pid), "requests": counts,
            "handler_ms": handler, "messages_in": messages, "error": err}
    with open(path, "w") as f:
        json.dump(snap, f)


def diff(a_path, b_path, events):
    a, b = (json.load(open(p)) for p in (a_path, b_path))
    secs = b["time"] - a["time"]
    cpu = {k: v - a["threads"].get(k, 0.0) for k, v in b["threads"].items()}
    total = sum(cpu.values())
    print(f"  broker CPU by thread ({total * 1e6 / events:.1f} us per event, "
          f"{total / secs:.2f} cores over {secs:.0f} s):")
    for name, s in sorted(cpu.items(), key=lambda x: -x[1])[:8]:
        if s <= 0:
            continue
        print(f"    {name:22s} {s * 1e6 / events:7.1f} us/event {100 * s / total:5.1f} %")
    if b.get("error") and not b["requests"]:
        print(f"  broker requests: not read ({b['error'][:200]})")
        return
    rows = []
    for name, n in b["requests"].items():
        d = n - a["requests"].get(name, 0)
        if d <= 0:
            continue
        ms = b["handler_ms"].get(name, 0.0) - a["handler_ms"].get(name, 0.0)
        rows.append((d, name, ms))
    print(f"  broker requests ({sum(r[0] for r in rows) / secs:.0f}/s; "
          f"{(b['messages_in'] - a['messages_in']) / secs:.0f} records in/s):")
    for d, name, ms in sorted(rows, reverse=True)[:8]:
        print(f"    {name:22s} {d / secs:8.0f}/s {d / events:6.3f} per event "
              f"handler {ms * 1000 / d:7.1f} us each")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "snapshot":
        snapshot(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
