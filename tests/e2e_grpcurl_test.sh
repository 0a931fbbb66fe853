#!/usr/bin/env bash
# A client in another language (grpcurl, Go) completes one publish -> watch
# round trip against the three real binaries, through the protos only
# (server reflection), with a bearer token.
set -euo pipefail
BIN_DIR=$1
SRC_DIR=$2
: "${REBOUND_KAFKA_BROKERS:?REBOUND_KAFKA_BROKERS is not set: run the tests with scripts/test.sh}"
: "${REBOUND_REDIS_ADDR:?REBOUND_REDIS_ADDR is not set: run the tests with scripts/test.sh}"
: "${GRPCURL:?GRPCURL is not set: run the tests with scripts/test.sh}"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run=e2e-grpcurl-$$-$RANDOM
tenant=$run
token=secret-$RANDOM-token
ingest_port=$(port); scoring_port=$(port); notify_port=$(port)
logs=$(mktemp -d)
common=(--kafka-brokers="$REBOUND_KAFKA_BROKERS" --topic-partitions=2
        --tenant-tokens="$tenant:$token" --metrics-listen=127.0.0.1:0)
# The events topic: ingest writes it, scoring reads it (notify reads only the
# verdicts topic).
"$BIN_DIR/services/ingest/rebound-ingest" "${common[@]}" --topic="$run-events" \
  --listen="127.0.0.1:$ingest_port" >"$logs/ingest" 2>&1 &
pids=($!)
"$BIN_DIR/services/scoring/rebound-scoring" "${common[@]}" --topic="$run-events" --listen="127.0.0.1:$scoring_port" \
  --redis-addr="$REBOUND_REDIS_ADDR" --group-id="$run-scoring" --verdicts-topic="$run-verdicts" \
  --dead-letter-topic="$run-dlq" --classifier-config="$SRC_DIR/config/classifier.json" \
  --retry-policy="$SRC_DIR/config/retry_policy.json" >"$logs/scoring" 2>&1 &
pids+=($!)
"$BIN_DIR/services/notify/rebound-notify" "${common[@]}" --listen="127.0.0.1:$notify_port" \
  --redis-addr="$REBOUND_REDIS_ADDR" --group-id="$run-notify" --verdicts-topic="$run-verdicts" \
  --retry-policy="$SRC_DIR/config/retry_policy.json" >"$logs/notify" 2>&1 &
pids+=($!)
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 5 "$logs"/* >&2; exit 1; }

for p in $ingest_port $scoring_port $notify_port; do
  for _ in $(seq 1 150); do
    "$GRPCURL" -plaintext "127.0.0.1:$p" grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"' && break
    sleep 0.2
  done
  "$GRPCURL" -plaintext "127.0.0.1:$p" grpc.health.v1.Health/Check | grep -q '"SERVING"' || fail "port $p not serving"
done

sent=$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)
expired=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
profile='{"hasPhoto":true,"connectionCount":"400","completeness":0.9,"accountAgeDays":900,"industry":"software","company":"Contoso","headline":"Engineer"}'
body='{"events":[
 {"eventId":"g-1","tenantId":"'$tenant'","occurredAt":"'$sent'","senderId":"ana","recipientId":"ben","requestSent":{"requestId":"q1","senderProfile":'$profile',"recipientProfile":'$profile'}},
 {"eventId":"g-2","tenantId":"'$tenant'","occurredAt":"'$expired'","senderId":"ana","recipientId":"ben","requestExpired":{"requestId":"q1"}}]}'
# validate_only first (grpcurl and reboundctl): checked, answered, not published, not
# remembered (the real publish below still publishes both).
bad='{"eventId":"g-bad","tenantId":"'$tenant'","occurredAt":"'$sent'","senderId":"","recipientId":"ben","requestAccepted":{"requestId":"q1"}}'
check=$("$GRPCURL" -plaintext -H "authorization: Bearer $token" \
  -d '{"validate_only":true,'"${body#\{}" "127.0.0.1:$ingest_port" rebound.v1.Ingest/Publish)
grep -q '"valid": 2' <<<"$check" || fail "validate_only: $check"
grep -q '"published"' <<<"$check" && fail "validate_only published: $check"
python3 - "$body" "$bad" >"$logs/events.jsonl" <<'PY'
import json, sys
for e in json.loads(sys.argv[1])["events"] + [json.loads(sys.argv[2])]:
    print(json.dumps(e))
PY
ctl=$("$BIN_DIR/tools/reboundctl" publish "$logs/events.jsonl" --validate-only --token="$token" \
  --ingest-target="127.0.0.1:$ingest_port" 2>/dev/null || true)
grep -q 'valid=2 rejected=1' <<<"$ctl" || fail "reboundctl --validate-only: $ctl"
grep -q 'g-bad: sender_id is required' <<<"$ctl" || fail "reboundctl --validate-only: $ctl"
# A token read from a file with its newline: named, exit 2 (gRPC would abort).
rc=0
ctl=$("$BIN_DIR/tools/reboundctl" publish "$logs/events.jsonl" --token="$token"$'\n' \
  --ingest-target="127.0.0.1:$ingest_port" 2>&1) || rc=$?
[[ $rc == 2 ]] && grep -q "setting 'token'" <<<"$ctl" || fail "reboundctl, token with a newline (rc $rc): $ctl"

out=$("$GRPCURL" -plaintext -H "authorization: Bearer $token" -d "$body" "127.0.0.1:$ingest_port" rebound.v1.Ingest/Publish)
grep -q '"published": 2' <<<"$out" || fail "publish: $out"

watch=$("$GRPCURL" -plaintext -H "authorization: Bearer $token" -max-time 12 \
  -d '{"tenant_id":"'$tenant'","from_beginning":true}' "127.0.0.1:$notify_port" \
  rebound.v1.Notify/WatchSuggestions 2>&1 | head -c 20000 || true)
grep -q '"suggestion_id": "g-2"' <<<"$watch" || fail "no suggestion for the expiry on the watch stream: $watch"
grep -q '"reason": "DECLINE_REASON_NOT_SEEN"' <<<"$watch" || fail "unexpected reason: $watch"
grep -q '"resume_token"' <<<"$watch" || fail "no resume token: $watch"

# A watch from now with a start marker: its first line is only the token of
# where it starts (nothing new comes after the updates above).
marker=$(timeout 20 "$BIN_DIR/tools/reboundctl" watch --tenant="$tenant" --start-marker \
  --max-updates=1 --token="$token" --notify-target="127.0.0.1:$notify_port")
grep -q '^{"resumeToken":"[1-9][0-9]*-[0-9]*"}$' <<<"$marker" || fail "reboundctl watch --start-marker: $marker"

listed=$("$BIN_DIR/tools/reboundctl" list --tenant="$tenant" --member=ana --token="$token" \
  --notify-target="127.0.0.1:$notify_port")
grep -q '"suggestionId":"g-2"' <<<"$listed" || fail "reboundctl list: $listed"

# Assess a draft before sending (scoring): ana invited ben 3 days ago, so the
# fixes say wait for the cool-down; the sender profile comes from the file.
draft='{"tenant_id":"'$tenant'","sender_id":"ana","recipient_id":"ben","request":{"note":"Quick call about our platform?","sender_profile":'$profile',"recipient_profile":'$profile'}}'
assessed=$("$GRPCURL" -plaintext -H "authorization: Bearer $token" -d "$draft" \
  "127.0.0.1:$scoring_port" rebound.v1.Scoring/AssessDraft)
grep -q '"acceptance_probability"' <<<"$assessed" || fail "AssessDraft: $assessed"
grep -q '"ACTION_KIND_WAIT_COOL_DOWN"' <<<"$assessed" || fail "AssessDraft gave no cool-down: $assessed"
grep -q '"ACTION_KIND_DROP_PITCH"' <<<"$assessed" || fail "AssessDraft kept the pitch: $assessed"
printf '%s\n' "$draft" >"$logs/draft.json"
ctl=$("$BIN_DIR/tools/reboundctl" assess "$logs/draft.json" --token="$token" \
  --scoring-target="127.0.0.1:$scoring_port")
grep -q '"sentLast7Days":"1"' <<<"$ctl" || fail "reboundctl assess: $ctl"
grep -q '"ACTION_KIND_WAIT_COOL_DOWN"' <<<"$ctl" || fail "reboundctl assess: $ctl"
printf '%s\n' "${draft/\"sender_id\":\"ana\"/\"sender_id\":\"\"}" >"$logs/bad-draft.json"
bad_draft=$("$BIN_DIR/tools/reboundctl" assess "$logs/bad-draft.json" --token="$token" \
  --scoring-target="127.0.0.1:$scoring_port" 2>&1 || true)
grep -q 'sender_id: is required' <<<"$bad_draft" || fail "reboundctl assess of a bad draft: $bad_draft"

denied=$("$GRPCURL" -plaintext -H "authorization: Bearer wrong-token-x" \
  -d '{"tenant_id":"'$tenant'","member_id":"ana"}' "127.0.0.1:$notify_port" \
  rebound.v1.Notify/ListSuggestions 2>&1 || true)
grep -q 'Unauthenticated' <<<"$denied" || fail "a wrong token was not refused: $denied"
echo "grpcurl publish -> watch round trip ok"
