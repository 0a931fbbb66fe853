#!/usr/bin/env bash
# Every unit and integration test built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc; any UB is fatal) and run against a private
# Kafka and Redis, as scripts/test.sh runs the normal build. Too long for CI
# beside the normal build (a second full build on 2 cores); its last result
# is in the issue notes. Extra arguments go to ctest (e.g. -R e2e).
#   scripts/sanitize.sh [CTEST_ARGS...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

"$ROOT/deploy/local/stack.sh" install
ensure_grpcurl
ensure_toxiproxy
DIR="${REBOUND_SANITIZE_BUILD_DIR:-$ROOT/build-sanitize}"
say "build under ASan + UBSan ($DIR)"
cmake -S "$ROOT" -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DREBOUND_SANITIZE=address,undefined >/dev/null
cmake --build "$DIR" -j "$(nproc)"

export REBOUND_STACK_DIR="$ROOT/.stack-sanitize"
CLUSTER_DIR="$REBOUND_STACK_DIR/redis-cluster"
trap '"$ROOT/deploy/local/redis_cluster.sh" stop "$CLUSTER_DIR" >/dev/null 2>&1 || true; "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true' EXIT
"$ROOT/deploy/local/stack.sh" clean >/dev/null 2>&1 || true
say "starting Kafka, Redis and a Redis Cluster for the tests"
# Captured first: `eval "$(cmd)"` would hide a failed start from set -e.
stack_env="$("$ROOT/deploy/local/stack.sh" start all)"
eval "$stack_env"
cluster_env="$("$ROOT/deploy/local/redis_cluster.sh" start "$CLUSTER_DIR")"
eval "$cluster_env"

# Leaks: gRPC and protobuf keep process-lifetime singletons that LSan
# reports at exit; those are not Rebound's. Everything else is fatal.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
say "ctest under ASan + UBSan"
ctest --test-dir "$DIR" --output-on-failure --timeout 1800 "$@"
