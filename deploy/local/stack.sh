#!/usr/bin/env bash
# Local dependency stack for Rebound: a single-node KRaft Kafka broker and a Redis server,
# both bound to 127.0.0.1 on free ports, with all state under one directory.
#
#   stack.sh install                      apt packages (only missing ones) + Kafka jar cache
#   stack.sh start  [kafka|redis|all]     start (no-op if running), wait until ready, print env
#   stack.sh stop   [kafka|redis|all]     SIGTERM, up to 30s, then SIGKILL; data and ports kept
#   stack.sh kill   [kafka|redis|all]     SIGKILL at once (fault tests); alias: kill-kafka
#   stack.sh restart [kafka|redis|all]    stop + start
#   stack.sh status [kafka|redis|all]     exit 0 if all named services run, 3 otherwise
#   stack.sh env                          print the env file (source-able export lines)
#   stack.sh logs   [kafka|redis]         tail the service log
#   stack.sh topics ARGS...               kafka TopicCommand on the stack's broker (--list, ...)
#   stack.sh create-topic NAME [PARTS]    create a topic if missing (default 3 partitions, RF 1)
#   stack.sh clean                        stop all + remove the state dir
#
# Environment:
#   REBOUND_STACK_DIR        state dir (default: <repo>/.stack); any path works
#   REBOUND_CACHE_DIR        jar cache (default: $HOME/.cache/rebound)
#   REBOUND_KAFKA_PORT       broker port (default: stored port, else a free one)
#   REBOUND_KAFKA_CONTROLLER_PORT  KRaft controller port (same rule)
#   REBOUND_REDIS_PORT       redis port (same rule)
#   REBOUND_KAFKA_PROXIED_PORT, REBOUND_KAFKA_PROXY_PORT  both set: a second
#                            listener on the first port that advertises the
#                            second, so clients bootstrapped through a proxy
#                            (toxiproxy in the fault tests) stay behind it
#   REBOUND_KAFKA_SASL_PORT, REBOUND_KAFKA_SASL_PASSWORD  both set: a
#                            SASL_PLAINTEXT listener on that port (mechanism
#                            PLAIN, one user "rebound" with that password)
#   REBOUND_STACK_TIMEOUT    readiness timeout in seconds (default 90)
#   REBOUND_KAFKA_LIBS       use this Kafka libs/ dir instead of the cache
#   REBOUND_KAFKA_HEAP_OPTS  default "-Xms256m -Xmx768m"
#   REBOUND_JAVA             java binary (default: java)
#
# Progress goes to stderr; `start` and `env` print only the export lines on stdout, so
# `eval "$(deploy/local/stack.sh start)"` and `source <state>/env` both work.
set -euo pipefail

KAFKA_VERSION=3.9.1

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/kafka-pom.xml"

STATE_DIR="${REBOUND_STACK_DIR:-$REPO_ROOT/.stack}"
CACHE_DIR="${REBOUND_CACHE_DIR:-${HOME:-/root}/.cache/rebound}"
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="${REBOUND_KAFKA_LIBS:-$KAFKA_HOME/libs}"
KAFKA_MARKER="$KAFKA_HOME/.complete"
TIMEOUT="${REBOUND_STACK_TIMEOUT:-90}"
JAVA="${REBOUND_JAVA:-java}"
KAFKA_HEAP_OPTS="${REBOUND_KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
STOP_TIMEOUT=30

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librdkafka-dev libhiredis-dev redis-server
  libgtest-dev libgmock-dev libbenchmark-dev libabsl-dev libspdlog-dev
  nlohmann-json3-dev libre2-dev prometheus-cpp-dev libcpp-httplib-dev
  kcat clang-format openjdk-17-jre-headless maven python3 curl grpc-proto
  libgoogle-perftools-dev libjemalloc-dev openssl python3-yaml
  python3-venv  # the Python client's virtualenv (scripts/lib.sh ensure_python_client)
  chromium  # headless browser of tests/report_test.sh
)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------
missing_packages() {
  local installed
  # One dpkg-query for all packages; unknown packages just don't show up as installed.
  installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${APT_PACKAGES[@]}" 2>/dev/null \
                 | awk '$2 ~ /^ii/ {print $1}' || true)"
  local p
  for p in "${APT_PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || printf '%s\n' "$p"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    log "apt: all ${#APT_PACKAGES[@]} packages present"
    return 0
  fi
  log "apt: installing ${missing[*]}"
  local sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  # Without systemd (containers, CI) keep package postinsts from starting a system-wide
  # redis on :6379; the stack runs its own instances.
  local made_policy=0
  if [[ ! -d /run/systemd/system && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local rc=0
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || rc=$?
  if ((rc == 0)); then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" || rc=$?
  fi
  ((made_policy)) && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get failed (rc=$rc)"
}

ensure_kafka_libs() {
  if [[ -n "${REBOUND_KAFKA_LIBS:-}" ]]; then
    compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null \
      || die "REBOUND_KAFKA_LIBS=$KAFKA_LIBS has no kafka_2.13-*.jar"
    return 0
  fi
  local want
  want="pom-sha256=$(sha256sum "$POM" | cut -c1-64)"
  if [[ -f "$KAFKA_MARKER" ]] && grep -qxF "$want" "$KAFKA_MARKER"; then
    [[ "${1:-}" == verbose ]] && log "kafka $KAFKA_VERSION jars cached in $KAFKA_LIBS"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found; run: $0 install"
  [[ -f "$POM" ]] || die "missing $POM"
  log "fetching kafka $KAFKA_VERSION jars via maven -> $KAFKA_LIBS"
  mkdir -p "$KAFKA_HOME"
  local tmp
  tmp="$(mktemp -d "$KAFKA_HOME/libs.tmp.XXXXXX")"
  if ! mvn -B -q -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime >&2; then
    rm -rf "$tmp"
    die "maven could not fetch the kafka jars"
  fi
  compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null \
    || { rm -rf "$tmp"; die "maven ran but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  printf 'kafka %s, %s jars, %s\n%s\n' "$KAFKA_VERSION" "$(ls "$KAFKA_LIBS" | wc -l)" \
    "$(date -u +%FT%TZ)" "$want" >"$KAFKA_MARKER"
  log "kafka jars ready ($(ls "$KAFKA_LIBS" | wc -l) jars)"
}

cmd_install() {
  local t0=$SECONDS
  install_packages
  ensure_kafka_libs verbose
  log "install done in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------------------------------
# state, ports, pids
# ---------------------------------------------------------------------------------------
KAFKA_DIR="$STATE_DIR/kafka"
REDIS_DIR="$STATE_DIR/redis"
PORTS_FILE="$STATE_DIR/ports"
ENV_FILE="$STATE_DIR/env"

init_state() {
  mkdir -p "$STATE_DIR" "$KAFKA_DIR" "$REDIS_DIR"
  touch "$STATE_DIR/.rebound-stack"
}

# Serialise mutating commands on one state dir. fd 9 is closed for the daemons we spawn.
take_lock() {
  exec 9>"$STATE_DIR/.lock"
  flock -w "$((TIMEOUT + STOP_TIMEOUT + 30))" 9 || die "could not lock $STATE_DIR/.lock"
}

get_port() {  # get_port NAME -> stored port or empty
  [[ -f "$PORTS_FILE" ]] || return 0
  awk -F= -v k="$1" '$1 == k {print $2}' "$PORTS_FILE" | tail -n1
}

set_port() {  # set_port NAME PORT
  local tmp="$PORTS_FILE.tmp.$$"
  { [[ -f "$PORTS_FILE" ]] && grep -v "^$1=" "$PORTS_FILE" || true; echo "$1=$2"; } >"$tmp"
  mv -f "$tmp" "$PORTS_FILE"
}

# Random bindable 127.0.0.1 port below the kernel's ephemeral range (so a stopped service's
# port is unlikely to be grabbed as a client source port before it restarts).
free_port() {  # free_port EXCLUDE...
  python3 - "$@" <<'EOF'
import random, socket, sys
exclude = {int(x) for x in sys.argv[1:] if x}
for _ in range(500):
    p = random.randint(20000, 32000)
    if p in exclude:
        continue
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit("no free port found")
EOF
}

# A running service keeps its port: refuse a conflicting REBOUND_*_PORT instead of lying in env.
check_running_port() {  # check_running_port SERVICE ENVVALUE
  local cur
  cur="$(get_port "$1")"
  [[ -z "$2" || "$2" == "$cur" ]] || die "$1 already runs on port $cur (requested $2); stop it first"
}

resolve_port() {  # resolve_port NAME ENVVALUE -> echo port (env > stored > new free)
  local name=$1 want=$2 port
  if [[ -n "$want" ]]; then
    [[ "$want" =~ ^[0-9]+$ ]] || die "bad port for $name: $want"
    port=$want
  else
    port="$(get_port "$name")"
    if [[ -z "$port" ]]; then
      local used
      used="$( [[ -f "$PORTS_FILE" ]] && cut -d= -f2 "$PORTS_FILE" | tr '\n' ' ' || true)"
      # shellcheck disable=SC2086
      port="$(free_port $used)" || die "no free port for $name"
    fi
  fi
  [[ "$(get_port "$name")" == "$port" ]] || set_port "$name" "$port"
  echo "$port"
}

write_env() {
  local kp rp tmp="$ENV_FILE.tmp.$$"
  kp="$(get_port kafka)"; rp="$(get_port redis)"
  {
    [[ -n "$kp" ]] && echo "export REBOUND_KAFKA_BROKERS=127.0.0.1:$kp"
    [[ -n "$rp" ]] && echo "export REBOUND_REDIS_ADDR=127.0.0.1:$rp"
    true
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

pidfile_of() {
  case $1 in
    kafka) echo "$KAFKA_DIR/kafka.pid" ;;
    redis) echo "$REDIS_DIR/redis.pid" ;;
  esac
}

# True if PID exists and is not a zombie (an unreaped orphan still answers kill -0).
alive() {
  local st
  st="$(sed -e 's/.*) //' -e 's/ .*//' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$st" && "$st" != Z ]]
}

# Echo the pid if the service's pid file names a live process that really is the service.
live_pid() {
  local f pid cmd
  f="$(pidfile_of "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(tr -dc 0-9 <"$f")"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  case $1 in
    kafka) [[ "$cmd" == *kafka.Kafka* ]] || return 1 ;;
    redis) [[ "$cmd" == *redis-server* ]] || return 1 ;;
  esac
  echo "$pid"
}

kafka_ready() {
  local port=$1
  if command -v kcat >/dev/null; then
    kcat -b "127.0.0.1:$port" -L -m 3 >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

redis_ready() {
  [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]
}

port_busy() {  # something already accepts connections on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

show_logs() {  # show_logs LOGFILE: error lines first (the cause is often far up), then the tail
  local f=$1 out="${1%/*}/kafka.out"
  if [[ "$f" == */server.log && -s "$out" ]]; then
    log "---- last 10 lines of $out"
    tail -n 10 "$out" >&2
  fi
  [[ -f "$f" ]] || { log "(no log file $f)"; return 0; }
  log "---- ERROR/FATAL lines in $f"
  grep -E ' (ERROR|FATAL) |Exception' "$f" | tail -n 10 | cut -c1-400 >&2 || true
  log "---- last 40 lines of $f"
  tail -n 40 "$f" >&2
}

# wait_ready SERVICE PORT LOGFILE
wait_ready() {
  local svc=$1 port=$2 logf=$3 t0=$SECONDS
  while :; do
    if "${svc}_ready" "$port"; then
      log "$svc ready on 127.0.0.1:$port ($((SECONDS - t0))s)"
      return 0
    fi
    if ! live_pid "$svc" >/dev/null; then
      log "$svc process exited during startup"
      show_logs "$logf"
      die "$svc failed to start (port 127.0.0.1:$port)"
    fi
    if ((SECONDS - t0 >= TIMEOUT)); then
      log "$svc not ready after ${TIMEOUT}s"
      show_logs "$logf"
      die "timed out waiting for $svc on 127.0.0.1:$port (REBOUND_STACK_TIMEOUT=$TIMEOUT)"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------
# redis
# ---------------------------------------------------------------------------------------
start_redis() {
  command -v redis-server >/dev/null || die "redis-server not found; run: $0 install"
  local port
  live_pid redis >/dev/null && check_running_port redis "${REBOUND_REDIS_PORT:-}"
  port="$(resolve_port redis "${REBOUND_REDIS_PORT:-}")"
  if live_pid redis >/dev/null; then
    log "redis already running (pid $(live_pid redis), port $port)"
    wait_ready redis "$port" "$REDIS_DIR/redis.log"
    return 0
  fi
  rm -f "$REDIS_DIR/redis.pid"
  ! port_busy "$port" || die "redis port 127.0.0.1:$port is already in use by another process"
  cat >"$REDIS_DIR/redis.conf" <<EOF
# generated by deploy/local/stack.sh
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
supervised no
dir "$REDIS_DIR"
logfile "$REDIS_DIR/redis.log"
pidfile "$REDIS_DIR/redis.pid"
# Data survives stop/start (the header's promise): an append-only file
# fsynced every second, as Redis's docs recommend for a materialised view
# that Kafka can rebuild; no RDB snapshots on top of it.
save ""
appendonly yes
appendfsync everysec
appendfilename "rebound.aof"
# Rebound's hashes (a request with its snapshot and verdict, a suggestion,
# a sender with its profile) hold values of a few hundred bytes; kept as
# listpacks up to 1 KiB a value they take ~36 % less memory and ~10 % less
# CPU to write than as hash tables (see the README's capacity section).
hash-max-listpack-value 1024
# An AOF rewrite forks a child that writes the whole dataset out again; at
# Redis's default (rewrite once the file doubles) those children took
# 14-31 us of CPU per event at 7,500-10,500 events/s, on the same cores as
# everything else. Rewriting once the file has grown 4x past its last
# rewrite does a quarter of that work, for up to 5x the dataset on disk.
auto-aof-rewrite-percentage 400
EOF
  log "starting redis on 127.0.0.1:$port"
  redis-server "$REDIS_DIR/redis.conf" </dev/null >>"$REDIS_DIR/redis.log" 2>&1 9>&- \
    || { tail -n 40 "$REDIS_DIR/redis.log" >&2 || true; die "redis-server failed to start"; }
  # The daemon writes its pid file right after forking.
  local i
  for i in $(seq 50); do [[ -s "$REDIS_DIR/redis.pid" ]] && break; sleep 0.1; done
  wait_ready redis "$port" "$REDIS_DIR/redis.log"
}

# ---------------------------------------------------------------------------------------
# kafka
# ---------------------------------------------------------------------------------------
new_cluster_id() {  # Kafka Uuid.toString(): 16 random bytes, base64url, no padding, no leading '-'
  python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break'
}

write_kafka_config() {
  local port=$1 cport=$2
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
  local advertised="PLAINTEXT://127.0.0.1:$port"
  local protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [[ -n "${REBOUND_KAFKA_PROXIED_PORT:-}" && -n "${REBOUND_KAFKA_PROXY_PORT:-}" ]]; then
    listeners+=",PROXIED://127.0.0.1:$REBOUND_KAFKA_PROXIED_PORT"
    advertised+=",PROXIED://127.0.0.1:$REBOUND_KAFKA_PROXY_PORT"
    protocols+=",PROXIED:PLAINTEXT"
  fi
  local sasl=""
  if [[ -n "${REBOUND_KAFKA_SASL_PORT:-}" && -n "${REBOUND_KAFKA_SASL_PASSWORD:-}" ]]; then
    listeners+=",SASL://127.0.0.1:$REBOUND_KAFKA_SASL_PORT"
    advertised+=",SASL://127.0.0.1:$REBOUND_KAFKA_SASL_PORT"
    protocols+=",SASL:SASL_PLAINTEXT"
    # The JAAS line quotes the password: one that holds a quote, a
    # backslash or a line break would change the line, so it is refused.
    if [[ $REBOUND_KAFKA_SASL_PASSWORD =~ [\"\\[:cntrl:]] ]]; then
      echo "REBOUND_KAFKA_SASL_PASSWORD may not hold '\"', '\\' or control characters" >&2
      return 2
    fi
    sasl="listener.name.sasl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_rebound=\"$REBOUND_KAFKA_SASL_PASSWORD\";"
  fi
  cat >"$KAFKA_DIR/server.properties" <<EOF
# generated by deploy/local/stack.sh (single-node KRaft, broker+controller)
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DIR/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
# After a SIGKILL the restarted broker may only re-register once the old session expires
# (default 9s, ~13s with retry backoff); keep that short for fault tests.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=5000
num.network.threads=2
num.io.threads=4
log.retention.hours=24
$sasl
EOF
  cat >"$KAFKA_DIR/log4j.properties" <<EOF
# generated by deploy/local/stack.sh
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$KAFKA_DIR/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log.LogLoader=WARN
EOF
}

start_kafka() {
  command -v "$JAVA" >/dev/null || die "java not found; run: $0 install"
  ensure_kafka_libs
  local port cport
  live_pid kafka >/dev/null && check_running_port kafka "${REBOUND_KAFKA_PORT:-}"
  port="$(resolve_port kafka "${REBOUND_KAFKA_PORT:-}")"
  cport="$(resolve_port kafka_controller "${REBOUND_KAFKA_CONTROLLER_PORT:-}")"
  [[ "$port" != "$cport" ]] || die "kafka broker and controller ports must differ ($port)"
  if live_pid kafka >/dev/null; then
    log "kafka already running (pid $(live_pid kafka), port $port)"
    wait_ready kafka "$port" "$KAFKA_DIR/server.log"
    return 0
  fi
  rm -f "$KAFKA_DIR/kafka.pid"
  local p
  for p in "$port" "$cport"; do
    ! port_busy "$p" || die "kafka port 127.0.0.1:$p is already in use by another process"
  done
  write_kafka_config "$port" "$cport"
  local cp="$KAFKA_LIBS/*"
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    local cid
    cid="$(new_cluster_id)"
    log "formatting kafka storage (cluster id $cid)"
    "$JAVA" -Xmx256m -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$cp" \
      kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" \
      </dev/null >>"$KAFKA_DIR/kafka.out" 2>&1 9>&- \
      || { tail -n 40 "$KAFKA_DIR/kafka.out" >&2 || true; die "kafka storage format failed"; }
  fi
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$port (controller $cport)"
  # New session (survives the caller's Ctrl-C / process-group kills), no inherited stdio.
  # The inner shell records its own pid, then execs java, so the pid file is java's pid.
  # shellcheck disable=SC2086
  nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KAFKA_DIR/kafka.pid" \
    "$JAVA" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    "-Xlog:gc:file=$KAFKA_DIR/gc.log:uptime:filecount=2,filesize=20m" \
    -Djava.awt.headless=true -Dkafka.logs.dir="$KAFKA_DIR" \
    -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
    -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" \
    </dev/null >>"$KAFKA_DIR/kafka.out" 2>&1 9>&- &
  local i
  for i in $(seq 50); do [[ -s "$KAFKA_DIR/kafka.pid" ]] && break; sleep 0.1; done
  wait_ready kafka "$port" "$KAFKA_DIR/server.log"
}

# ---------------------------------------------------------------------------------------
# stop / kill / status
# ---------------------------------------------------------------------------------------
stop_one() {  # stop_one SERVICE [kill]
  local svc=$1 hard=${2:-} pid f
  f="$(pidfile_of "$svc")"
  if ! pid="$(live_pid "$svc")"; then
    rm -f "$f"
    log "$svc not running"
    return 0
  fi
  local t0=$SECONDS
  if [[ "$hard" == kill ]]; then
    log "killing $svc (pid $pid, SIGKILL)"
    kill -KILL "$pid" 2>/dev/null || true
  else
    log "stopping $svc (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if alive "$pid"; then
      log "$svc did not exit within ${STOP_TIMEOUT}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  local i
  for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && die "$svc (pid $pid) is still alive"
  rm -f "$f"
  log "$svc stopped ($((SECONDS - t0))s)"
}

status_one() {
  local svc=$1 pid port ready=no
  port="$(get_port "$svc")"
  if pid="$(live_pid "$svc")"; then
    "${svc}_ready" "$port" && ready=yes
    printf '%-6s running  pid=%-8s addr=127.0.0.1:%s ready=%s\n' "$svc" "$pid" "$port" "$ready"
    return 0
  fi
  printf '%-6s stopped  addr=%s\n' "$svc" "${port:+127.0.0.1:$port}"
  return 3
}

services_of() {
  case "${1:-all}" in
    all) echo "redis kafka" ;;
    kafka|redis) echo "$1" ;;
    *) die "unknown service '$1' (kafka|redis|all)" ;;
  esac
}

# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------
cmd_start() {
  local svcs s t0=$SECONDS
  svcs="$(services_of "${1:-all}")"
  init_state
  take_lock
  for s in $svcs; do "start_$s"; done
  write_env
  log "start done in $((SECONDS - t0))s; env file: $ENV_FILE"
  cat "$ENV_FILE"
}

cmd_stop() {  # cmd_stop SERVICES [kill]
  local svcs s
  svcs="$(services_of "${1:-all}")"
  [[ -d "$STATE_DIR" ]] || { log "no state dir $STATE_DIR; nothing to stop"; return 0; }
  take_lock
  for s in $svcs; do stop_one "$s" "${2:-}"; done
}

cmd_status() {
  local svcs s rc=0
  svcs="$(services_of "${1:-all}")"
  echo "state dir: $STATE_DIR"
  for s in $svcs; do status_one "$s" || rc=3; done
  return $rc
}

cmd_env() {
  [[ -f "$ENV_FILE" ]] || die "no env file at $ENV_FILE (run: $0 start)"
  cat "$ENV_FILE"
}

cmd_logs() {
  case "${1:-kafka}" in
    kafka) tail -n "${LINES:-60}" "$KAFKA_DIR/server.log" "$KAFKA_DIR/kafka.out" ;;
    redis) tail -n "${LINES:-60}" "$REDIS_DIR/redis.log" ;;
    *) die "logs: kafka|redis" ;;
  esac
}

# Run Kafka's TopicCommand against the stack's broker: stack.sh topics --list
cmd_topics() {
  local port
  port="$(get_port kafka)"
  [[ -n "$port" ]] && live_pid kafka >/dev/null || die "kafka is not running (state dir $STATE_DIR)"
  ensure_kafka_libs
  mkdir -p "$KAFKA_DIR"
  printf '%s\n' 'log4j.rootLogger=WARN, stderr' \
    'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' \
    'log4j.appender.stderr.Target=System.err' \
    'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
    'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n' >"$KAFKA_DIR/tools-log4j.properties"
  "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" \
    -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" "$@" 9>&-
}

# Idempotent: stack.sh create-topic NAME [PARTITIONS]
cmd_create_topic() {
  [[ -n "${1:-}" ]] || die "usage: $0 create-topic NAME [PARTITIONS]"
  cmd_topics --create --if-not-exists --topic "$1" --partitions "${2:-3}" --replication-factor 1
}

cmd_clean() {
  [[ -d "$STATE_DIR" ]] || { log "nothing to clean ($STATE_DIR absent)"; return 0; }
  # Only delete directories this script created (or empty ones).
  [[ -f "$STATE_DIR/.rebound-stack" || -z "$(ls -A "$STATE_DIR")" ]] \
    || die "$STATE_DIR was not created by stack.sh; refusing to delete it"
  cmd_stop all
  exec 9>&-
  rm -rf "$STATE_DIR"
  log "removed $STATE_DIR"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd=${1:-}
  shift || true
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "${1:-all}" ;;
    kill) cmd_stop "${1:-all}" kill ;;
    kill-kafka) cmd_stop kafka kill ;;
    kill-redis) cmd_stop redis kill ;;
    restart) cmd_stop "${1:-all}"; cmd_start "${1:-all}" ;;
    status) cmd_status "$@" ;;
    env) cmd_env ;;
    logs) cmd_logs "$@" ;;
    topics) cmd_topics "$@" ;;
    create-topic) cmd_create_topic "$@" ;;
    clean) cmd_clean ;;
    -h|--help|help|"") usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
