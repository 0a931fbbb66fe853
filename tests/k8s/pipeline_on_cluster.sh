#!/usr/bin/env bash
# The pipeline on a real one-node Kubernetes (deploy/k8s/cluster.sh), from
# the manifests operators use (deploy/k8s/overlays/dev = the base + an
# in-cluster Kafka and Redis). Fails, naming the step, unless:
#   1. server-side validation of the dev overlay and of the production example
#      passes with --warnings-as-errors,
#      each pod template passes as a Pod, and Pod Security `restricted` is
#      enforced on the namespace (a privileged pod is refused);
#   2. `kubectl apply -k` brings every Deployment to Available, with
#      readiness from the real gRPC probes: with Redis frozen (SIGSTOP),
#      scoring and notify turn unready while ingest stays ready, and all are
#      ready again once it is thawed;
#   3. a client publishes a simulated stream through ingest and watches
#      notify (port-forwards) while each Deployment is rolled
#      (`kubectl rollout restart`), a pod is force-deleted and each service's
#      process is killed with SIGKILL mid-stream: every event
#      answered, every decline's suggestion on the resumed watch and no
#      (suggestion, version) twice, and every sender's counters in scoring
#      equal to the file's (rebound-e2e --survive-restarts --scoring-target);
#   4. Redis FLUSHALLed: scoring and notify turn unready, the rebuild Job
#      (`kubectl create job --from=cronjob/rebound-rebuild-state`) completes,
#      they are ready again, and the same file sent again finds every
#      counter and every suggestion as before (each once).
#
#   tests/k8s/pipeline_on_cluster.sh
#
# Builds what is missing: the project (rebound-sim, rebound-e2e), the images
# (deploy/containers/build-images.sh, tag "dev"), the Kubernetes binaries
# (cluster.sh build, cached). REBOUND_K8S_REUSE_IMAGES=1 uses the dev images
# already built instead of building them; REBOUND_K8S_KEEP=1 leaves the
# cluster up;
# REBOUND_K8S_REQUESTS (default 8000, ~21k events) at REBOUND_K8S_RATE
# events/s (default 80) sets how long the stream runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$ROOT"
CLUSTER="$ROOT/deploy/k8s/cluster.sh"
OVERLAY="$ROOT/deploy/k8s/overlays/dev"
REQUESTS="${REBOUND_K8S_REQUESTS:-8000}"
RATE="${REBOUND_K8S_RATE:-80}"
TOKEN=dev-token-1 # the dev overlay's token of tenant-1
WORK="$ROOT/.cluster-test"
rm -rf "$WORK"
mkdir -p "$WORK"
PIDS=()

step() { printf '\n== %s\n' "$*" >&2; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  touch "$WORK/stop"
  # Ours only: each forward loop and its kubectl, and the client.
  for p in "${PIDS[@]}"; do
    pkill -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  if ((rc != 0)) && [ -n "${KUBECONFIG:-}" ] && [ -f "$KUBECONFIG" ]; then
    kubectl get pods -A -o wide >&2 2>/dev/null || true
    kubectl get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -30 >&2 || true
    # The last lines of every pod that is not Ready, and what the node's
    # pod network looks like: enough to tell a dead service from an
    # unreachable one without the machine.
    local pod
    kubectl get pods -A --no-headers 2>/dev/null |
      awk '{split($3, r, "/"); if (r[1] != r[2] && $4 != "Completed") print $1 "/" $2}' |
      while IFS=/ read -r ns pod; do
        printf -- '--- logs %s/%s\n' "$ns" "$pod" >&2
        kubectl logs -n "$ns" "$pod" --all-containers --tail=15 >&2 2>&1 || true
        kubectl logs -n "$ns" "$pod" --all-containers --tail=5 --previous >&2 2>&1 || true
      done
    printf -- '--- pod network\n' >&2
    ip -br addr show 2>/dev/null | grep -E 'rb-cni0|veth' >&2 || true
    ip netns list 2>/dev/null | wc -l | sed 's/^/network namespaces: /' >&2 || true
  fi
  if [ "${REBOUND_K8S_KEEP:-0}" != 1 ]; then "$CLUSTER" down || true; fi
  exit "$rc"
}
trap cleanup EXIT

[[ -x "$BUILD_DIR/tools/rebound-e2e" && -x "$BUILD_DIR/tools/rebound-sim" ]] || build

IMAGES=(ingest scoring notify dev-kafka dev-redis)
if [ "${REBOUND_K8S_REUSE_IMAGES:-0}" = 1 ]; then
  step "images: reusing localhost/rebound/*:dev (REBOUND_K8S_REUSE_IMAGES=1)"
else
  step "images (tag dev)"
  REBOUND_IMAGE_TAG=dev "$ROOT/deploy/containers/build-images.sh" "${IMAGES[@]}"
fi

step "cluster"
"$CLUSTER" up
eval "$("$CLUSTER" env)"
refs=()
for i in "${IMAGES[@]}"; do refs+=("localhost/rebound/$i:dev"); done
"$CLUSTER" load "${refs[@]}"

step "1. server-side validation, Pod Security"
kubectl kustomize "$OVERLAY" >"$WORK/all.yaml"
python3 - "$WORK/all.yaml" "$WORK" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ns = [d for d in docs if d["kind"] == "Namespace"]
pods = [{"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": d["metadata"]["name"] + "-template",
                      "namespace": d["metadata"].get("namespace", "default")},
         "spec": d["spec"]["template"]["spec"]}
        for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]
pods += [{"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": d["metadata"]["name"] + "-template",
                       "namespace": d["metadata"].get("namespace", "default")},
          "spec": d["spec"]["jobTemplate"]["spec"]["template"]["spec"]}
         for d in docs if d["kind"] == "CronJob"]
yaml.safe_dump_all(ns, open(sys.argv[2] + "/namespaces.yaml", "w"))
yaml.safe_dump_all(pods, open(sys.argv[2] + "/template-pods.yaml", "w"))
PY
# A dry run cannot create namespaces: they go in for real first.
kubectl apply -f "$WORK/namespaces.yaml"
kubectl apply --server-side --dry-run=server --warnings-as-errors -k "$OVERLAY" >/dev/null ||
  fail "server-side validation of $OVERLAY"
# The production example too (TLS, health-only probe port, external
# endpoints): valid for this API server as it stands.
kubectl apply --server-side --dry-run=server --warnings-as-errors \
  -k "$ROOT/deploy/k8s/overlays/prod-example" >/dev/null ||
  fail "server-side validation of deploy/k8s/overlays/prod-example"
# Pod Security on a Deployment is only a warning; as Pods it is enforced.
kubectl apply --server-side --dry-run=server -f "$WORK/template-pods.yaml" >/dev/null ||
  fail "a pod template is refused as a Pod"
cat >"$WORK/privileged.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: privileged-probe, namespace: rebound}
spec:
  containers:
    - name: c
      image: localhost/rebound/ingest:dev
      securityContext: {privileged: true}
EOF
if kubectl apply --dry-run=server -f "$WORK/privileged.yaml" >"$WORK/privileged.out" 2>&1; then
  fail "namespace rebound admitted a privileged pod (Pod Security restricted not enforced)"
fi
grep -q 'violates PodSecurity "restricted' "$WORK/privileged.out" ||
  fail "privileged pod refused, but not by Pod Security: $(cat "$WORK/privileged.out")"
echo "validation ok; a privileged pod in rebound: $(head -c 160 "$WORK/privileged.out")..."

step "2. kubectl apply -k, every Deployment Available through gRPC readiness"
kubectl apply -k "$OVERLAY"
kubectl -n kafka rollout status statefulset/kafka --timeout=300s
kubectl -n redis rollout status statefulset/redis --timeout=300s
kubectl -n kafka wait --for=condition=Complete job/topics --timeout=300s ||
  fail "the topics Job did not complete"
for d in ingest scoring notify; do
  # The HorizontalPodAutoscaler raises each to its minReplicas (2).
  for _ in $(seq 120); do
    [ "$(kubectl -n rebound get deploy "rebound-$d" -o jsonpath='{.status.readyReplicas}')" = 2 ] && break
    sleep 2
  done
  kubectl -n rebound wait --for=condition=Available "deploy/rebound-$d" --timeout=10s ||
    fail "rebound-$d not Available"
  probe=$(kubectl -n rebound get deploy "rebound-$d" -o jsonpath='{.spec.template.spec.containers[0].readinessProbe.grpc.port}')
  [ -n "$probe" ] || fail "rebound-$d has no gRPC readiness probe"
done
kubectl -n rebound get pods -o wide

pod_states() { # DEPLOYMENT: "<pods not terminating> <of those Ready>"; fails when kubectl does
  kubectl -n rebound get pods -l "app.kubernetes.io/name=$1" -o json | python3 -c '
import json, sys
live = [p for p in json.load(sys.stdin)["items"] if not p["metadata"].get("deletionTimestamp")]
ready = [p for p in live if any(c["type"] == "Ready" and c["status"] == "True"
                                for c in p["status"].get("conditions", []))]
print(len(live), len(ready))'
}
wait_ready() { # DEPLOYMENT COUNT SECONDS: 2 pods running, COUNT of them Ready
  local deadline=$((SECONDS + $3)) states
  while ((SECONDS < deadline)); do
    states=$(pod_states "$1") || states=""
    [ "$states" = "2 $2" ] && return 0
    sleep 1
  done
  echo "$1: pods (running ready) = ${states:-unknown}, wanted 2 $2" >&2
  return 1
}
live_pod() { # DEPLOYMENT: a Ready pod of it that is not terminating
  kubectl -n rebound get pods -l "app.kubernetes.io/name=$1" -o json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    ready = any(c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", []))
    if ready and not p["metadata"].get("deletionTimestamp"):
        print(p["metadata"]["name"]); break'
}
container_pid() { # NAMESPACE POD: the host pid of the pod's (first) container
  local cid
  cid=$(kubectl -n "$1" get pod "$2" -o jsonpath='{.status.containerStatuses[0].containerID}')
  "$CLUSTER" ctr tasks ls | awk -v id="${cid#containerd://}" '$1 == id {print $2}'
}
# Redis frozen (SIGSTOP: it keeps its data, answers nothing), then thawed.
echo "Redis frozen: scoring and notify must turn unready, ingest stay ready"
redis_pid=$(container_pid redis redis-0)
[ -n "$redis_pid" ] || fail "no process found for redis-0"
kill -STOP "$redis_pid"
wait_ready rebound-scoring 0 90 || { kill -CONT "$redis_pid"; fail "scoring still ready with Redis frozen"; }
wait_ready rebound-notify 0 90 || { kill -CONT "$redis_pid"; fail "notify still ready with Redis frozen"; }
[ "$(pod_states rebound-ingest)" = "2 2" ] || { kill -CONT "$redis_pid"; fail "ingest turned unready (it does not use Redis)"; }
kill -CONT "$redis_pid"
wait_ready rebound-scoring 2 120 || fail "scoring not ready again after Redis thawed"
wait_ready rebound-notify 2 120 || fail "notify not ready again after Redis thawed"
echo "readiness followed Redis: frozen -> scoring/notify unready, thawed -> ready"

step "3. traffic through port-forwards, rolling restarts, a pod killed"
forward() { # SERVICE PORT LOCAL_PORT: keeps a port-forward up until the end
  (
    while [ ! -f "$WORK/stop" ]; do
      kubectl -n rebound port-forward --address 127.0.0.1 "svc/$1" "$3:$2" || true
      sleep 0.3
    done
  ) >>"$WORK/forward-$1.log" 2>&1 &
  PIDS+=($!)
}
INGEST=$(free_port)
SCORING=$(free_port)
NOTIFY=$(free_port)
forward rebound-ingest 50051 "$INGEST"
forward rebound-scoring 50052 "$SCORING"
forward rebound-notify 50053 "$NOTIFY"
"$BUILD_DIR/tools/rebound-sim" --tenants=1 --requests="$REQUESTS" --seed=7 --run-id=k8s \
  --out="$WORK/events.jsonl" --truth=/dev/null
events=$(wc -l <"$WORK/events.jsonl")
echo "$events events at $RATE/s (~$((events / RATE)) s)"
sleep 2
"$BUILD_DIR/tools/rebound-e2e" --survive-restarts --ingest-target="127.0.0.1:$INGEST" \
  --notify-target="127.0.0.1:$NOTIFY" --scoring-target="127.0.0.1:$SCORING" \
  --tenant-tokens="tenant-1:$TOKEN" --file="$WORK/events.jsonl" --rate="$RATE" \
  --show=0 --timeout-seconds=240 >"$WORK/e2e.out" 2>"$WORK/e2e.err" &
E2E=$!
PIDS+=($E2E)
sleep 10
for d in ingest scoring notify; do
  kubectl -n rebound rollout restart "deploy/rebound-$d"
  kubectl -n rebound rollout status "deploy/rebound-$d" --timeout=240s ||
    fail "rollout of rebound-$d did not finish"
done
# A scoring pod force-deleted (the ReplicaSet replaces it), then each
# service's process killed with SIGKILL in its container (kubelet restarts
# it): no drain, no commit, no goodbye.
published_all() { grep -q '^published ' "$WORK/e2e.out"; }
published_all && fail "publishing ended before the kills; raise REBOUND_K8S_REQUESTS"
victim=$(live_pod rebound-scoring)
[ -n "$victim" ] || fail "no live pod of rebound-scoring to delete"
echo "deleting pod $victim (grace 0, force)"
kubectl -n rebound delete pod "$victim" --grace-period=0 --force --wait=false
for d in ingest scoring notify; do
  wait_ready "rebound-$d" 2 120 || fail "rebound-$d not at 2 ready pods before the kill"
  victim=$(live_pod "rebound-$d")
  [ -n "$victim" ] || fail "no live pod of rebound-$d to kill"
  pid=$(container_pid rebound "$victim")
  [ -n "$pid" ] || fail "no process found for $victim"
  echo "kill -9 $pid: rebound-$d in $victim"
  kill -9 "$pid"
  sleep 3
done
# rebound-e2e prints "published ..." when its last event is answered.
published_all && fail "publishing ended before the last kill; raise REBOUND_K8S_REQUESTS"
for d in ingest scoring notify; do
  wait_ready "rebound-$d" 2 180 || fail "rebound-$d not back to 2 ready pods after the kills"
done
restarts=$(kubectl -n rebound get pods -o jsonpath='{range .items[*]}{.status.containerStatuses[0].restartCount}{"\n"}{end}' |
  awk '{s += $1} END {print s + 0}')
((restarts >= 3)) || fail "expected the 3 killed containers restarted, saw $restarts restarts"
echo "disruptions done while the stream ran; waiting for the client"
rc=0
wait "$E2E" || rc=$?
cat "$WORK/e2e.out"
grep -v '^\[' "$WORK/e2e.err" | tail -20 >&2 || true
((rc == 0)) || fail "rebound-e2e exited $rc: something was lost or doubled (above)"

step "4. Redis loses the state (FLUSHALL): the services stop, the rebuild Job repairs it"
kubectl -n redis exec redis-0 -- redis-cli FLUSHALL
wait_ready rebound-scoring 0 120 || fail "scoring still ready after Redis lost its state"
wait_ready rebound-notify 0 120 || fail "notify still ready after Redis lost its state"
kubectl -n rebound create job rebound-rebuild-k8s --from=cronjob/rebound-rebuild-state
if ! kubectl -n rebound wait --for=condition=Complete job/rebound-rebuild-k8s --timeout=300s; then
  for c in scoring notify; do
    kubectl -n rebound logs job/rebound-rebuild-k8s -c "$c" --tail=30 >&2 || true
  done
  fail "the rebuild Job did not complete"
fi
kubectl -n rebound logs job/rebound-rebuild-k8s -c scoring --tail=3 || true
kubectl -n rebound logs job/rebound-rebuild-k8s -c notify --tail=3 || true
for d in scoring notify; do
  wait_ready "rebound-$d" 2 180 || fail "rebound-$d not ready again after the rebuild"
done
# The same file again: every event is a duplicate now (ingest's window is in
# memory, warmed from Kafka), and the rebuilt state must hold every sender's
# counters and every decline's suggestion (the watch starts from the
# beginning: --survive-restarts), each once, as before the loss.
rc=0
"$BUILD_DIR/tools/rebound-e2e" --survive-restarts --ingest-target="127.0.0.1:$INGEST" \
  --notify-target="127.0.0.1:$NOTIFY" --scoring-target="127.0.0.1:$SCORING" \
  --tenant-tokens="tenant-1:$TOKEN" --file="$WORK/events.jsonl" --rate=0 \
  --show=0 --timeout-seconds=180 >"$WORK/e2e-rebuilt.out" 2>"$WORK/e2e-rebuilt.err" || rc=$?
cat "$WORK/e2e-rebuilt.out"
grep -v '^\[' "$WORK/e2e-rebuilt.err" | tail -20 >&2 || true
((rc == 0)) || fail "after the rebuild, rebound-e2e exited $rc: the rebuilt state differs (above)"
echo "PASS: pipeline on Kubernetes, nothing lost or doubled across rolling restarts, a killed pod and a lost Redis state rebuilt by the Job"
