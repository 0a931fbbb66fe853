#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14 from Debian, ASan + UBSan) and runs
# each one from seed corpora made from the simulator's events.
#   fuzz/run.sh --runs N     [TARGET...]   N executions per target
#   fuzz/run.sh --seconds S  [TARGET...]   S seconds per target (CI)
# Targets run two at a time (REBOUND_FUZZ_JOBS); each one's corpus grows in
# build-fuzz/corpus/<target>, its log is build-fuzz/logs/<target>.log and a
# crashing input lands in build-fuzz/crashes/. Prints one line per target
# (executions, seconds, executions/s, corpus size) and exits non-zero if
# any target found a crash, a leak or a broken invariant.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
DIR="${REBOUND_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${REBOUND_FUZZ_JOBS:-2}"
ALL=(event_lines_fuzz event_view_fuzz batch_decoder_fuzz classifier_config_fuzz
     retry_policy_fuzz tokens_fuzz)

usage() { echo "usage: fuzz/run.sh --runs N | --seconds S [TARGET...]" >&2; exit 2; }
limit=()
[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage
case "${1:-}" in
  --runs) limit=(-runs="$2") ;;
  --seconds) limit=(-max_total_time="$2") ;;
  *) usage ;;
esac
shift 2
targets=("$@")
((${#targets[@]})) || targets=("${ALL[@]}")

say() { printf '\n== %s\n' "$*" >&2; }

if ! command -v clang++-14 >/dev/null ||
   ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  say "installing clang-14 and its libFuzzer runtime (Debian)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang-14 libclang-rt-14-dev >/dev/null
fi
"$ROOT/deploy/local/stack.sh" install >/dev/null

say "build the fuzz targets ($DIR)"
CC=clang-14 CXX=clang++-14 cmake -S "$ROOT" -B "$DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREBOUND_FUZZ=ON >/dev/null
cmake --build "$DIR" -j "$(nproc)" --target fuzz

say "seed corpora from the simulator"
rm -rf "$DIR/seeds"
"$DIR/fuzz/make_seeds" "$DIR/seeds"
mkdir -p "$DIR/logs" "$DIR/crashes"

run_one() {
  local t=$1 extra=()
  mkdir -p "$DIR/corpus/$t"
  case $t in
    classifier_config_fuzz | retry_policy_fuzz)
      extra=(-dict="$DIR/seeds/json.dict") ;;
    # A few events per input: each line costs a protobuf JSON parse, and
    # what matters is how events combine, not how many there are.
    event_lines_fuzz) extra=(-dict="$DIR/seeds/json.dict" -max_len=3072) ;;
  esac
  # Leaks are reported too (LeakSanitizer); -timeout: one input taking
  # longer than 10 s is a hang and a finding.
  local t0=$SECONDS rc=0
  # No allocation stacks kept (a sixth of the time went there): a crash
  # is rerun from its saved input for the full report (see the end).
  ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}" "$DIR/fuzz/$t" "${limit[@]}" "${extra[@]}" -timeout=10 -rss_limit_mb=3072 \
    -print_final_stats=1 -artifact_prefix="$DIR/crashes/$t-" \
    "$DIR/corpus/$t" "$DIR/seeds/$t" >"$DIR/logs/$t.log" 2>&1 || rc=$?
  echo $((SECONDS - t0)) >"$DIR/logs/$t.seconds"
  echo "$rc" >"$DIR/logs/$t.rc"
}

say "fuzzing ${targets[*]} (${limit[*]}, $JOBS at a time)"
running=0
for t in "${targets[@]}"; do
  [[ -x "$DIR/fuzz/$t" ]] || { echo "no fuzz target $t" >&2; exit 2; }
  while ((running >= JOBS)); do
    wait -n || true
    running=$(jobs -rp | wc -l)
  done
  rm -f "$DIR/logs/$t.rc"
  run_one "$t" &
  running=$(jobs -rp | wc -l)
done
failed=0
printf '%-24s %12s %9s %10s %7s  %s\n' target executions seconds exec/s corpus result
wait
for t in "${targets[@]}"; do
  rc=$(cat "$DIR/logs/$t.rc" 2>/dev/null || echo "?")
  log="$DIR/logs/$t.log"
  runs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log" | tail -1)
  secs=$(cat "$DIR/logs/$t.seconds" 2>/dev/null || echo 0)
  corpus=$(find "$DIR/corpus/$t" -type f | wc -l)
  if [[ $rc == 0 ]]; then
    result=ok
  else
    result="FAILED (rc=$rc, see $log)"
    failed=1
  fi
  rate=$(awk -v r="${runs:-0}" -v s="${secs:-0}" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print "-" }')
  printf '%-24s %12s %9s %10s %7s  %s\n' "$t" "${runs:-?}" "${secs:-?}" "$rate" "$corpus" "$result"
done
if ((failed)); then
  echo "fuzzing found a problem; crashing inputs are in $DIR/crashes:" >&2
  ls -1 "$DIR/crashes" >&2 || true
  for t in "${targets[@]}"; do
    grep -m3 -E "FUZZ_CHECK|ERROR: |runtime error" "$DIR/logs/$t.log" >&2 || true
    for crash in "$DIR/crashes/$t"-*; do
      [[ -f "$crash" ]] || continue
      echo "-- $t on $crash, full report:" >&2
      "$DIR/fuzz/$t" "$crash" 2>&1 | tail -40 >&2 || true
    done
  done
  exit 1
fi
