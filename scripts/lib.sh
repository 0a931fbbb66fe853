# Shared by scripts/run.sh and scripts/test.sh.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${REBOUND_BUILD_DIR:-$ROOT/build}"
CACHE_DIR="${REBOUND_CACHE_DIR:-${HOME:-/root}/.cache/rebound}"
GRPCURL_VERSION=v1.9.1
TOXIPROXY_VERSION=v2.12.0

say() { printf '\n== %s\n' "$*" >&2; }

build() {
  say "build ($BUILD_DIR)"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

# grpcurl (from the Go module proxy) for the reflection/health checks.
ensure_grpcurl() {
  GRPCURL="$CACHE_DIR/bin/grpcurl"
  if [[ ! -x "$GRPCURL" ]]; then
    command -v go >/dev/null || { echo "go is needed to install grpcurl" >&2; return 1; }
    say "installing grpcurl $GRPCURL_VERSION"
    GOBIN="$CACHE_DIR/bin" GOFLAGS=-mod=mod go install \
      "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  fi
  export GRPCURL
}

# toxiproxy-server (from the Go module proxy) for the network fault tests.
ensure_toxiproxy() {
  REBOUND_TOXIPROXY="$CACHE_DIR/bin/toxiproxy-server-$TOXIPROXY_VERSION"
  if [[ ! -x "$REBOUND_TOXIPROXY" ]]; then
    command -v go >/dev/null || { echo "go is needed to install toxiproxy" >&2; return 1; }
    say "installing toxiproxy $TOXIPROXY_VERSION"
    local gobin
    gobin="$(mktemp -d)"
    # The module's server command builds as `server`.
    GOBIN="$gobin" GOFLAGS=-mod=mod go install \
      "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
    mkdir -p "$CACHE_DIR/bin"
    mv -f "$gobin/server" "$REBOUND_TOXIPROXY"
    rm -rf "$gobin"
  fi
  export REBOUND_TOXIPROXY
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_health PORT SECONDS: until the ingest gRPC health check says SERVING.
wait_for_health() {
  local port=$1 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if "$GRPCURL" -plaintext "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null |
      grep -q '"SERVING"'; then
      return 0
    fi
    sleep 0.3
  done
  return 1
}
