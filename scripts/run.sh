#!/usr/bin/env bash
# The main job: install what is missing, build, start Kafka and Redis on
# loopback, start ingest, publish a generated sample of connection events
# through it, and show them landing in Kafka (count + a few decoded).
#   REBOUND_EVENTS=20000   how many events to publish
#   REBOUND_KEEP_RUNNING=1 leave ingest and the stack running at the end
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
EVENTS="${REBOUND_EVENTS:-20000}"

"$ROOT/deploy/local/stack.sh" install
ensure_grpcurl
build

say "starting Kafka and Redis"
eval "$("$ROOT/deploy/local/stack.sh" start all)"

TOPIC="connection-events"
INGEST_PORT=$(free_port)
METRICS_PORT=$(free_port)
LOG="$ROOT/.stack/ingest.log"
say "starting ingest on 127.0.0.1:$INGEST_PORT (log: $LOG, metrics: 127.0.0.1:$METRICS_PORT/metrics)"
"$BUILD_DIR/services/ingest/rebound-ingest" --listen="127.0.0.1:$INGEST_PORT" \
  --metrics-listen="127.0.0.1:$METRICS_PORT" --topic="$TOPIC" >"$LOG" 2>&1 &
INGEST_PID=$!
cleanup() {
  if [[ "${REBOUND_KEEP_RUNNING:-0}" == 1 ]]; then
    echo "ingest (pid $INGEST_PID) and the stack keep running; stop with: kill $INGEST_PID; deploy/local/stack.sh stop"
    return
  fi
  kill -TERM "$INGEST_PID" 2>/dev/null && wait "$INGEST_PID" 2>/dev/null || true
  "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true
}
trap cleanup EXIT
wait_for_health "$INGEST_PORT" 60 || { cat "$LOG"; echo "ingest did not become healthy" >&2; exit 1; }
"$GRPCURL" -plaintext "127.0.0.1:$INGEST_PORT" list

BEFORE=$("$BUILD_DIR/tools/rebound-topic-peek" --topic="$TOPIC" --show=0 | awk '/records$/ {print $3}')
say "publishing $EVENTS generated events through ingest (PublishStream)"
"$BUILD_DIR/tools/rebound-publish-sample" --ingest-target="127.0.0.1:$INGEST_PORT" \
  --events="$EVENTS" --run-id="run-$(date +%s)"

say "what landed in Kafka (topic $TOPIC; $BEFORE records were there before this run)"
"$BUILD_DIR/tools/rebound-topic-peek" --topic="$TOPIC" --show=3
say "ingest metrics"
curl -s "127.0.0.1:$METRICS_PORT/metrics" | grep -E '^rebound_ingest_(events_total|publish_latency_seconds_(count|sum))'
