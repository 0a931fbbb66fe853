#!/usr/bin/env bash
# rebound-evaluate --report, looked at in a real browser: Debian's chromium,
# headless, loads the page and the page's own script measures every chart's
# marks (getBBox: laid out, not just present in the text). Checks that every
# chart is drawn with all its marks, that the numbers on the marks are the
# read-out's, that a page without a retry study says so, and that text from
# the command line is escaped.
set -euo pipefail
BUILD=$1
SRC=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || fail "chromium is not installed: deploy/local/stack.sh install adds it (apt package chromium)"
sim="$BUILD/tools/rebound-sim"
classify="$BUILD/services/scoring/rebound-classify"
evaluate="$BUILD/services/scoring/rebound-evaluate"
hist=(--seed 3 --tenants 2 --members 80 --requests 2500 --send-days 40)

"$sim" "${hist[@]}" --out "$dir/events.jsonl" --truth "$dir/truth.jsonl" 2>/dev/null
"$classify" --in "$dir/events.jsonl" --out "$dir/verdicts.jsonl" \
  --classifier-config "$SRC/config/classifier.json" \
  --retry-policy "$SRC/config/retry_policy.json" \
  --suggestions "$dir/suggestions.jsonl" >/dev/null 2>&1
"$sim" "${hist[@]}" --retry-study "$dir/suggestions.jsonl" \
  --retries "$dir/retries.jsonl" --arms "$dir/arms.jsonl" 2>/dev/null
"$evaluate" --verdicts "$dir/verdicts.jsonl" --truth "$dir/truth.jsonl" \
  --arms "$dir/arms.jsonl" --report "$dir/report.html" \
  --report-title 'Back-test <b>"seed 3"</b> & co' >"$dir/readout.txt" 2>/dev/null ||
  fail "rebound-evaluate --report failed"
"$evaluate" --verdicts "$dir/verdicts.jsonl" --truth "$dir/truth.jsonl" \
  --report "$dir/plain.html" >/dev/null 2>&1 || fail "report without --arms failed"
if "$evaluate" --arms "$dir/arms.jsonl" --report "$dir/x.html" >/dev/null 2>"$dir/err"; then
  fail "--report without --verdicts was accepted"
fi
grep -q "setting 'verdicts'" "$dir/err" || fail "no reason given: $(cat "$dir/err")"

render() {  # file -> DOM after the page's script ran
  timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --user-data-dir="$dir/profile" --dump-dom "file://$1" 2>"$dir/chromium.log" ||
    fail "chromium could not load $1: $(tail -5 "$dir/chromium.log")"
}
render "$dir/report.html" >"$dir/report.dom"
render "$dir/plain.html" >"$dir/plain.dom"

python3 - "$dir" <<'PY'
import html.parser, re, sys
d = sys.argv[1]

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.body = {}
        self.charts = {}   # id -> attrs
        self.marks = {}    # id -> list of attrs
        self.current = None
        self.title = ""
        self.in_title = False
        self.text = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "svg" and "chart" in a.get("class", "").split():
            self.current = a["id"]
            self.charts[self.current] = a
            self.marks[self.current] = []
        if self.current and "mark" in a.get("class", "").split():
            self.marks[self.current].append(a)
        if tag == "title" and self.current is None:
            self.in_title = True
    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None
        if tag == "title":
            self.in_title = False
    def handle_data(self, data):
        if self.in_title:
            self.title += data
        self.text.append(data)

def load(name):
    p = Page()
    p.feed(open(f"{d}/{name}").read())
    return p

def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

page = load("report.dom")
want = ["confusion-matrix", "per-reason", "reliability", "uplift"]
if sorted(page.charts) != sorted(want):
    fail(f"charts {sorted(page.charts)}, want {want}")
if page.body.get("data-charts-drawn") != "4":
    fail(f"the browser drew {page.body.get('data-charts-drawn')} of 4 charts")
for cid, attrs in page.charts.items():
    drawn = int(attrs.get("data-marks-drawn", "-1"))
    if drawn != len(page.marks[cid]) or drawn == 0:
        fail(f"{cid}: {drawn} marks drawn of {len(page.marks[cid])}")

# The numbers on the marks are the read-out's.
readout = open(f"{d}/readout.txt").read()
cells = page.marks["confusion-matrix"]
truths = {c["data-truth"] for c in cells}
preds = {c["data-predicted"] for c in cells}
if len(cells) != len(truths) * len(preds):
    fail(f"{len(cells)} cells for {len(truths)}x{len(preds)}")
matched = int(re.search(r"matched (\d+)", readout).group(1))
if sum(int(c["data-count"]) for c in cells) != matched:
    fail("the heat map's counts do not add up to the matched verdicts")
for arm in ("follow", "immediate", "wait"):
    m = re.search(rf"^  {arm}\s+\d+\s+(\d+)\s+(\d+)", readout, re.M)
    bar = [b for b in page.marks["uplift"] if b["data-arm"] == arm][0]
    if (bar["data-retried"], bar["data-accepted"]) != (m.group(1), m.group(2)):
        fail(f"{arm}: bar {bar['data-retried']}/{bar['data-accepted']}, read-out {m.group(1)}/{m.group(2)}")
ece = re.search(r"expected calibration error ([0-9.]+)", readout).group(1)
if f"expected calibration error {ece}" not in " ".join(page.text):
    fail("the page's ECE is not the read-out's")
points = page.marks["reliability"]
n = sum(int(p["data-n"]) for p in points)
if n != matched:
    fail(f"reliability points cover {n} verdicts, not {matched}")

# Escaped: the title is text, not markup.
if page.title != 'Back-test <b>"seed 3"</b> & co':
    fail(f"title read back as {page.title!r}")

plain = load("plain.dom")
if plain.body.get("data-charts-drawn") != "3" or "uplift" in plain.charts:
    fail("a report without a retry study should draw 3 charts")
if "No retry study given" not in " ".join(plain.text):
    fail("a report without a retry study should say so")
print(f"report drawn in chromium: 4 charts, {sum(len(m) for m in page.marks.values())} marks")
PY
