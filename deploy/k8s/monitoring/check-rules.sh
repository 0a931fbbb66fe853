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
# Each ServiceMonitor selects a Service of the base by its labels and names
# a port that Service has; together they cover the jobs the rules expect.
python3 - "$HERE/service-monitors.yaml" "$HERE/../base" "$HERE/prometheus-rule.yaml" <<'PY'
import os, re, sys, yaml
monitors = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
services = {}
for f in os.listdir(sys.argv[2]):
    if f.endswith(".yaml"):
        for d in yaml.safe_load_all(open(os.path.join(sys.argv[2], f))):
            if d and d.get("kind") == "Service":
                services[d["metadata"]["name"]] = d
problems, jobs = [], set()
for m in monitors:
    name = m["metadata"]["name"]
    want = m["spec"]["selector"]["matchLabels"]
    hits = [s for s in services.values()
            if all(s["metadata"].get("labels", {}).get(k) == v for k, v in want.items())]
    if len(hits) != 1:
        problems.append(f"ServiceMonitor {name}: selects {len(hits)} Services of the base")
        continue
    ports = {p.get("name") for p in hits[0]["spec"]["ports"]}
    for e in m["spec"]["endpoints"]:
        if e.get("port") not in ports:
            problems.append(f"ServiceMonitor {name}: Service {hits[0]['metadata']['name']} has no port {e.get('port')}")
    jobs.add(hits[0]["metadata"]["name"])
rules = open(sys.argv[3]).read()
for m in re.finditer(r'job=~"rebound-\(([a-z|]+)\)"', rules):
    for svc in m.group(1).split("|"):
        if "rebound-" + svc not in jobs:
            problems.append(f"the rules expect job rebound-{svc}; no ServiceMonitor scrapes it")
if problems:
    sys.exit("\n".join(problems))
print("service monitors: %s" % ", ".join(sorted(jobs)))
PY
