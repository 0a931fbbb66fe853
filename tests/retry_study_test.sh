#!/usr/bin/env bash
# The retry study as a team runs it, tool by tool: a simulated history, the
# suggestions notify would give for it (rebound-classify --suggestions), the
# retries of the four arms (rebound-sim --retry-study) and the read-out
# (rebound-evaluate --arms). Checks the chain holds together: the same
# history, every labelled pair in the arms file once, retries that the
# offline tools read back, and a read-out that prints every arm and both
# ratios. (The figures themselves are printed, not asserted: see the README.)
set -euo pipefail
BUILD=$1
SRC=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
sim="$BUILD/tools/rebound-sim"
classify="$BUILD/services/scoring/rebound-classify"
evaluate="$BUILD/services/scoring/rebound-evaluate"
hist=(--seed 11 --tenants 2 --members 80 --requests 3000 --send-days 40)

"$sim" "${hist[@]}" --out "$dir/events.jsonl" --truth "$dir/truth.jsonl"
"$classify" --in "$dir/events.jsonl" --out "$dir/verdicts.jsonl" \
  --classifier-config "$SRC/config/classifier.json" \
  --retry-policy "$SRC/config/retry_policy.json" \
  --suggestions "$dir/suggestions.jsonl" >/dev/null
"$sim" "${hist[@]}" --retry-study "$dir/suggestions.jsonl" \
  --retries "$dir/retries.jsonl" --arms "$dir/arms.jsonl" 2>"$dir/sim.err" ||
  fail "retry study: $(cat "$dir/sim.err")"

truth=$(wc -l <"$dir/truth.jsonl")
arms=$(wc -l <"$dir/arms.jsonl")
[ "$truth" -eq "$arms" ] || fail "$arms arm lines for $truth labelled pairs"
dups=$(python3 -c '
import json, sys, collections
c = collections.Counter((a["tenant_id"], a["request_id"]) for a in map(json.loads, open(sys.argv[1])))
print(sum(1 for v in c.values() if v > 1))' "$dir/arms.jsonl")
[ "$dups" -eq 0 ] || fail "$dups pairs with more than one arm"
followed=$(grep -c '"arm":"follow".*"retried":true' "$dir/arms.jsonl" || true)
[ "$followed" -gt 0 ] || fail "no follow-arm retry: the suggestions were not matched to the history"

# The retries read back as events, after the history they continue.
cat "$dir/events.jsonl" "$dir/retries.jsonl" >"$dir/all.jsonl"
"$classify" --in "$dir/all.jsonl" --out "$dir/all_verdicts.jsonl" \
  --classifier-config "$SRC/config/classifier.json" >/dev/null 2>"$dir/classify.err" ||
  fail "history + retries do not classify: $(tail -3 "$dir/classify.err")"

out=$("$evaluate" --arms "$dir/arms.jsonl") || fail "rebound-evaluate --arms failed"
for want in "follow " "immediate " "wait " "never " "follow / immediate:" \
  "follow / wait:" "told not to retry:" "what the advice left"; do
  grep -qF -- "$want" <<<"$out" || fail "read-out lacks '$want':
$out"
done
# A malformed arms line is reported with its line number and exit 1.
printf '%s\n' '{"arm":"sometimes"}' >"$dir/bad.jsonl"
if "$evaluate" --arms "$dir/bad.jsonl" >/dev/null 2>"$dir/bad.err"; then
  fail "a bad arms line was accepted"
fi
grep -q "bad.jsonl:1: skipped: 'arm'" "$dir/bad.err" || fail "bad line not named: $(cat "$dir/bad.err")"
echo "retry study chain: $arms pairs, $followed follow-arm retries"
echo "$out"
