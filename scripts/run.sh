#!/usr/bin/env bash
# The main job: install what is missing, build, start Kafka and Redis on
# loopback (fresh state), start ingest, scoring and notify, run the simulator
# through ingest while retry suggestions stream out of notify live, and end
# with a summary: events in, verdicts by reason and their accuracy against the
# simulator's truth, suggestions by state and action, end-to-end latency.
#   REBOUND_REQUESTS=6000   simulated connection requests (~2.7 events each)
#   REBOUND_RATE=2000       events per second fed to ingest (0 = as fast as possible)
#   REBOUND_KEEP_RUNNING=1  leave the services and the stack running at the end
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
REQUESTS="${REBOUND_REQUESTS:-6000}"

"$ROOT/deploy/local/stack.sh" install
ensure_grpcurl
build

say "starting Kafka and Redis (fresh state in .stack/)"
"$ROOT/deploy/local/stack.sh" clean >/dev/null 2>&1 || true
eval "$("$ROOT/deploy/local/stack.sh" start all)"
RUN="$ROOT/.stack/run"
mkdir -p "$RUN"

INGEST_PORT=$(free_port); INGEST_METRICS=$(free_port)
SCORING_PORT=$(free_port); SCORING_METRICS=$(free_port)
NOTIFY_PORT=$(free_port); NOTIFY_METRICS=$(free_port)
PIDS=()
cleanup() {
  if [[ "${REBOUND_KEEP_RUNNING:-0}" == 1 ]]; then
    echo "services (pids ${PIDS[*]}) and the stack keep running; stop with: kill ${PIDS[*]}; deploy/local/stack.sh stop"
    return
  fi
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "starting ingest (127.0.0.1:$INGEST_PORT), scoring (127.0.0.1:$SCORING_PORT), notify (127.0.0.1:$NOTIFY_PORT); logs in $RUN"
# A local demo on loopback: no tenant tokens, on purpose (--insecure-no-auth);
# deployments give --tenant-tokens-file or --tls-client-ca (SECURITY.md).
"$BUILD_DIR/services/ingest/rebound-ingest" --listen="127.0.0.1:$INGEST_PORT" --insecure-no-auth \
  --metrics-listen="127.0.0.1:$INGEST_METRICS" >"$RUN/ingest.log" 2>&1 &
PIDS+=($!)
"$BUILD_DIR/services/scoring/rebound-scoring" --listen="127.0.0.1:$SCORING_PORT" --insecure-no-auth \
  --metrics-listen="127.0.0.1:$SCORING_METRICS" --redis-addr="$REBOUND_REDIS_ADDR" \
  --classifier-config="$ROOT/config/classifier.json" \
  --retry-policy="$ROOT/config/retry_policy.json" >"$RUN/scoring.log" 2>&1 &
PIDS+=($!)
"$BUILD_DIR/services/notify/rebound-notify" --listen="127.0.0.1:$NOTIFY_PORT" --insecure-no-auth \
  --metrics-listen="127.0.0.1:$NOTIFY_METRICS" --redis-addr="$REBOUND_REDIS_ADDR" \
  --retry-policy="$ROOT/config/retry_policy.json" >"$RUN/notify.log" 2>&1 &
PIDS+=($!)
wait_for_health "$INGEST_PORT" 60 || { cat "$RUN/ingest.log"; echo "ingest did not become healthy" >&2; exit 1; }
wait_for_health "$SCORING_PORT" 60 || { cat "$RUN/scoring.log"; echo "scoring did not become healthy" >&2; exit 1; }
wait_for_health "$NOTIFY_PORT" 60 || { cat "$RUN/notify.log"; echo "notify did not become healthy" >&2; exit 1; }

say "simulating $REQUESTS connection requests (seed 42, 3 tenants)"
"$BUILD_DIR/tools/rebound-sim" --seed=42 --tenants=3 --requests="$REQUESTS" \
  --out="$RUN/events.jsonl" --truth="$RUN/truth.jsonl"
EVENTS=$(wc -l <"$RUN/events.jsonl")

say "publishing $EVENTS events through ingest while suggestions stream out of notify (first 12 shown)"
"$BUILD_DIR/tools/rebound-e2e" --ingest-target="127.0.0.1:$INGEST_PORT" \
  --notify-target="127.0.0.1:$NOTIFY_PORT" --file="$RUN/events.jsonl" --show=12 \
  --rate="${REBOUND_RATE:-2000}" | tee "$RUN/e2e.txt"

say "events in Kafka"
"$BUILD_DIR/tools/rebound-topic-peek" --topic=connection-events --show=0

say "decline verdicts"
"$BUILD_DIR/tools/rebound-topic-peek" --topic=decline-verdicts --show=1 \
  --verdicts-jsonl="$RUN/verdicts.jsonl"
say "accuracy of the live pipeline's verdicts against the simulator's truth"
"$BUILD_DIR/services/scoring/rebound-evaluate" --verdicts="$RUN/verdicts.jsonl" \
  --truth="$RUN/truth.jsonl" | tee "$RUN/evaluation.txt"

member=$(head -1 "$RUN/events.jsonl" | python3 -c 'import json,sys; e=json.loads(sys.stdin.read()); print(e["tenantId"], e["senderId"])')
set -- $member
say "insights for member $2 of $1 (reboundctl insights)"
"$BUILD_DIR/tools/reboundctl" insights --tenant="$1" --member="$2" \
  --notify-target="127.0.0.1:$NOTIFY_PORT" | python3 -c '
import json, sys
m = json.load(sys.stdin)
m.get("scores", {}).get("asRecipient", {}).pop("acceptHourOfWeek", None)
print(json.dumps(m, indent=1))'

say "summary"
echo "events in:        $EVENTS"
grep -E "^rebound_scoring_verdicts_total" <(curl -s "127.0.0.1:$SCORING_METRICS/metrics") |
  sed -E 's/rebound_scoring_verdicts_total\{reason="DECLINE_REASON_([A-Z_]+)"\} /  verdicts \1: /'
grep -E "^macro-F1" "$RUN/evaluation.txt" | sed 's/^/accuracy:         /'
grep -E "suggestions by|actions:|end-to-end" "$RUN/e2e.txt"
