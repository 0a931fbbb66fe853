#!/usr/bin/env bash
# Does the classifier hold on worlds it was not fitted to? For each of the
# simulator's generative variants (rebound-sim --variant): the shipped
# config's macro-F1 and ECE, and a config fitted by rebound-fit on the OTHER
# variants only (leave one variant out), scored on the held-out one. Also
# fits on all of them into OUT/fit-all.json. Then leave one WORLD out over
# the simulator and two independent worlds (tools/worldgen, tools/worldgen2):
# fitted on two, scored on the third; the fit on all three worlds
# (OUT/fit-worlds.json) is what config/classifier.json ships.
#
#   scripts/generalisation.sh [--seed N] [--requests N] [--start CONFIG] [--out DIR]
#
# --start: the config the fits start from and are pulled towards (default
# the shipped one; give the pre-fit config to keep the held-out variant or world
# wholly unseen).
#
# Prints two tables; nothing is asserted (tests never judge quality by a
# figure). Needs a build in build/ (cmake --build build).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
B="${REBOUND_BUILD_DIR:-$ROOT/build}"
seed=101
requests=20000
out=""
cfg="$ROOT/config/classifier.json"
while (($#)); do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --start) cfg="$2"; shift 2 ;;
    *) echo "usage: $0 [--seed N] [--requests N] [--start CONFIG] [--out DIR]" >&2; exit 2 ;;
  esac
done
[[ "$seed" =~ ^[0-9]+$ && "$requests" =~ ^[0-9]+$ ]] || { echo "$0: --seed and --requests take whole numbers" >&2; exit 2; }
for t in tools/rebound-sim services/scoring/rebound-classify services/scoring/rebound-evaluate services/scoring/rebound-fit; do
  [ -x "$B/$t" ] || { echo "$0: $B/$t is missing: build first (cmake --build build)" >&2; exit 1; }
done
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
[ -r "$cfg" ] || { echo "$0: cannot read --start $cfg" >&2; exit 2; }
shipped="$ROOT/config/classifier.json"
variants=(baseline homophilous noisy guarded salesy)

score() {  # events truth config -> "macro-F1 ECE"
  "$B/services/scoring/rebound-classify" --in "$1" --out "$out/verdicts.jsonl" --classifier-config "$3" >/dev/null 2>&1
  "$B/services/scoring/rebound-evaluate" --verdicts "$out/verdicts.jsonl" --truth "$2" |
    awk '/^macro-F1/ {f=$2} /^expected calibration error/ {e=$4} END {print f, e}'
}

row() {  # name events truth fitted-config [note] -> one line of the table
  local f0 e0 f1 e1 f2 e2
  read -r f0 e0 < <(score "$2" "$3" "$cfg")
  read -r f1 e1 < <(score "$2" "$3" "$4")
  read -r f2 e2 < <(score "$2" "$3" "$shipped")
  printf '%-12s %-20s %-20s %s\n' "$1" "$f0 / $e0" "$f1 / $e1${5:+ $5}" "$f2 / $e2"
}

for v in "${variants[@]}"; do
  "$B/tools/rebound-sim" --seed "$seed" --requests "$requests" --variant "$v" \
    --tenant-prefix "$v-" --run-id "$v" --out "$out/$v.events" --truth "$out/$v.truth" 2>/dev/null
done
printf '%-12s %-20s %-20s %s\n' variant "start: F1 / ECE" "fit on the others" "shipped: F1 / ECE"
for held in "${variants[@]}"; do
  : >"$out/train.events"; : >"$out/train.truth"
  for v in "${variants[@]}"; do
    [ "$v" = "$held" ] && continue
    cat "$out/$v.events" >>"$out/train.events"; cat "$out/$v.truth" >>"$out/train.truth"
  done
  "$B/services/scoring/rebound-fit" --events "$out/train.events" --truth "$out/train.truth" \
    --classifier-config "$cfg" --out "$out/fit-no-$held.json" >"$out/fit-no-$held.log" 2>&1
  row "$held" "$out/$held.events" "$out/$held.truth" "$out/fit-no-$held.json"
done
: >"$out/all.events"; : >"$out/all.truth"
for v in "${variants[@]}"; do cat "$out/$v.events" >>"$out/all.events"; cat "$out/$v.truth" >>"$out/all.truth"; done
"$B/services/scoring/rebound-fit" --events "$out/all.events" --truth "$out/all.truth" \
  --classifier-config "$cfg" --out "$out/fit-all.json" >"$out/fit-all.log" 2>&1
echo "fitted on all five variants: $out/fit-all.json ($(grep -c . "$out/all.truth") labelled records)"

# Worlds the simulator did not make: tools/worldgen and tools/worldgen2,
# each written apart from the simulator, the classifier and each other
# (their READMEs say how). Leave one world out: for each of the three worlds
# (the simulator counts as one: its five variants, requests/5 each), a
# config fitted on the other two worlds, scored on a fresh seed of the
# held-out one; beside it the shipped config, a config fitted on that world
# itself (how far the signals reach there) and one fitted on all three.
# Train on seed N, score on seed N+1. The two foreign worlds train on half
# the requests each, so the simulator's variants weigh as much as both
# together (an even split left the simulator's baseline under-confident:
# ECE 0.054 on seed 42).
worlds=(simulator worldgen worldgen2)
make_world() {  # world seed prefix requests
  case "$1" in
    simulator)
      : >"$3.events"; : >"$3.truth"
      for v in "${variants[@]}"; do
        "$B/tools/rebound-sim" --seed "$2" --requests "$(($4 / 5))" --variant "$v" \
          --tenant-prefix "$v-" --run-id "w$2-$v" --out "$out/w.events" --truth "$out/w.truth" 2>/dev/null
        cat "$out/w.events" >>"$3.events"; cat "$out/w.truth" >>"$3.truth"
      done ;;
    worldgen | worldgen2)
      python3 "$ROOT/tools/$1/$1.py" --quiet --seed "$2" --requests "$4" \
        --out "$3.events" --truth "$3.truth" ;;
  esac
}
fit() {  # out-config world...
  local o=$1; shift
  : >"$out/fit.events"; : >"$out/fit.truth"
  for w in "$@"; do cat "$out/$w-train.events" >>"$out/fit.events"; cat "$out/$w-train.truth" >>"$out/fit.truth"; done
  "$B/services/scoring/rebound-fit" --events "$out/fit.events" --truth "$out/fit.truth" \
    --classifier-config "$cfg" --out "$o" >"$o.log" 2>&1
}
for w in "${worlds[@]}"; do
  train=$requests
  [ "$w" = simulator ] || train=$((requests / 2))
  make_world "$w" "$seed" "$out/$w-train" "$train"
  make_world "$w" "$((seed + 1))" "$out/$w-test" "$requests"
done
fit "$out/fit-worlds.json" "${worlds[@]}"
echo
printf '%-10s %-16s %-16s %-16s %s\n' world "shipped" "fit on the others" "fit on itself" "fit on all three"
for held in "${worlds[@]}"; do
  others=()
  for w in "${worlds[@]}"; do [ "$w" = "$held" ] || others+=("$w"); done
  fit "$out/fit-no-$held.json" "${others[@]}"
  fit "$out/fit-$held.json" "$held"
  cells=()
  for c in "$shipped" "$out/fit-no-$held.json" "$out/fit-$held.json" "$out/fit-worlds.json"; do
    read -r f e < <(score "$out/$held-test.events" "$out/$held-test.truth" "$c")
    cells+=("$f / $e")
  done
  printf '%-10s %-16s %-16s %-16s %s\n' "$held" "${cells[@]}"
done
echo "fitted on all three worlds: $out/fit-worlds.json"
