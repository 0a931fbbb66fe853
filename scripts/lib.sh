# Shared by scripts/run.sh and scripts/test.sh.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${REBOUND_BUILD_DIR:-$ROOT/build}"
CACHE_DIR="${REBOUND_CACHE_DIR:-${HOME:-/root}/.cache/rebound}"
GRPCURL_VERSION=v1.9.1
TOXIPROXY_VERSION=v2.12.0
BUF_VERSION=v1.75.0
PROTOC_GEN_DOC_VERSION=v1.5.1

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

# A Go tool at a pinned version, installed once into $CACHE_DIR/bin as
# NAME-VERSION: go_tool VAR NAME MODULE_PATH VERSION.
go_tool() {
  local var=$1 name=$2 path=$3 version=$4 bin
  bin="$CACHE_DIR/bin/$name-$version"
  if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || { echo "go is needed to install $name" >&2; return 1; }
    say "installing $name $version"
    local gobin
    gobin="$(mktemp -d)"
    GOBIN="$gobin" GOFLAGS=-mod=mod go install "$path@$version"
    mkdir -p "$CACHE_DIR/bin"
    mv -f "$gobin/$name" "$bin"
    rm -rf "$gobin"
  fi
  printf -v "$var" '%s' "$bin"
  export "${var?}"
}

# buf (lint and breaking-change checks of proto/) and protoc-gen-doc (the
# API reference, docs/api.md), from the Go module proxy.
ensure_buf() { go_tool REBOUND_BUF buf github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"; }
ensure_protoc_gen_doc() {
  go_tool REBOUND_PROTOC_GEN_DOC protoc-gen-doc \
    github.com/pseudomuto/protoc-gen-doc/cmd/protoc-gen-doc "$PROTOC_GEN_DOC_VERSION"
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
