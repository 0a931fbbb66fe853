#!/usr/bin/env bash
# A/B of two ingest_bench builds, interleaved: on a machine whose speed drifts
# by ±20 % within the hour, single runs of either side say little; PAIRS runs
# of each, alternating, and their medians do.
#
#   bench/ab_ingest.sh A_BIN B_BIN [PAIRS] [ingest_bench flags...]
#
# Each run is one round of 300k events, --ingest-only unless MODE says
# otherwise (MODE=--checks-only: the validate_only path alone). Prints every
# run, then each side's median events/s and CPU per event and B/A.
# Needs REBOUND_KAFKA_BROKERS (e.g. `source .stack-bench/env` after
# `REBOUND_STACK_DIR=.stack-bench deploy/local/stack.sh start kafka`).
set -euo pipefail
A=${1:?usage: ab_ingest.sh A_BIN B_BIN [PAIRS] [flags...]}
B=${2:?usage: ab_ingest.sh A_BIN B_BIN [PAIRS] [flags...]}
PAIRS=${3:-6}
shift $(($# < 3 ? $# : 3))
: "${REBOUND_KAFKA_BROKERS:?set REBOUND_KAFKA_BROKERS (source .stack-bench/env)}"
MODE=${MODE:---ingest-only}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for _ in $(seq 1 "$PAIRS"); do
  for side in A B; do
    bin=$A
    [ "$side" = B ] && bin=$B
    line=$(timeout 300 "$bin" --kafka-brokers="$REBOUND_KAFKA_BROKERS" \
      --events=300000 --rounds=1 "$MODE" "$@" 2>&1 |
      grep "PublishStream -> ingest" | tail -1)
    eps=$(awk '{for (i = 1; i <= NF; i++) if ($i == "events/s") print $(i - 1)}' <<<"$line")
    cpu=$(sed -E 's/.*cpu +([0-9.]+) us.*/\1/' <<<"$line")
    echo "$side $eps $cpu" | tee -a "$OUT"
  done
done
python3 - "$OUT" <<'PY'
import statistics as st, sys
runs = {'A': [], 'B': []}
for line in open(sys.argv[1]):
    side, eps, cpu = line.split()
    runs[side].append((float(eps), float(cpu)))
med = {s: (st.median(e for e, _ in r), st.median(c for _, c in r)) for s, r in runs.items()}
for s in 'AB':
    print(f'{s}: median {med[s][0]:.0f} events/s, {med[s][1]:.3f} us/event')
print(f'B/A: CPU per event {med["B"][1] / med["A"][1]:.3f}, events/s {med["B"][0] / med["A"][0]:.3f}')
PY
