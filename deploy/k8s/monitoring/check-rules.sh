#!/usr/bin/env bash
# Checks prometheus-rule.yaml's spec.groups with promtool (built from the Go
# module proxy into ~/.cache/rebound/bin on first use).
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
