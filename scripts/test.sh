#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, starts a private Kafka and
# Redis on free loopback ports (state in .stack-test/), runs CTest, stops them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

"$ROOT/deploy/local/stack.sh" install
ensure_grpcurl
ensure_toxiproxy
ensure_buf
ensure_protoc_gen_doc
build
# The teardown test again, under AddressSanitizer: its own tree, only what
# that test needs, at -O1 with line tables only (ASan's usual level; half the
# compile time of -O2 -g, same file:line in its reports).
ASAN_DIR="${REBOUND_ASAN_BUILD_DIR:-$ROOT/build-asan}"
say "build under AddressSanitizer ($ASAN_DIR, scoring_teardown_test)"
cmake -S "$ROOT" -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DREBOUND_SANITIZE=address >/dev/null
cmake --build "$ASAN_DIR" -j "$(nproc)" --target scoring_teardown_test

export REBOUND_STACK_DIR="$ROOT/.stack-test"
CLUSTER_DIR="$REBOUND_STACK_DIR/redis-cluster"
trap '"$ROOT/deploy/local/redis_cluster.sh" stop "$CLUSTER_DIR" >/dev/null 2>&1 || true; "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true' EXIT
"$ROOT/deploy/local/redis_cluster.sh" stop "$CLUSTER_DIR" >/dev/null 2>&1 || true
"$ROOT/deploy/local/stack.sh" clean >/dev/null 2>&1 || true
say "starting Kafka, Redis and a Redis Cluster for the tests"
# Captured first: `eval "$(cmd)"` would hide a failed start from set -e.
stack_env="$("$ROOT/deploy/local/stack.sh" start all)"
eval "$stack_env"
cluster_env="$("$ROOT/deploy/local/redis_cluster.sh" start "$CLUSTER_DIR")"
eval "$cluster_env"
echo "REBOUND_KAFKA_BROKERS=$REBOUND_KAFKA_BROKERS REBOUND_REDIS_ADDR=$REBOUND_REDIS_ADDR"
echo "REBOUND_REDIS_CLUSTER_ADDR=$REBOUND_REDIS_CLUSTER_ADDR"

say "ctest"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900 "$@"

say "scoring destroyed with verdicts in flight, under AddressSanitizer"
"$ASAN_DIR/tests/scoring_teardown_test"
