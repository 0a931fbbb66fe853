#!/usr/bin/env bash
# End-to-end benchmark: at a fixed event rate, latency from ingest's ack of a
# decline to its suggestion on a notify watch stream (p50/p99), next to
# Kafka's own produce -> consume latency at the same rate (same producer
# settings), and the RSS of each service before and after the run.
#   bench/e2e_bench.sh [RATE events/s, default 400] [DURATION s, default 600]
# Uses a private stack in .stack-bench/ (started and stopped here).
# RSS is a leak check: ingest's duplicate window legitimately grows until it
# holds --dedup-ttl worth of ids, so the bench runs ingest with a 60 s window
# (DEDUP_TTL) and warms up for 90 s at the rate before the "before" reading;
# with the default 10-minute window the first 10 minutes are its fill-up.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
RATE=${1:-400}
DURATION=${2:-600}
DEDUP_TTL=${DEDUP_TTL:-60s}
WARMUP=${WARMUP:-90}
export REBOUND_STACK_DIR="$ROOT/.stack-bench"
ensure_grpcurl
"$ROOT/deploy/local/stack.sh" clean >/dev/null 2>&1 || true
eval "$("$ROOT/deploy/local/stack.sh" start all)"
OUT="$REBOUND_STACK_DIR/bench"
mkdir -p "$OUT"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true
}
trap cleanup EXIT
I=$(free_port); S=$(free_port); N=$(free_port)
"$BUILD_DIR/services/ingest/rebound-ingest" --listen=127.0.0.1:$I --metrics-listen=127.0.0.1:0 --dedup-ttl="$DEDUP_TTL" >"$OUT/ingest.log" 2>&1 &
PIDS+=($!)
"$BUILD_DIR/services/scoring/rebound-scoring" --listen=127.0.0.1:$S --metrics-listen=127.0.0.1:0 \
  --redis-addr="$REBOUND_REDIS_ADDR" --classifier-config=config/classifier.json >"$OUT/scoring.log" 2>&1 &
PIDS+=($!)
"$BUILD_DIR/services/notify/rebound-notify" --listen=127.0.0.1:$N --metrics-listen=127.0.0.1:0 \
  --redis-addr="$REBOUND_REDIS_ADDR" --retry-policy=config/retry_policy.json >"$OUT/notify.log" 2>&1 &
PIDS+=($!)
for p in $I $S $N; do wait_for_health "$p" 60 || { echo "service on $p not healthy" >&2; exit 1; }; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
names=(ingest scoring notify)
# Warm up (connections, group joins, first allocations), then measure.
"$BUILD_DIR/tools/rebound-sim" --seed=1 --run-id=warm --requests="$(python3 -c "print(int($RATE * $WARMUP / 2.66))")" --out="$OUT/warm.jsonl" --truth=/dev/null >/dev/null
"$BUILD_DIR/tools/rebound-e2e" --ingest-target=127.0.0.1:$I --notify-target=127.0.0.1:$N \
  --file="$OUT/warm.jsonl" --show=0 --rate="$RATE" >/dev/null
declare -A before
for k in 0 1 2; do before[$k]=$(rss "${PIDS[$k]}"); done
requests=$(python3 -c "print(max(1000, int($RATE * $DURATION / 2.66)))")
"$BUILD_DIR/tools/rebound-sim" --seed=7 --run-id=bench --requests="$requests" --out="$OUT/events.jsonl" --truth=/dev/null
REDIS_PORT=${REBOUND_REDIS_ADDR##*:}
HZ=$(getconf CLK_TCK)
cpu() { awk -v hz="$HZ" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }  # CPU s so far
declare -A cpu0
for k in 0 1 2; do cpu0[$k]=$(cpu "${PIDS[$k]}"); done
redis-cli -p "$REDIS_PORT" INFO everything >"$OUT/redis-before.txt"
echo "== pipeline at $RATE events/s for ~${DURATION}s"
"$BUILD_DIR/tools/rebound-e2e" --ingest-target=127.0.0.1:$I --notify-target=127.0.0.1:$N \
  --file="$OUT/events.jsonl" --show=0 --rate="$RATE" --timeout-seconds=300 | tee "$OUT/e2e.txt"
redis-cli -p "$REDIS_PORT" INFO everything >"$OUT/redis-after.txt"
declare -A cpu1
for k in 0 1 2; do cpu1[$k]=$(cpu "${PIDS[$k]}"); done
EVENTS=$(wc -l <"$OUT/events.jsonl")
echo "== where the CPU went ($EVENTS events)"
for k in 0 1 2; do
  python3 -c "print(f'  {\"${names[$k]}\":8s} {(${cpu1[$k]} - ${cpu0[$k]}) * 1e6 / $EVENTS:8.1f} us CPU per event')"
done
# Redis: INFO cpu and commandstats deltas over the measured run.
python3 - "$OUT/redis-before.txt" "$OUT/redis-after.txt" "$EVENTS" <<'PY'
import sys
def info(path):
    cpu, main, cmds = 0.0, 0.0, {}
    for line in open(path):
        k, _, v = line.strip().partition(":")
        if k in ("used_cpu_sys", "used_cpu_user"): cpu += float(v)
        if k in ("used_cpu_sys_main_thread", "used_cpu_user_main_thread"): main += float(v)
        if k.startswith("cmdstat_"):
            f = dict(x.split("=") for x in v.split(","))
            cmds[k[8:]] = (float(f["calls"]), float(f["usec"]))
    return cpu, main, cmds
(c0, m0, s0), (c1, m1, s1), n = info(sys.argv[1]), info(sys.argv[2]), int(sys.argv[3])
print(f"  redis    {(c1 - c0) * 1e6 / n:8.1f} us CPU per event (main thread {(m1 - m0) * 1e6 / n:.1f}; goal <= 15)")
rows = []
for name, (calls, usec) in s1.items():
    pc, pu = s0.get(name, (0.0, 0.0))
    if calls > pc: rows.append((usec - pu, calls - pc, name))
for usec, calls, name in sorted(rows, reverse=True)[:10]:
    print(f"    {name:16s} {calls / n:6.2f} calls/event {usec / calls:7.2f} us/call {usec / n:7.2f} us/event")
PY
declare -A after
for k in 0 1 2; do after[$k]=$(rss "${PIDS[$k]}"); done
echo "== kafka alone at $RATE records/s"
count=$(python3 -c "print(int($RATE * min($DURATION, 60)))")
"$BUILD_DIR/tools/rebound-e2e" --kafka-baseline --kafka-brokers="$REBOUND_KAFKA_BROKERS" \
  --rate="$RATE" --count="$count" --topic=bench-baseline | tee "$OUT/kafka.txt"
echo "== results"
python3 - "$OUT/e2e.txt" "$OUT/kafka.txt" <<'PY'
import re, sys
e2e = open(sys.argv[1]).read(); kafka = open(sys.argv[2]).read()
p = lambda t: [float(x) for x in re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", t).groups()]
e50, e99 = p(e2e); k50, k99 = p(kafka)
print(f"end-to-end p50 {e50:.1f} ms p99 {e99:.1f} ms; kafka p50 {k50:.1f} ms p99 {k99:.1f} ms")
print(f"ratio end-to-end/kafka: p50 {e50/k50:.2f}, p99 {e99/k99:.2f} (goal <= 3)")
PY
for k in 0 1 2; do
  python3 -c "b=${before[$k]}; a=${after[$k]}; print(f'RSS ${names[$k]}: {b/1024:.1f} MiB -> {a/1024:.1f} MiB ({(a-b)*100/b:+.1f}%)')"
done
