#!/usr/bin/env bash
# Publish throughput of the Python client beside the C++ client on the same
# ingest: the simulator's events (REQUESTS requests, ~2.7 events each, ids
# distinct per run) published by `reboundctl publish` (tools/ingest_client:
# PublishStream, 200-event batches, 8 in flight) and by the Python Publisher
# (the same settings), alternating ROUNDS times; prints each run, the medians
# and Python/C++. Needs REBOUND_KAFKA_BROKERS (e.g. `source .stack-dev/env`).
#   bench/python_client_bench.sh [REQUESTS] [ROUNDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
REQUESTS=${1:-20000}
ROUNDS=${2:-3}
: "${REBOUND_KAFKA_BROKERS:?set REBOUND_KAFKA_BROKERS (source .stack-dev/env)}"
ensure_grpcurl
ensure_python_client
work=$(mktemp -d)
port=$(free_port)
"$BUILD_DIR/services/ingest/rebound-ingest" --kafka-brokers="$REBOUND_KAFKA_BROKERS" \
  --topic="bench-py-$$" --listen="127.0.0.1:$port" --insecure-no-auth \
  --metrics-listen=127.0.0.1:0 >"$work/ingest.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
wait_for_health "$port" 60 || { cat "$work/ingest.log"; exit 1; }
: >"$work/runs"
for r in $(seq 1 "$ROUNDS"); do
  for side in cc py; do
    "$BUILD_DIR/tools/rebound-sim" --seed=7 --requests="$REQUESTS" --run-id="$side$r-$$" \
      --out="$work/events.jsonl" --truth="$work/truth.jsonl" >/dev/null 2>&1
    n=$(wc -l <"$work/events.jsonl")
    if [[ $side == cc ]]; then
      line=$("$BUILD_DIR/tools/reboundctl" publish "$work/events.jsonl" \
        --ingest-target="127.0.0.1:$port" 2>/dev/null | head -n 1)
      s=$(sed -E 's/.* in ([0-9.]+)s.*/\1/' <<<"$line")
      eps=$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
      echo "C++ reboundctl: $n events, $line: $eps events/s"
    else
      line=$("$REBOUND_PYTHON" "$ROOT/clients/python/bench_publish.py" \
        --target="127.0.0.1:$port" --events="$work/events.jsonl")
      eps=$(sed -E 's/.*: ([0-9]+) events\/s.*/\1/' <<<"$line")
      echo "$line"
    fi
    echo "$side $eps" >>"$work/runs"
  done
done
python3 - "$work/runs" <<'PY'
import statistics, sys
runs = {"cc": [], "py": []}
for line in open(sys.argv[1]):
    side, eps = line.split()
    runs[side].append(float(eps))
cc, py = statistics.median(runs["cc"]), statistics.median(runs["py"])
print(f"median events/s: C++ {cc:.0f}, Python {py:.0f}; Python/C++ {py / cc:.2f}")
PY
