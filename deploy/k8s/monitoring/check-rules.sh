#!/usr/bin/env bash
# Checks prometheus-rule.yaml's spec.groups with promtool (built from the Go
# module proxy into ~/.cache/rebound/bin on first use), and the Grafana
# dashboard: every panel query parses (promtool, as recording rules, with
# Grafana's variables filled in) and every rebound_* metric an alert or a
# panel names is one the services export (a .Name("...") in the code).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${REBOUND_CACHE_DIR:-${HOME:-/root}/.cache/rebound}/bin"
PROMETHEUS_VERSION=v0.316.0
if [[ ! -x "$BIN/promtool" ]]; then
  echo "building promtool ($PROMETHEUS_VERSION) from the Go module proxy" >&2
  GOBIN="$BIN" GOFLAGS=-mod=mod go install \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$HERE/prometheus-rule.yaml" "$tmp/rules.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert doc["kind"] == "PrometheusRule", doc["kind"]
yaml.safe_dump({"groups": doc["spec"]["groups"]}, open(sys.argv[2], "w"))
PY
"$BIN/promtool" check rules "$tmp/rules.yaml"
python3 - "$HERE/grafana-dashboard.json" "$HERE/prometheus-rule.yaml" "$HERE/../../.." "$tmp/dashboard-rules.yaml" <<'PY'
import json, os, re, sys, yaml
dash = json.load(open(sys.argv[1]))
rules, used = [], set()
for panel in dash["panels"]:
    for t in panel.get("targets", []):
        expr = (t["expr"].replace("$__rate_interval", "5m")
                .replace("$namespace", "rebound"))
        rules.append({"record": "dashboard:panel_%d_%s" % (panel["id"], t["refId"]), "expr": expr})
        used |= set(re.findall(r"\brebound_[a-z_]+", expr))
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[4], "w"))
for group in yaml.safe_load(open(sys.argv[2]))["spec"]["groups"]:
    for rule in group["rules"]:
        used |= set(re.findall(r"\brebound_[a-z_]+", rule["expr"]))
exported = set()
for d in ("services", "common"):
    for dirpath, _, files in os.walk(os.path.join(sys.argv[3], d)):
        for f in files:
            if f.endswith(".cc"):
                text = open(os.path.join(dirpath, f)).read()
                exported |= set(re.findall(r'\.Name\("(rebound_[a-z_]+)"\)', text))
unknown = sorted(m for m in used
                 if m not in exported and re.sub(r"_(bucket|sum|count)$", "", m) not in exported)
if unknown:
    sys.exit("metrics no service exports: " + ", ".join(unknown))
print("dashboard: %d queries, %d rebound metrics named, all exported" % (len(rules), len(used)))
PY
"$BIN/promtool" check rules "$tmp/dashboard-rules.yaml"
