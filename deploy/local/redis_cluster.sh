#!/usr/bin/env bash
# A local Redis Cluster on loopback: 3 masters and 3 replicas (redis-server,
# cluster-enabled, AOF everysec), built with `redis-cli --cluster create`.
#
#   redis_cluster.sh start DIR    start (fresh), wait for cluster_state:ok,
#                                 print `export REBOUND_REDIS_CLUSTER_ADDR=...`
#                                 (every node as a seed, comma-separated)
#   redis_cluster.sh stop DIR     SIGTERM every node, wait, SIGKILL leftovers
#   redis_cluster.sh ports DIR    the node ports, masters first
#
# Progress goes to stderr; `start` prints only the export line on stdout.
set -euo pipefail

log() { printf '[redis-cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cmd=${1:-}
dir=${2:-}
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start|stop|ports DIR"

# A free port P <= 55535 whose cluster bus port P + 10000 is free too.
free_port() {
  python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(1000):
    p = random.randint(20000, 55535)
    if free(p) and free(p + 10000):
        print(p)
        break
else:
    raise SystemExit("no free port pair")
PY
}

stop_nodes() {
  local pids=() f
  for f in "$dir"/node-*/redis.pid; do
    [[ -s "$f" ]] && pids+=("$(cat "$f")")
  done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local i
  for i in $(seq 100); do
    local alive=0 p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

case "$cmd" in
  start)
    command -v redis-server >/dev/null || die "redis-server not found (deploy/local/stack.sh install)"
    stop_nodes
    rm -rf "$dir"
    mkdir -p "$dir"
    ports=()
    for i in 1 2 3 4 5 6; do
      p=$(free_port)
      while [[ " ${ports[*]} " == *" $p "* ]]; do p=$(free_port); done
      ports+=("$p")
      mkdir -p "$dir/node-$p"
      cat >"$dir/node-$p/redis.conf" <<CONF
bind 127.0.0.1
port $p
protected-mode yes
daemonize yes
dir "$dir/node-$p"
logfile "$dir/node-$p/redis.log"
pidfile "$dir/node-$p/redis.pid"
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 2000
save ""
appendonly yes
appendfsync everysec
hash-max-listpack-value 1024
auto-aof-rewrite-percentage 400
CONF
      redis-server "$dir/node-$p/redis.conf" </dev/null >/dev/null 2>&1 ||
        die "redis-server on $p failed: $(tail -n 5 "$dir/node-$p/redis.log" 2>/dev/null)"
    done
    for p in "${ports[@]}"; do
      for i in $(seq 100); do
        [[ "$(redis-cli -p "$p" ping 2>/dev/null)" == PONG ]] && break
        sleep 0.1
      done
      [[ "$(redis-cli -p "$p" ping 2>/dev/null)" == PONG ]] || die "node $p not answering"
    done
    addrs=()
    for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
    log "creating the cluster on ${ports[*]}"
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
      die "redis-cli --cluster create failed: $(tail -n 5 "$dir/create.log")"
    for i in $(seq 200); do
      ok=1
      for p in "${ports[@]}"; do
        redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
      done
      ((ok)) && break
      sleep 0.1
    done
    ((ok)) || die "cluster not ok after 20 s"
    seeds=$(IFS=,; echo "${addrs[*]}")
    echo "${ports[*]}" >"$dir/ports"
    log "cluster ok: $seeds"
    echo "export REBOUND_REDIS_CLUSTER_ADDR=$seeds"
    ;;
  stop)
    stop_nodes
    ;;
  ports)
    cat "$dir/ports"
    ;;
  *)
    die "unknown command '$cmd' (start|stop|ports)"
    ;;
esac
