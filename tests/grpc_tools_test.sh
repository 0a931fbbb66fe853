#!/usr/bin/env bash
# Reflection (v1 and v1alpha) and health as a gRPC client in another
# language sees them:
# grpcurl lists and describes the service, checks health, and publishes one
# event from JSON, all against the real rebound-ingest binary.
set -euo pipefail
INGEST_BIN=$1
: "${REBOUND_KAFKA_BROKERS:?REBOUND_KAFKA_BROKERS is not set: run the tests with scripts/test.sh}"
: "${GRPCURL:?GRPCURL is not set: run the tests with scripts/test.sh}"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
topic="it-grpcurl-$$"
log=$(mktemp)
"$INGEST_BIN" --listen="127.0.0.1:$port" --metrics-listen=127.0.0.1:0 --topic="$topic" --insecure-no-auth >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$log" >&2; exit 1; }

for _ in $(seq 1 100); do
  "$GRPCURL" -plaintext "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"' && break
  kill -0 $pid 2>/dev/null || fail "rebound-ingest exited"
  sleep 0.2
done
health=$("$GRPCURL" -plaintext -d '{"service":"rebound.v1.Ingest"}' "127.0.0.1:$port" grpc.health.v1.Health/Check)
grep -q '"SERVING"' <<<"$health" || fail "health: $health"

services=$("$GRPCURL" -plaintext "127.0.0.1:$port" list)
grep -qx 'rebound.v1.Ingest' <<<"$services" || fail "reflection does not list rebound.v1.Ingest: $services"
grep -qx 'grpc.health.v1.Health' <<<"$services" || fail "reflection does not list health: $services"
# grpcurl asks for reflection v1 first; only the v1 service lists itself
# (v1alpha's plugin knows nothing of it), so this line shows v1 answered.
grep -qx 'grpc.reflection.v1.ServerReflection' <<<"$services" || fail "reflection v1 is not served: $services"
desc=$("$GRPCURL" -plaintext "127.0.0.1:$port" describe rebound.v1.Ingest)
grep -q 'PublishStream' <<<"$desc" || fail "describe: $desc"

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event='{"eventId":"grpcurl-1","tenantId":"acme","occurredAt":"'$now'","senderId":"a","recipientId":"b","requestDeclined":{"requestId":"r1","kind":"DECLINE_KIND_IGNORED"}}'
bad='{"eventId":"grpcurl-2","tenantId":"acme","occurredAt":"'$now'","senderId":"a","recipientId":"b","requestDeclined":{"requestId":"r1"}}'
out=$("$GRPCURL" -plaintext -d '{"events":['"$event"','"$bad"']}' "127.0.0.1:$port" rebound.v1.Ingest/Publish)
grep -q '"published": 1' <<<"$out" || fail "publish: $out"
grep -q '"field": "request_declined.kind"' <<<"$out" || fail "rejection does not name the field: $out"
# A request refused as a whole: INVALID_ARGUMENT with a google.rpc.BadRequest
# field violation in its details, as grpcurl (its own decoder) prints them.
set +e
empty=$("$GRPCURL" -plaintext -d '{"events":[]}' "127.0.0.1:$port" rebound.v1.Ingest/Publish 2>&1)
set -e
grep -q 'InvalidArgument' <<<"$empty" || fail "empty batch: $empty"
grep -q '"@type": "type.googleapis.com/google.rpc.BadRequest"' <<<"$empty" || fail "no BadRequest details: $empty"
# grpcurl decodes the google.rpc.Status and its Any but has no BadRequest
# type compiled in: read the violation from its raw bytes (field_violations
# = 1 { field = 1, description = 2 }).
value=$(sed -n 's/.*"@value": "\(.*\)".*/\1/p' <<<"$empty")
violation=$(python3 - "$value" <<'PY'
import base64, sys
def fields(b):
    i, out = 0, []
    while i < len(b):
        tag = b[i]; i += 1
        assert tag & 7 == 2, "not length-delimited"
        n = 0; shift = 0
        while True:
            c = b[i]; i += 1; n |= (c & 0x7f) << shift; shift += 7
            if c < 0x80: break
        out.append((tag >> 3, b[i:i + n])); i += n
    return out
(num, fv), = fields(base64.b64decode(sys.argv[1]))
assert num == 1
d = dict(fields(fv))
print(d[1].decode() + "|" + d[2].decode())
PY
)
[[ "$violation" == "events|a batch needs at least 1 event" ]] || fail "BadRequest violation: '$violation' in $empty"

# The start-up log says how calls are authenticated (here: not at all).
grep -q '"msg":"authentication"' "$log" || fail "no authentication line in the start-up log"
grep '"msg":"authentication"' "$log" | grep -q '"mode":"none"' || fail "auth mode not logged as none"

# --grpc-reflection=false: health still answers, reflection is not served.
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log2=$(mktemp)
"$INGEST_BIN" --listen="127.0.0.1:$port2" --metrics-listen=127.0.0.1:0 --topic="$topic" --insecure-no-auth \
  --grpc-reflection=false >"$log2" 2>&1 &
pid2=$!
trap 'kill -TERM $pid $pid2 2>/dev/null; wait $pid $pid2 2>/dev/null; rm -f "$log" "$log2"' EXIT
for _ in $(seq 1 100); do
  "$GRPCURL" -plaintext "127.0.0.1:$port2" grpc.health.v1.Health/Check 2>/dev/null | grep -q '"SERVING"' && break
  kill -0 $pid2 2>/dev/null || { cat "$log2" >&2; fail "rebound-ingest --grpc-reflection=false exited"; }
  sleep 0.2
done
if listed=$("$GRPCURL" -plaintext "127.0.0.1:$port2" list 2>&1); then
  fail "reflection still served with --grpc-reflection=false: $listed"
fi
grep -qi "does not support the reflection API\|Unimplemented" <<<"$listed" ||
  fail "unexpected answer without reflection: $listed"
echo "grpcurl round trip ok"
