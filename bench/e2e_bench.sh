#!/usr/bin/env bash
# End-to-end benchmark: at a fixed event rate, latency from ingest's ack of a
# decline to its suggestion on a notify watch stream (p50/p99), next to
# Kafka's own produce -> consume latency at the same rate (same producer
# settings), and the RSS of each service before and after the run.
#   bench/e2e_bench.sh [RATE events/s, default 400] [DURATION s, default 600]
#   bench/e2e_bench.sh --find-max [STEP s, default 60]
# --find-max finds the highest rate the whole pipeline sustains for STEP
# seconds: every event published at the rate (>= 95 %), every suggestion on
# the watch stream within 10 s after the last publish (consumer lag not
# growing), and p99 (ingest ack -> suggestion) <= 1 s. Each step replays a
# steady stream. The simulator's default history (sends over 90 days,
# pending invites expiring 180 days after their send) has no expiry while
# members send and ends with every one of them, outcomes only: at 9,000
# events/s that tail was 6 % of the events but 28 % of the declines and
# expiries, a burst at ~5x their share of the stream that decided p99 alone
# (a spike, not a rate). A step's history instead spans 900 days
# (rebound-sim --send-days): from day 180 on, expiries flow with the sends
# at their share, as in a live network; it is cut where the sends end.
# KEEP_DRAIN=1 replays the default history whole; the fixed-rate mode does
# unless KEEP_DRAIN=0, and prints the latency after the last send apart.
# It climbs by x1.5 from START_RATE (default 1000) until a step fails, then
# bisects twice, printing each step's figures and CPU per event (each
# service, Redis), and ends with Kafka's own produce -> consume throughput
# on the same broker, flat out, and the ratio.
# SCORING_REPLICAS=N and NOTIFY_REPLICAS=N (default 1) run N instances of
# scoring / notify in their groups, as an operator scales them out; CPU per
# event and RSS sum them. SCORING_FLAGS="--flag=value ..." go to every
# scoring instance (an A/B of one option, say).
# Uses a private stack in .stack-bench/ (started and stopped here).
# RSS is a leak check: ingest's duplicate window legitimately grows until it
# holds --dedup-ttl worth of ids, so the bench runs ingest with a 60 s window
# (DEDUP_TTL) and warms up for 90 s at the rate before the "before" reading;
# with the default 10-minute window the first 10 minutes are its fill-up.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
FIND_MAX=0
if [[ ${1:-} == --find-max ]]; then
  FIND_MAX=1
  STEP=${2:-60}
  RATE=${START_RATE:-1000}
  DURATION=$STEP
  WARMUP=${WARMUP:-60}
  KEEP_DRAIN=${KEEP_DRAIN:-0}
else
  RATE=${1:-400}
  DURATION=${2:-600}
  KEEP_DRAIN=${KEEP_DRAIN:-1}
fi
DEDUP_TTL=${DEDUP_TTL:-60s}
WARMUP=${WARMUP:-90}
export REBOUND_STACK_DIR="$ROOT/.stack-bench"
# One bench at a time: a second one would restart the stack under the first
# (and the first's exit would stop the second's), leaving both measuring
# nothing.
exec 8>"$REBOUND_STACK_DIR.lock"
flock -n 8 || {
  echo "e2e_bench: another e2e_bench runs on $REBOUND_STACK_DIR (pid $(pgrep -f bench/e2e_bench.sh | grep -vx $$ | head -1)); wait for it" >&2
  exit 1
}
ensure_grpcurl
"$ROOT/deploy/local/stack.sh" clean >/dev/null 2>&1 || true
eval "$("$ROOT/deploy/local/stack.sh" start all)"
OUT="$REBOUND_STACK_DIR/bench"
mkdir -p "$OUT"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$ROOT/deploy/local/stack.sh" stop all >/dev/null 2>&1 || true
}
trap cleanup EXIT
I=$(free_port)
"$BUILD_DIR/services/ingest/rebound-ingest" --listen=127.0.0.1:$I --metrics-listen=127.0.0.1:0 --insecure-no-auth --dedup-ttl="$DEDUP_TTL" >"$OUT/ingest.log" 2>&1 &
PIDS+=($!)
# replicas NAME COUNT BINARY ARGS...: COUNT instances of a service in its
# consumer group (each its own consume thread and Redis connection), each on
# a free port, logging to NAME.log, NAME-2.log ...; sets REPLICA_PIDS and
# REPLICA_PORTS (the first instance's port first). Their CPU and RSS are
# summed below.
replicas() {
  local name=$1 count=$2 bin=$3 r port log
  shift 3
  REPLICA_PIDS=""
  REPLICA_PORTS=""
  for r in $(seq "$count"); do
    port=$(free_port)
    log=$name.log; ((r == 1)) || log=$name-$r.log
    "$bin" --listen=127.0.0.1:$port --metrics-listen=127.0.0.1:0 --insecure-no-auth "$@" >"$OUT/$log" 2>&1 &
    PIDS+=($!)
    REPLICA_PIDS+=" $!"
    REPLICA_PORTS+=" $port"
  done
}
replicas scoring "${SCORING_REPLICAS:-1}" "$BUILD_DIR/services/scoring/rebound-scoring" \
  --redis-addr="$REBOUND_REDIS_ADDR" --classifier-config=config/classifier.json \
  --retry-policy=config/retry_policy.json ${SCORING_FLAGS:-}
SCORING_PIDS=$REPLICA_PIDS
SCORING_PORTS=$REPLICA_PORTS
# The watches go to the first notify; any replica serves them from Redis.
replicas notify "${NOTIFY_REPLICAS:-1}" "$BUILD_DIR/services/notify/rebound-notify" \
  --redis-addr="$REBOUND_REDIS_ADDR" --retry-policy=config/retry_policy.json
NOTIFY_PIDS=$REPLICA_PIDS
NOTIFY_PORTS=$REPLICA_PORTS
read -r N _ <<<"$NOTIFY_PORTS"
# Each service's processes (scoring and notify: every replica).
SVC=("${PIDS[0]}" "$SCORING_PIDS" "$NOTIFY_PIDS")
for p in $I $SCORING_PORTS $NOTIFY_PORTS; do wait_for_health "$p" 60 || { echo "service on $p not healthy" >&2; exit 1; }; done
# The services' metrics ports (each logs it when ready), for the stage
# latency histograms.
METRICS_PORTS=()
for n in "$OUT"/ingest.log "$OUT"/scoring*.log "$OUT"/notify*.log; do
  METRICS_PORTS+=("$(sed -nE 's/.*"metrics_port":([0-9]+).*"msg":"ready".*/\1/p' "$n" | head -1)")
done
stages() { python3 "$ROOT/bench/stage_latency.py" "$@"; }
rss() { local p t=0; for p in $1; do t=$((t + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $t; }
names=(ingest scoring notify)
HZ=$(getconf CLK_TCK)
# CPU s so far of the processes listed in $1.
cpu() { local p; for p in $1; do cat "/proc/$p/stat"; done | awk -v hz="$HZ" '{ s += $14 + $15 } END { print s / hz }'; }
REDIS_PORT=${REBOUND_REDIS_ADDR##*:}
# Busy CPU seconds of the whole machine (every core, kernel included) and the
# wall clock, to tell a saturated machine from a process that waits.
machine_cpu() {
  awk -v hz="$HZ" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat | tr '\n' ' '
  date +%s.%N
}
# Redis's CPU s so far, and its children's (AOF rewrites; counted when a
# child ends).
redis_cpu() {
  redis-cli -p "$REDIS_PORT" INFO cpu |
    awk -F: '/^used_cpu_(sys|user):/ { s += $2 } /^used_cpu_(sys|user)_children:/ { k += $2 } END { print s, k }'
}
# Redis's own record of its stalls (a command, a fork, an AOF write or fsync
# that took >= 20 ms): where a pipeline-wide latency spike may start.
redis-cli -p "$REDIS_PORT" CONFIG SET latency-monitor-threshold 20 >/dev/null
GC_SEEN=0
# Starts a measured window: what stalls() prints is what came after.
stalls_reset() {
  redis-cli -p "$REDIS_PORT" LATENCY RESET >/dev/null
  GC_SEEN=$(wc -l <"$REBOUND_STACK_DIR/kafka/gc.log" 2>/dev/null || echo 0)
}
# Prints Redis's stalls and the broker's GC pauses (its GC log) since the
# window started, and starts the next.
stalls() {
  local rows
  # Four lines per event: name, when, latest ms, max ms.
  rows=$(redis-cli -p "$REDIS_PORT" LATENCY LATEST | paste -d' ' - - - - |
    awk 'NF >= 4 { printf "%s %s ms max (latest %s ms)  ", $1, $4, $3 }')
  echo "    redis stalls >= 20 ms (LATENCY LATEST): ${rows:-none}"
  tail -n +"$((GC_SEEN + 1))" "$REBOUND_STACK_DIR/kafka/gc.log" 2>/dev/null | awk '/Pause/ {
      ms = $NF; sub(/ms$/, "", ms); n++; s += ms; if (ms > m) m = ms }
    END { printf "    broker GC: %d pauses, %.0f ms in all, longest %.1f ms\n", n, s, m }'
  stalls_reset
}

# history SEED RUN_ID TENANT_PREFIX EVENTS FILE: a simulated history of about
# EVENTS events (2.66 per request). KEEP_DRAIN=1: the default history,
# whole; else a 900-day one cut where its sends end (see the header).
history() {
  local seed=$1 run=$2 prefix=$3 want=$4 file=$5 last
  local args=(--seed="$seed" --run-id="$run" --out="$file" --truth=/dev/null)
  [ -z "$prefix" ] || args+=(--tenant-prefix="$prefix")
  if ((KEEP_DRAIN)); then
    "$BUILD_DIR/tools/rebound-sim" "${args[@]}" \
      --requests="$(python3 -c "print(max(1000, int($want / 2.66)))")" >/dev/null 2>&1
    return
  fi
  "$BUILD_DIR/tools/rebound-sim" "${args[@]}" --send-days=900 \
    --requests="$(python3 -c "print(max(1000, int($want / 2.66 * 1.05)))")" >/dev/null 2>&1
  last=$(grep -n '"requestSent"' "$file" | tail -1 | cut -d: -f1)
  head -n "$((last < want ? last : want))" "$file" >"$file.cut"
  mv "$file.cut" "$file"
}

# metric_sum PORT PREFIX: the sum of the samples of a service's metrics
# whose line starts with PREFIX.
metric_sum() {
  curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null |
    awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { printf "%d", s }'
}
# Waits (at most 120 s) until scoring has consumed every event ingest
# published, so a step does not start on the backlog of the one before (a
# failed step's suggestions may all be out while scoring still works
# through the rest), and says so when it had to wait.
settle() {
  local t0=$SECONDS pub got p
  while :; do
    pub=$(metric_sum "${METRICS_PORTS[0]}" 'rebound_ingest_events_total{outcome="published"}')
    got=0
    for p in "${METRICS_PORTS[@]:1:${SCORING_REPLICAS:-1}}"; do
      got=$((got + $(metric_sum "$p" rebound_scoring_events_total)))
    done
    ((got < pub)) || break
    if ((SECONDS - t0 >= 120)); then
      echo "  (scoring still $((pub - got)) events behind after 120 s)"
      return
    fi
    sleep 1
  done
  ((SECONDS - t0 < 2)) || echo "  (waited $((SECONDS - t0)) s for scoring's backlog)"
}

if ((FIND_MAX)); then
  # One step at a rate: prints its figures; exit 0 when sustained.
  step() {
    local rate=$1 n out c0 c1 r0 r1 k
    local events want
    want=$((rate * STEP))
    history "$rate" "step$rate" "step$rate-t" "$want" "$OUT/step.jsonl"
    settle
    events=$(wc -l <"$OUT/step.jsonl")
    c0=(); for k in 0 1 2; do c0+=("$(cpu "${SVC[$k]}")"); done
    c0+=("$(cpu "$(cat "$REBOUND_STACK_DIR/kafka/kafka.pid")")")
    r0=$(redis_cpu)
    local m0 m1
    m0=$(machine_cpu)
    stages snapshot "$OUT/stages-before.json" "${METRICS_PORTS[@]}"
    out=$("$BUILD_DIR/tools/rebound-e2e" --ingest-target=127.0.0.1:$I --notify-target=127.0.0.1:$N \
      --file="$OUT/step.jsonl" --show=0 --rate="$rate" --timeout-seconds=10 2>&1) || true
    r1=$(redis_cpu)
    m1=$(machine_cpu)
    stages snapshot "$OUT/stages-after.json" "${METRICS_PORTS[@]}"
    c1=(); for k in 0 1 2; do c1+=("$(cpu "${SVC[$k]}")"); done
    c1+=("$(cpu "$(cat "$REBOUND_STACK_DIR/kafka/kafka.pid")")")
    python3 - "$rate" "$events" "$r0" "$r1" "${c0[*]}" "${c1[*]}" "$m0" "$m1" <<PY
import re, sys
out = """$out"""
rate, events = float(sys.argv[1]), int(sys.argv[2])
(r0, k0), (r1, k1) = [[float(x) for x in a.split()] for a in sys.argv[3:5]]
c0 = [float(x) for x in sys.argv[5].split()]; c1 = [float(x) for x in sys.argv[6].split()]
pub = re.search(r"published \d+ events in ([\d.]+)s \((\d+)/s\)", out)
sug = re.search(r"declines/expiries: (\d+), suggestions streamed for (\d+)", out)
lat = re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", out)
gen = re.search(r"load generator: ([\d.]+) us", out)
flow = re.search(r"while sends flow: p50 [\d.]+ ms, p99 ([\d.]+) ms", out)
drain = re.search(r"outcomes only\): p50 [\d.]+ ms, p99 ([\d.]+) ms", out)
achieved = float(pub.group(2)) if pub else 0
want, got = (int(sug.group(1)), int(sug.group(2))) if sug else (1, 0)
p50, p99 = (float(lat.group(1)), float(lat.group(2))) if lat else (float("nan"), float("inf"))
ok = achieved >= 0.95 * rate and got == want and p99 <= 1000
(b0, w0), (b1, w1) = [[float(x) for x in a.split()] for a in sys.argv[7:9]]
cpu = " ".join(f"{n} {(b - a) * 1e6 / events:.1f}" for n, a, b in zip(("ingest", "scoring", "notify", "broker"), c0, c1))
print(f"  step {rate:7.0f}/s: achieved {achieved:7.0f}/s, suggestions {got}/{want}, "
      f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (while sends flow {flow.group(1) if flow else '?'}, "
      f"history's drain {drain.group(1) if drain else '?'}) -> {'sustained' if ok else 'NOT sustained'}; "
      f"CPU us/event {cpu} redis {(r1 - r0) * 1e6 / events:.1f} "
      f"(+ AOF rewrites {(k1 - k0) * 1e6 / events:.1f}) "
      f"load-generator {float(gen.group(1)) if gen else float('nan'):.1f} "
      f"machine {(b1 - b0) * 1e6 / events:.1f} ({(b1 - b0) / (w1 - w0):.2f} cores busy)")
sys.exit(0 if ok else 1)
PY
    local verdict=$?
    stages diff "$OUT/stages-before.json" "$OUT/stages-after.json"
    stalls
    return $verdict
  }
  # Warm-up, not counted: a fresh broker JVM spends its first minute or so
  # JIT-compiling (its C2 compiler thread was most of its CPU in a cold run).
  echo "== warm-up: ${WARMUP}s at $RATE/s (not counted)"
  "$BUILD_DIR/tools/rebound-sim" --seed=1 --run-id=warm --tenant-prefix=warm-t --requests="$(python3 -c "print(max(1000, int($RATE * $WARMUP / 2.66)))")" \
    --out="$OUT/warm.jsonl" --truth=/dev/null >/dev/null 2>&1
  "$BUILD_DIR/tools/rebound-e2e" --ingest-target=127.0.0.1:$I --notify-target=127.0.0.1:$N \
    --file="$OUT/warm.jsonl" --show=0 --rate="$RATE" >/dev/null 2>&1 || true
  stalls_reset
  echo "== finding the highest sustained rate (steps of ${STEP}s)"
  best=0; bad=0; rate=$RATE
  while ((rate <= ${MAX_RATE:-60000})); do
    if step "$rate"; then best=$rate; rate=$((rate * 3 / 2)); else bad=$rate; break; fi
  done
  if ((best > 0 && bad > 0)); then
    for _ in 1 2; do
      mid=$(((best + bad) / 2))
      ((bad - best > best / 20)) || break
      if step "$mid"; then best=$mid; else bad=$mid; fi
    done
  fi
  echo "== kafka alone, flat out, same broker"
  "$BUILD_DIR/tools/rebound-e2e" --kafka-baseline --kafka-brokers="$REBOUND_KAFKA_BROKERS" \
    --rate=0 --count="${KAFKA_RECORDS:-2000000}" --topic=bench-flat | tee "$OUT/kafka-flat.txt"
  kafka=$(sed -nE 's/.*flat out: ([0-9]+) records.*/\1/p' "$OUT/kafka-flat.txt")
  if ((KEEP_DRAIN)); then how="drain of the history kept"; else how="steady stream, drain of the history cut"; fi
  python3 -c "b=$best; k=${kafka:-0}; print(f'sustained {b} events/s (p99 <= 1 s, lag not growing; $how); kafka alone {k} records/s; ratio {b / k if k else 0:.3f} (goal >= 0.1)')"
  exit 0
fi
# Warm up (connections, group joins, first allocations), then measure.
# Each run replays its own history into its own tenants (--tenant-prefix):
# a tenant's clock follows its events (README, stale invites), so a second
# history of the same dates replayed into the same tenants would have every
# invite judged by the first one's end.
"$BUILD_DIR/tools/rebound-sim" --seed=1 --run-id=warm --tenant-prefix=warm-t --requests="$(python3 -c "print(int($RATE * $WARMUP / 2.66))")" --out="$OUT/warm.jsonl" --truth=/dev/null >/dev/null
"$BUILD_DIR/tools/rebound-e2e" --ingest-target=127.0.0.1:$I --notify-target=127.0.0.1:$N \
  --file="$OUT/warm.jsonl" --show=0 --rate="$RATE" >/dev/null
declare -A before
for k in 0 1 2; do before[$k]=$(rss "${SVC[$k]}"); done
history 7 bench "" "$((RATE * DURATION))" "$OUT/events.jsonl"
((KEEP_DRAIN)) || echo "steady stream (KEEP_DRAIN=0): $(wc -l <"$OUT/events.jsonl") events of a 900-day history, cut where the sends end"
BROKER_PID=$(cat "$REBOUND_STACK_DIR/kafka/kafka.pid")
declare -A cpu0
for k in 0 1 2; do cpu0[$k]=$(cpu "${SVC[$k]}"); done
broker0=$(cpu "$BROKER_PID")
# The broker's CPU by thread and its requests by type (outside the measured
# window: attaching to the JVM costs a few CPU seconds).
python3 "$ROOT/bench/broker_cpu.py" snapshot "$BROKER_PID" "$OUT/broker-before.json" || true
redis-cli -p "$REDIS_PORT" INFO everything >"$OUT/redis-before.txt"
stalls_reset
machine0=$(machine_cpu)
stages snapshot "$OUT/stages-before.json" "${METRICS_PORTS[@]}"
echo "== pipeline at $RATE events/s for ~${DURATION}s"
"$BUILD_DIR/tools/rebound-e2e" --ingest-target=127.0.0.1:$I --notify-target=127.0.0.1:$N \
  --file="$OUT/events.jsonl" --show=0 --rate="$RATE" --timeout-seconds=300 | tee "$OUT/e2e.txt"
redis-cli -p "$REDIS_PORT" INFO everything >"$OUT/redis-after.txt"
machine1=$(machine_cpu)
python3 "$ROOT/bench/broker_cpu.py" snapshot "$BROKER_PID" "$OUT/broker-after.json" || true
stages snapshot "$OUT/stages-after.json" "${METRICS_PORTS[@]}"
declare -A cpu1
for k in 0 1 2; do cpu1[$k]=$(cpu "${SVC[$k]}"); done
broker1=$(cpu "$BROKER_PID")
EVENTS=$(wc -l <"$OUT/events.jsonl")
stages diff "$OUT/stages-before.json" "$OUT/stages-after.json"
echo "== where the CPU went ($EVENTS events)"
for k in 0 1 2; do
  python3 -c "print(f'  {\"${names[$k]}\":8s} {(${cpu1[$k]} - ${cpu0[$k]}) * 1e6 / $EVENTS:8.1f} us CPU per event')"
done
python3 -c "print(f'  broker   {($broker1 - $broker0) * 1e6 / $EVENTS:8.1f} us CPU per event (the Kafka JVM)')"
python3 "$ROOT/bench/broker_cpu.py" diff "$OUT/broker-before.json" "$OUT/broker-after.json" "$EVENTS" || true
gen=$(sed -nE 's/.*load generator: ([0-9.]+) us.*/\1/p' "$OUT/e2e.txt")
echo "  load-gen ${gen:-?} us CPU per event (rebound-e2e while publishing and watching; reading its file before is not counted here but is in 'machine')"
read -r busy0 wall0 <<<"$machine0"; read -r busy1 wall1 <<<"$machine1"
python3 -c "print(f'  machine  {($busy1 - $busy0) * 1e6 / $EVENTS:8.1f} us CPU per event, all processes and the kernel, the load generator too ({($busy1 - $busy0) / ($wall1 - $wall0):.2f} of $(nproc) cores busy)')"
# Redis: INFO cpu and commandstats deltas over the measured run.
python3 - "$OUT/redis-before.txt" "$OUT/redis-after.txt" "$EVENTS" <<'PY'
import sys
def info(path):
    cpu, main, cmds = 0.0, 0.0, {}
    for line in open(path):
        k, _, v = line.strip().partition(":")
        if k in ("total_reads_processed", "total_commands_processed",
                 "total_net_input_bytes", "total_net_output_bytes",
                 "total_forks", "aof_rewrites", "rdb_saves",
                 "latest_fork_usec", "used_cpu_sys_children",
                 "used_cpu_user_children"):
            cmds["~" + k] = (float(v), 0.0)
        if k in ("used_cpu_sys", "used_cpu_user"): cpu += float(v)
        if k in ("used_cpu_sys_main_thread", "used_cpu_user_main_thread"): main += float(v)
        if k.startswith("cmdstat_"):
            f = dict(x.split("=") for x in v.split(","))
            cmds[k[8:]] = (float(f["calls"]), float(f["usec"]))
    return cpu, main, cmds
(c0, m0, s0), (c1, m1, s1), n = info(sys.argv[1]), info(sys.argv[2]), int(sys.argv[3])
print(f"  redis    {(c1 - c0) * 1e6 / n:8.1f} us CPU per event (main thread {(m1 - m0) * 1e6 / n:.1f}; goal <= 15)")
# Forks (AOF rewrites, RDB saves) pause the main thread for the fork and
# their child takes CPU the figures above do not count (the machine's do).
forks = {k: s1.get("~" + k, (0.0, 0.0))[0] - s0.get("~" + k, (0.0, 0.0))[0]
         for k in ("total_forks", "aof_rewrites", "rdb_saves")}
print(f"    {int(forks['total_forks'])} forks during the run ({int(forks['aof_rewrites'])} AOF rewrites, "
      f"{int(forks['rdb_saves'])} RDB saves; the last fork paused Redis {s1.get('~latest_fork_usec', (0, 0))[0] / 1000:.1f} ms)")
# Their children's CPU (counted when a child ends): the AOF rewrites' cost,
# on the same cores as everything else.
kids = sum(s1.get("~" + k, (0.0, 0.0))[0] - s0.get("~" + k, (0.0, 0.0))[0]
           for k in ("used_cpu_sys_children", "used_cpu_user_children"))
print(f"    their children (AOF rewrites) {kids * 1e6 / n:.1f} us CPU per event more")
# Reads processed: the client reads Redis served (about one per round trip
# of a pipeline); commands include those run inside scripts and MULTI.
d = {k: s1[k][0] - s0.get(k, (0.0, 0.0))[0] for k in s1 if k.startswith("~")}
print(f"    {d.get('~total_reads_processed', 0) / n:.2f} client reads (round trips) per event, "
      f"{d.get('~total_commands_processed', 0) / n:.1f} commands per event, "
      f"{d.get('~total_net_input_bytes', 0) / n:.0f} bytes in and "
      f"{d.get('~total_net_output_bytes', 0) / n:.0f} out per event")
print("    by command (a script's or transaction's time includes the commands it ran, listed too):")
rows = []
for name, (calls, usec) in s1.items():
    if name.startswith("~"): continue
    pc, pu = s0.get(name, (0.0, 0.0))
    if calls > pc: rows.append((usec - pu, calls - pc, name))
for usec, calls, name in sorted(rows, reverse=True)[:16]:
    print(f"    {name:16s} {calls / n:6.2f} calls/event {usec / calls:7.2f} us/call {usec / n:7.2f} us/event")
PY
stalls
declare -A after
for k in 0 1 2; do after[$k]=$(rss "${SVC[$k]}"); done
echo "== kafka alone at $RATE records/s"
count=$(python3 -c "print(int($RATE * min($DURATION, 60)))")
"$BUILD_DIR/tools/rebound-e2e" --kafka-baseline --kafka-brokers="$REBOUND_KAFKA_BROKERS" \
  --rate="$RATE" --count="$count" --topic=bench-baseline | tee "$OUT/kafka.txt"
echo "== results"
python3 - "$OUT/e2e.txt" "$OUT/kafka.txt" <<'PY'
import re, sys
e2e = open(sys.argv[1]).read(); kafka = open(sys.argv[2]).read()
p = lambda t: [float(x) for x in re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", t).groups()]
e50, e99 = p(e2e); k50, k99 = p(kafka)
print(f"end-to-end p50 {e50:.1f} ms p99 {e99:.1f} ms; kafka p50 {k50:.1f} ms p99 {k99:.1f} ms")
print(f"ratio end-to-end/kafka: p50 {e50/k50:.2f}, p99 {e99/k99:.2f} (goal <= 3)")
PY
for k in 0 1 2; do
  python3 -c "b=${before[$k]}; a=${after[$k]}; print(f'RSS ${names[$k]}: {b/1024:.1f} MiB -> {a/1024:.1f} MiB ({(a-b)*100/b:+.1f}%)')"
done
