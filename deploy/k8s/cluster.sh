#!/usr/bin/env bash
# A real one-node Kubernetes on loopback, for the dev overlay and its test.
#
#   deploy/k8s/cluster.sh build           build the binaries once (cached)
#   deploy/k8s/cluster.sh cached          exit 0 when they are built
#   deploy/k8s/cluster.sh up              start etcd, kube-apiserver,
#                                         controller-manager, scheduler,
#                                         containerd, kubelet and cluster DNS
#   deploy/k8s/cluster.sh load IMAGE...   copy podman images into the node
#   deploy/k8s/cluster.sh ctr ARGS...     ctr on the node's containerd (k8s.io)
#   deploy/k8s/cluster.sh env             print KUBECONFIG and PATH (kubectl)
#                                         for eval
#   deploy/k8s/cluster.sh down            stop everything and clean up: pods,
#                                         shims, mounts, network namespaces,
#                                         the bridge
#
# Everything is built from the Go module proxy, pinned below: etcd, the
# Kubernetes components and kubectl of one version (a wrapper module that
# requires k8s.io/kubernetes with its staging modules pinned to the published
# versions), and CoreDNS. Binaries are cached in
# $REBOUND_CACHE_DIR/k8s-<version>/bin (default ~/.cache/rebound); a cold
# build takes ~15-25 min on 2 cores. Debian's containerd, runc and CNI
# plugins run the pods (installed with apt when missing).
#
# Addresses: the control plane listens on 127.0.0.1 only (free ports, chosen
# at `up`). Pods get addresses from 10.244.0.0/24 on a bridge this script
# creates (rb-cni0); those live only in the network namespaces containerd
# creates for the pods and on that bridge. There is no kube-proxy, so a
# Service's ClusterIP does not route: in-cluster clients use headless
# Services (the cluster DNS answers their pod addresses) and the host reaches
# pods with `kubectl port-forward`. The bridge CNI plugin enforces no
# NetworkPolicy.
#
# State lives in $REBOUND_CLUSTER_DIR (default <repo>/.cluster), removed by
# `down`. Needs root (containerd, network namespaces).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
COREDNS_VERSION=v1.14.7
CACHE="${REBOUND_CACHE_DIR:-${HOME:-/root}/.cache/rebound}"
K="$CACHE/k8s-$K8S_VERSION"
BIN="$K/bin"
RUN="${REBOUND_CLUSTER_DIR:-$ROOT/.cluster}"
MARKER=.rebound-cluster-up
NODE="$RUN/node"
BRIDGE=rb-cni0
POD_CIDR=10.244.0.0/24
DNS_IP=10.244.0.1 # the bridge's own address: the pods' gateway and DNS
SERVICE_CIDR=10.96.0.0/24
export PATH="$BIN:/usr/local/go/bin:$PATH" KUBECONFIG="$RUN/kubeconfig"

say() { printf '[cluster] %s\n' "$*" >&2; }
die() {
  printf '[cluster] %s\n' "$*" >&2
  exit 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

build_tool() { # NAME MODULE VERSION: the module's main package, in a wrapper module
  local name=$1 module=$2 version=$3
  [ -x "$BIN/$name" ] && return 0
  say "building $name $version"
  mkdir -p "$K/src/$name"
  cd "$K/src/$name"
  rm -f go.mod go.sum
  go mod init "rebound.local/$name" >/dev/null 2>&1
  go get -tool "$module@$version"
  go build -p "${REBOUND_BUILD_JOBS:-$(nproc)}" -trimpath -ldflags="-s -w" -o "$BIN/$name.tmp" "$module"
  mv "$BIN/$name.tmp" "$BIN/$name"
}

build() {
  command -v go >/dev/null || die "go is needed to build Kubernetes (see scripts/lib.sh)"
  mkdir -p "$BIN"
  export GOFLAGS=-mod=mod GOTOOLCHAIN=local
  local jobs=${REBOUND_BUILD_JOBS:-$(nproc)}
  local missing=()
  for c in "${COMPONENTS[@]}"; do [ -x "$BIN/$c" ] || missing+=("$c"); done
  if [ ${#missing[@]} -gt 0 ]; then
    # A wrapper module: k8s.io/kubernetes points its staging modules at
    # ./staging, which a module download does not have; pin each one to its
    # published version (v0.X.Y for v1.X.Y).
    local src="$K/src/kubernetes"
    mkdir -p "$src"
    cd "$src"
    rm -f go.mod go.sum
    go mod init rebound.local/k8sbins >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
    go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
    local modfile
    modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
    for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$modfile"); do
      go mod edit -replace="$m=$m@v0${K8S_VERSION#v1}"
    done
    {
      printf '//go:build tools\n\npackage tools\n\nimport (\n'
      for c in "${COMPONENTS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
      printf ')\n'
    } >tools.go
    go mod tidy
    local minor
    minor=$(echo "$K8S_VERSION" | cut -d. -f2)
    local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
    ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
    ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
    ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
    for c in "${missing[@]}"; do
      say "building $c $K8S_VERSION"
      go build -p "$jobs" -trimpath -ldflags="$ldflags" -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
      mv "$BIN/$c.tmp" "$BIN/$c"
    done
  fi
  # Each in its own module: etcd's gRPC and OpenTelemetry versions differ
  # from Kubernetes' (and `go install` refuses etcd: replace directives).
  build_tool etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  build_tool coredns github.com/coredns/coredns "$COREDNS_VERSION"
  say "binaries in $BIN:"
  ls -la "$BIN" >&2
}

# ---- up -------------------------------------------------------------------

ctr_() { ctr -a "$NODE/containerd.sock" -n k8s.io "$@"; }

start() { # NAME LOGFILE CMD...: runs CMD in the background, pid in $RUN/NAME.pid
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

wait_for() { # WHAT SECONDS CMD...: until CMD succeeds; on timeout, dies
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what did not come up within ${deadline}s (logs: $RUN/logs)"
    sleep 1
  done
}

ensure_packages() {
  local need=()
  command -v containerd >/dev/null || need+=(containerd)
  command -v runc >/dev/null || need+=(runc)
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  command -v openssl >/dev/null || need+=(openssl)
  command -v gcc >/dev/null || need+=(gcc libc6-dev)
  command -v podman >/dev/null || need+=(podman)
  command -v ip >/dev/null || need+=(iproute2)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# The sandbox image: a static pause binary in an otherwise empty image.
pause_image() {
  export CONTAINERS_CONF="$ROOT/deploy/containers/containers.conf"
  if ! podman image exists "$PAUSE_IMAGE"; then
    local dir="$RUN/pause-build"
    mkdir -p "$dir"
    gcc -static -Os -Wall -Wextra -o "$dir/pause" "$ROOT/deploy/k8s/pause/pause.c"
    cp "$ROOT/deploy/k8s/pause/Containerfile" "$dir/"
    podman build --runtime runc -q -t "$PAUSE_IMAGE" "$dir" >/dev/null
  fi
}
PAUSE_IMAGE=localhost/rebound/pause:1

load() { # IMAGE...: podman images into the node's containerd
  export CONTAINERS_CONF="$ROOT/deploy/containers/containers.conf"
  [ -S "$NODE/containerd.sock" ] || die "the cluster is not up (run: $0 up)"
  local tar="$RUN/image.tar"
  for image in "$@"; do
    podman image exists "$image" || die "no podman image $image (deploy/containers/build-images.sh builds them)"
    rm -f "$tar"
    podman save -q --format oci-archive -o "$tar" "$image" >/dev/null
    ctr_ images import "$tar" >/dev/null
    say "loaded $image"
  done
  rm -f "$tar"
}

cached() {
  for c in etcd coredns "${COMPONENTS[@]}"; do [ -x "$BIN/$c" ] || return 1; done
}

# A bridge left by a cluster that was killed before its `down` (a CI job
# timed out, a machine snapshot taken mid-run) still has the old pods'
# network namespaces attached, with addresses host-local hands out again:
# a new pod given 10.244.0.5 shares it with a dead one, the kubelet's probes
# reach the dead one and are refused, and the pod is never Ready. Seen in a
# CI run: Kafka and Redis "Running" 5 minutes, never Ready. Only one cluster
# of this script can run on a host (one bridge name, one pod range), so with
# no kubelet running the bridge and every namespace attached to it are
# leftovers: remove them.
clear_stale_network() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
  local live
  live=$(pgrep -x kubelet | head -1 || true)
  [ -z "$live" ] || die "bridge $BRIDGE is in use (kubelet pid $live runs); take that cluster down first"
  local ns n=0
  for ns in $(ip -o link show master "$BRIDGE" 2>/dev/null |
    sed -n 's/.* link-netns \([^ ]*\).*/\1/p' | sort -u); do
    case "$ns" in cni-*) ip netns delete "$ns" 2>/dev/null && n=$((n + 1)) ;; esac
  done
  ip link del "$BRIDGE"
  say "removed a stale $BRIDGE and $n pod network namespace(s) a killed cluster left"
}

up() {
  if ! cached; then build; fi
  ensure_packages
  [ ! -f "$RUN/$MARKER" ] || die "already up ($RUN); run: $0 down"
  if [ -d "$RUN" ] && [ -n "$(find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs -print -quit)" ]; then
    die "$RUN holds files of something else; set REBOUND_CLUSTER_DIR to an empty directory"
  fi
  mkdir -p "$RUN/logs" "$NODE/net.d" "$NODE/ipam" "$RUN/pki"
  # What `down` may remove is only what this `up` made: the marker says the
  # directory is ours.
  date -u +%FT%TZ >"$RUN/$MARKER"
  local L="$RUN/logs"
  # Network namespaces that exist before: `down` removes only newer ones.
  ip netns list 2>/dev/null | awk '{print $1}' >"$RUN/netns.before"
  local etcd_port etcd_peer api_port kcm_port sched_port kubelet_port healthz_port
  etcd_port=$(free_port)
  etcd_peer=$(free_port)
  api_port=$(free_port)
  kcm_port=$(free_port)
  sched_port=$(free_port)
  kubelet_port=$(free_port)
  healthz_port=$(free_port)

  # Control plane keys: service accounts, an admin token.
  openssl genrsa -out "$RUN/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$RUN/pki/sa.key" -pubout -out "$RUN/pki/sa.pub" 2>/dev/null
  local token
  token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  echo "$token,rebound-admin,rebound-admin,system:masters" >"$RUN/pki/tokens.csv"
  chmod 600 "$RUN/pki/tokens.csv" "$RUN/pki/sa.key"

  say "etcd $ETCD_VERSION on 127.0.0.1:$etcd_port"
  start etcd "$L/etcd.log" "$BIN/etcd" --name rebound --data-dir "$RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "rebound=http://127.0.0.1:$etcd_peer" \
    --log-level warn
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$etcd_port/health"

  say "kube-apiserver $K8S_VERSION on 127.0.0.1:$api_port"
  start apiserver "$L/apiserver.log" "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$api_port" --cert-dir="$RUN/pki/apiserver" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$RUN/pki/sa.pub" \
    --service-account-signing-key-file="$RUN/pki/sa.key" \
    --token-auth-file="$RUN/pki/tokens.csv" --authorization-mode=RBAC \
    --disable-admission-plugins=ServiceAccount \
    --kubelet-preferred-address-types=Hostname
  kubectl config set-cluster rebound --server="https://127.0.0.1:$api_port" \
    --insecure-skip-tls-verify=true >/dev/null
  kubectl config set-credentials rebound-admin --token="$token" >/dev/null
  kubectl config set-context rebound --cluster=rebound --user=rebound-admin >/dev/null
  kubectl config use-context rebound >/dev/null
  chmod 600 "$KUBECONFIG"
  wait_for kube-apiserver 120 kubectl get --raw /readyz

  # Pods' network: a bridge whose own address is their gateway and DNS.
  say "pod network $POD_CIDR on bridge $BRIDGE (DNS $DNS_IP)"
  clear_stale_network
  ip link add "$BRIDGE" type bridge
  touch "$RUN/bridge.created"
  ip addr replace "$DNS_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  cat >"$NODE/net.d/10-rebound.conflist" <<EOT
{"cniVersion": "0.4.0", "name": "rebound", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
   "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$NODE/ipam",
            "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$DNS_IP"}]]}}]}
EOT

  # containerd: its own root, state and socket; no registry is ever pulled
  # from (images are loaded, the sandbox image is local).
  pause_image
  cat >"$NODE/containerd.toml" <<EOT
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
[grpc]
  address = "$NODE/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails
  # ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE/net.d"
EOT
  say "containerd $(containerd --version | awk '{print $3}')"
  start containerd "$L/containerd.log" containerd --config "$NODE/containerd.toml"
  wait_for containerd 30 ctr_ version
  load "$PAUSE_IMAGE"

  say "kube-controller-manager, kube-scheduler"
  start kcm "$L/controller-manager.log" "$BIN/kube-controller-manager" \
    --kubeconfig="$KUBECONFIG" --bind-address=127.0.0.1 --secure-port="$kcm_port" \
    --leader-elect=false --service-cluster-ip-range="$SERVICE_CIDR" \
    --controllers='*,-serviceaccount-token-controller,-nodeipam'
  start scheduler "$L/scheduler.log" "$BIN/kube-scheduler" \
    --kubeconfig="$KUBECONFIG" --bind-address=127.0.0.1 --secure-port="$sched_port" \
    --leader-elect=false

  echo "" >"$NODE/resolv.conf"
  cat >"$NODE/kubelet.yaml" <<EOT
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $kubelet_port
healthzBindAddress: 127.0.0.1
healthzPort: $healthz_port
readOnlyPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$NODE/containerd.sock
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $NODE/resolv.conf
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOT
  say "kubelet (node localhost)"
  start kubelet "$L/kubelet.log" "$BIN/kubelet" --config="$NODE/kubelet.yaml" \
    --kubeconfig="$KUBECONFIG" --hostname-override=localhost --node-ip="$DNS_IP" \
    --root-dir="$NODE/kubelet" --cert-dir="$NODE/kubelet-pki"

  # Cluster DNS for headless Services, on the bridge address.
  cat >"$RUN/Corefile" <<EOT
.:53 {
  bind $DNS_IP
  errors
  kubernetes cluster.local {
    kubeconfig $KUBECONFIG rebound
    pods insecure
  }
}
EOT
  say "coredns $COREDNS_VERSION on $DNS_IP:53"
  start coredns "$L/coredns.log" "$BIN/coredns" -conf "$RUN/Corefile"

  wait_for "node localhost Ready" 120 kubectl wait --for=condition=Ready node/localhost --timeout=5s
  say "up: export KUBECONFIG=$KUBECONFIG"
}

# ---- down -----------------------------------------------------------------

stop() { # NAME: SIGTERM, up to 30 s, then SIGKILL
  local f="$RUN/$1.pid" p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  kill "$p" 2>/dev/null || true
  for _ in $(seq 30); do
    kill -0 "$p" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; fi
  rm -f "$f"
}

down() {
  # Only a directory an `up` made (and not yet taken down).
  [ -f "$RUN/$MARKER" ] || return 0
  # Controllers first, or Deployments recreate the pods being removed.
  stop kcm
  stop scheduler
  if [ -f "$RUN/kubelet.pid" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
    kubectl delete pods -A --all --grace-period=1 --wait=true --timeout=60s >/dev/null 2>&1 || true
  fi
  stop kubelet
  stop coredns
  if [ -S "$NODE/containerd.sock" ]; then
    # Whatever is left: sandboxes and containers (their shims go with them).
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -a -s KILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks rm -f "$t" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  # Shims that outlived containerd.
  pkill -9 -f "containerd-shim-runc-v2 -namespace k8s.io.*-address $NODE/containerd.sock" 2>/dev/null || true
  stop apiserver
  stop etcd
  # Network namespaces the pods had (containerd names them cni-*).
  if [ -f "$RUN/netns.before" ]; then
    for n in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do
      grep -qx "$n" "$RUN/netns.before" || ip netns delete "$n" 2>/dev/null || true
    done
  fi
  # Mounts under the node's directories, deepest first.
  awk -v d="$RUN/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  if [ -f "$RUN/bridge.created" ]; then ip link del "$BRIDGE" 2>/dev/null || true; fi
  # Keep the logs; everything else goes (the marker last).
  find "$RUN" -mindepth 1 -maxdepth 1 ! -name logs ! -name "$MARKER" -exec rm -rf --one-file-system {} +
  rm -f "$RUN/$MARKER"
  say "down (logs kept in $RUN/logs)"
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  load)
    shift
    load "$@"
    ;;
  ctr) # the node's containerd (namespace k8s.io), e.g. `ctr tasks ls`
    shift
    ctr_ "$@"
    ;;
  cached) cached ;; # exit 0 when every binary is built already
  env) # kubectl of the cluster's own version first on PATH
    echo "export KUBECONFIG='$KUBECONFIG' PATH='$BIN':\"\$PATH\""
    ;;
  down) down ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
