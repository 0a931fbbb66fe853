#!/usr/bin/env bash
# The service images against a real Kafka and Redis (deploy/local/stack.sh,
# state in .stack-images/): ingest, scoring and notify run from
# rebound/<service>:TAG with podman (host network, loopback ports), a
# simulated stream goes through them with rebound-e2e, which fails unless
# every decline got its suggestion on the watch stream; then each container
# gets SIGTERM and must drain and exit 0.
#
#   deploy/containers/smoke.sh [TAG]      (default: latest; build first
#                                          with deploy/containers/build-images.sh)
#
# REBOUND_SMOKE_DEPS=images runs Kafka and Redis from the dev images
# (rebound/dev-kafka, rebound/dev-redis) instead of deploy/local/stack.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
TAG="${1:-latest}"
REQUESTS="${REBOUND_REQUESTS:-1500}"
export CONTAINERS_CONF="$ROOT/deploy/containers/containers.conf"
export REBOUND_STACK_DIR="$ROOT/.stack-images"
RUN="$REBOUND_STACK_DIR/run"
ensure_grpcurl
for svc in ingest scoring notify; do
  podman image exists "rebound/$svc:$TAG" ||
    { echo "no image rebound/$svc:$TAG; run deploy/containers/build-images.sh" >&2; exit 1; }
done
[[ -x "$BUILD_DIR/tools/rebound-e2e" ]] || build

DEPS="${REBOUND_SMOKE_DEPS:-stack}"
cleanup() {
  for svc in ingest scoring notify kafka redis; do
    podman rm -f "rebound-smoke-$svc" >/dev/null 2>&1 || true
  done
  [[ "$DEPS" == images ]] || "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true
}
trap cleanup EXIT
if [[ "$DEPS" == images ]]; then
  kport=$(free_port); cport=$(free_port); rport=$(free_port)
  say "Kafka (rebound/dev-kafka:$TAG) on :$kport, Redis (rebound/dev-redis:$TAG) on :$rport"
  podman run -d --name rebound-smoke-kafka --runtime runc --network host \
    -e KAFKA_PORT="$kport" -e KAFKA_CONTROLLER_PORT="$cport" \
    -e KAFKA_ADVERTISED_HOST=127.0.0.1 "rebound/dev-kafka:$TAG" >/dev/null
  podman run -d --name rebound-smoke-redis --runtime runc --network host \
    "rebound/dev-redis:$TAG" --bind 127.0.0.1 --port "$rport" >/dev/null
  export REBOUND_KAFKA_BROKERS="127.0.0.1:$kport" REBOUND_REDIS_ADDR="127.0.0.1:$rport"
  for _ in $(seq 120); do
    kcat -b "$REBOUND_KAFKA_BROKERS" -L -m 2 >/dev/null 2>&1 && break
    sleep 1
  done
  kcat -b "$REBOUND_KAFKA_BROKERS" -L -m 5 >/dev/null ||
    { podman logs rebound-smoke-kafka | tail -20; echo "dev Kafka never answered" >&2; exit 1; }
  redis-cli -p "$rport" ping | grep -q PONG ||
    { podman logs rebound-smoke-redis | tail -20; echo "dev Redis never answered" >&2; exit 1; }
else
  "$ROOT/deploy/local/stack.sh" clean >/dev/null 2>&1 || true
  eval "$("$ROOT/deploy/local/stack.sh" start all)"
fi
mkdir -p "$RUN"

declare -A PORT
for svc in ingest scoring notify; do PORT[$svc]=$(free_port); done
common=(--runtime runc --network host --read-only)
say "starting the images (tag $TAG): ingest :${PORT[ingest]}, scoring :${PORT[scoring]}, notify :${PORT[notify]}"
podman run -d --name rebound-smoke-ingest "${common[@]}" "rebound/ingest:$TAG" \
  --kafka-brokers="$REBOUND_KAFKA_BROKERS" --listen="127.0.0.1:${PORT[ingest]}" --insecure-no-auth \
  --metrics-listen="127.0.0.1:$(free_port)" >/dev/null
for svc in scoring notify; do
  podman run -d --name "rebound-smoke-$svc" "${common[@]}" "rebound/$svc:$TAG" \
    --kafka-brokers="$REBOUND_KAFKA_BROKERS" --redis-addr="$REBOUND_REDIS_ADDR" \
    --listen="127.0.0.1:${PORT[$svc]}" --metrics-listen="127.0.0.1:$(free_port)" \
    --insecure-no-auth >/dev/null
done
for svc in ingest scoring notify; do
  wait_for_health "${PORT[$svc]}" 90 ||
    { podman logs "rebound-smoke-$svc" | tail -20; echo "$svc never SERVING" >&2; exit 1; }
done

say "simulating $REQUESTS requests; publishing through the images"
"$BUILD_DIR/tools/rebound-sim" --seed=7 --tenants=2 --requests="$REQUESTS" \
  --out="$RUN/events.jsonl" --truth="$RUN/truth.jsonl"
"$BUILD_DIR/tools/rebound-e2e" --ingest-target="127.0.0.1:${PORT[ingest]}" \
  --notify-target="127.0.0.1:${PORT[notify]}" --file="$RUN/events.jsonl" --show=3 \
  --rate=1000 --timeout-seconds=120

say "SIGTERM: each container drains and exits 0"
failed=0
for svc in ingest scoring notify; do
  podman stop -t 30 "rebound-smoke-$svc" >/dev/null
  code="$(podman inspect --format '{{.State.ExitCode}}' "rebound-smoke-$svc")"
  echo "$svc: exit $code"
  [[ "$code" == 0 ]] || { podman logs "rebound-smoke-$svc" | tail -5; failed=1; }
done
exit "$failed"
