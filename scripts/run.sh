#!/usr/bin/env bash
# The main job: install what is missing, build, start Kafka and Redis on
# loopback (fresh state), start ingest and scoring, publish a simulated
# multi-tenant stream through ingest, and show what came out: events landing
# in Kafka, decline verdicts by reason, their accuracy against the
# simulator's truth, and a member's scores from the Scoring API.
#   REBOUND_REQUESTS=6000   simulated connection requests (~2.7 events each)
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

say "starting ingest (gRPC 127.0.0.1:$INGEST_PORT) and scoring (gRPC 127.0.0.1:$SCORING_PORT); logs in $RUN"
"$BUILD_DIR/services/ingest/rebound-ingest" --listen="127.0.0.1:$INGEST_PORT" \
  --metrics-listen="127.0.0.1:$INGEST_METRICS" >"$RUN/ingest.log" 2>&1 &
PIDS+=($!)
"$BUILD_DIR/services/scoring/rebound-scoring" --listen="127.0.0.1:$SCORING_PORT" \
  --metrics-listen="127.0.0.1:$SCORING_METRICS" --redis-addr="$REBOUND_REDIS_ADDR" \
  --classifier-config="$ROOT/config/classifier.json" >"$RUN/scoring.log" 2>&1 &
PIDS+=($!)
wait_for_health "$INGEST_PORT" 60 || { cat "$RUN/ingest.log"; echo "ingest did not become healthy" >&2; exit 1; }
wait_for_health "$SCORING_PORT" 60 || { cat "$RUN/scoring.log"; echo "scoring did not become healthy" >&2; exit 1; }

say "simulating $REQUESTS connection requests (seed 42, 3 tenants)"
"$BUILD_DIR/tools/rebound-sim" --seed=42 --tenants=3 --requests="$REQUESTS" \
  --out="$RUN/events.jsonl" --truth="$RUN/truth.jsonl"
EVENTS=$(wc -l <"$RUN/events.jsonl")

say "publishing $EVENTS events through ingest (PublishStream)"
"$BUILD_DIR/tools/rebound-publish-sample" --ingest-target="127.0.0.1:$INGEST_PORT" \
  --file="$RUN/events.jsonl"

say "events in Kafka"
"$BUILD_DIR/tools/rebound-topic-peek" --topic=connection-events --show=1

say "waiting for scoring to process all $EVENTS events"
processed=0
for _ in $(seq 1 600); do
  processed=$(curl -s "127.0.0.1:$SCORING_METRICS/metrics" |
    awk '/^rebound_scoring_events_total\{outcome="processed"\}/ {print int($2)}')
  [[ "${processed:-0}" -ge "$EVENTS" ]] && break
  sleep 0.2
done
echo "scoring processed ${processed:-0} of $EVENTS events"

say "decline verdicts"
"$BUILD_DIR/tools/rebound-topic-peek" --topic=decline-verdicts --show=1 \
  --verdicts-jsonl="$RUN/verdicts.jsonl"
say "accuracy of the live pipeline's verdicts against the simulator's truth"
"$BUILD_DIR/services/scoring/rebound-evaluate" --verdicts="$RUN/verdicts.jsonl" \
  --truth="$RUN/truth.jsonl"

member=$(head -1 "$RUN/events.jsonl" | python3 -c 'import json,sys; e=json.loads(sys.stdin.read()); print(e["tenantId"], e["senderId"])')
set -- $member
say "scores of member $2 in tenant $1 (rebound.v1.Scoring/GetMemberScores)"
"$GRPCURL" -plaintext -d "{\"tenant_id\":\"$1\",\"member_id\":\"$2\"}" \
  "127.0.0.1:$SCORING_PORT" rebound.v1.Scoring/GetMemberScores |
  python3 -c '
import json, sys
m = json.load(sys.stdin)
r = m.get("as_recipient", {})
hours = [int(x) for x in r.pop("accept_hour_of_week", [])]
top = sorted(range(len(hours)), key=lambda h: -hours[h])[:3]
r["top_accept_hours_of_week"] = ["%s %02d:00 (%d)" % ("Mon Tue Wed Thu Fri Sat Sun".split()[h // 24], h % 24, hours[h]) for h in top if hours[h]]
print(json.dumps(m, indent=1))'
