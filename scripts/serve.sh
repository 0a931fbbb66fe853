#!/usr/bin/env bash
# A local Rebound to develop a client against: Kafka, Redis, ingest, scoring
# and notify on free loopback ports, left running in the background, with one
# tenant and its bearer token.
#   scripts/serve.sh start   install what is missing, build, start; writes
#                            $REBOUND_STACK_DIR/pipeline.env (addresses, tenant,
#                            token) and prints it on stdout (the rest goes to
#                            stderr), so `eval "$(scripts/serve.sh start)"` works
#   scripts/serve.sh stop    stop the services and the stack
#   REBOUND_STACK_DIR        state, logs and pipeline.env (default .stack-serve)
#   REBOUND_TENANT           the tenant (default demo)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
export REBOUND_STACK_DIR="${REBOUND_STACK_DIR:-$ROOT/.stack-serve}"
RUN="$REBOUND_STACK_DIR/serve"
ENV_FILE="$REBOUND_STACK_DIR/pipeline.env"

stop() {
  if [[ -f "$RUN/pids" ]]; then
    local pids
    pids=$(cat "$RUN/pids")
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 1 100); do
      # shellcheck disable=SC2086
      kill -0 $pids 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$RUN/pids"
  fi
  "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true
  rm -f "$ENV_FILE"
}

start() {
  [[ ! -f "$RUN/pids" ]] || { echo "serve: already running ($ENV_FILE); scripts/serve.sh stop first" >&2; exit 1; }
  "$ROOT/deploy/local/stack.sh" install
  ensure_grpcurl
  build
  "$ROOT/deploy/local/stack.sh" clean >/dev/null 2>&1 || true
  local stack_env
  stack_env="$("$ROOT/deploy/local/stack.sh" start all)"
  eval "$stack_env"
  mkdir -p "$RUN"
  local tenant=${REBOUND_TENANT:-demo} token
  token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  local ingest scoring notify
  ingest=$(free_port) scoring=$(free_port) notify=$(free_port)
  local common=(--kafka-brokers="$REBOUND_KAFKA_BROKERS" --tenant-tokens="$tenant:$token"
                --metrics-listen=127.0.0.1:0)
  local pids=()
  setsid "$BUILD_DIR/services/ingest/rebound-ingest" "${common[@]}" --listen="127.0.0.1:$ingest" \
    >"$RUN/ingest.log" 2>&1 </dev/null &
  pids+=($!)
  setsid "$BUILD_DIR/services/scoring/rebound-scoring" "${common[@]}" --listen="127.0.0.1:$scoring" \
    --redis-addr="$REBOUND_REDIS_ADDR" --classifier-config="$ROOT/config/classifier.json" \
    --retry-policy="$ROOT/config/retry_policy.json" >"$RUN/scoring.log" 2>&1 </dev/null &
  pids+=($!)
  setsid "$BUILD_DIR/services/notify/rebound-notify" "${common[@]}" --listen="127.0.0.1:$notify" \
    --redis-addr="$REBOUND_REDIS_ADDR" --retry-policy="$ROOT/config/retry_policy.json" \
    >"$RUN/notify.log" 2>&1 </dev/null &
  pids+=($!)
  echo "${pids[*]}" >"$RUN/pids"
  local name port
  for name in ingest:$ingest scoring:$scoring notify:$notify; do
    port=${name#*:}
    wait_for_health "$port" 60 || {
      tail -n 5 "$RUN/${name%%:*}.log" >&2
      stop
      echo "serve: ${name%%:*} did not become healthy (log above)" >&2
      exit 1
    }
  done
  cat >"$ENV_FILE" <<EOF
export REBOUND_INGEST=127.0.0.1:$ingest
export REBOUND_SCORING=127.0.0.1:$scoring
export REBOUND_NOTIFY=127.0.0.1:$notify
export REBOUND_TENANT=$tenant
export REBOUND_TOKEN=$token
export REBOUND_KAFKA_BROKERS=$REBOUND_KAFKA_BROKERS
export REBOUND_REDIS_ADDR=$REBOUND_REDIS_ADDR
EOF
  say "Rebound is serving (logs in $RUN; stop with scripts/serve.sh stop)"
  cat "$ENV_FILE" >&2
}

case "${1:-}" in
  # Only the settings on stdout: nothing started keeps it open.
  start) start >&2 && cat "$ENV_FILE" ;;
  stop) stop ;;
  *) echo "usage: scripts/serve.sh start|stop" >&2; exit 2 ;;
esac
