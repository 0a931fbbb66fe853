#!/usr/bin/env bash
# Prints the rendered Rebound manifests (kustomize build of base/ or of the
# overlay given as $1). The same as `kubectl apply -k`: the base loads
# nothing from outside its own directory.
#
#   deploy/k8s/render.sh | kubectl apply -f -
#   deploy/k8s/render.sh path/to/overlay | kubectl apply -f -
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-$here/base}"

if command -v kustomize >/dev/null 2>&1; then
  exec kustomize build "$dir"
elif [[ -x /root/.cache/rebound/bin/kustomize ]]; then
  exec /root/.cache/rebound/bin/kustomize build "$dir"
elif command -v kubectl >/dev/null 2>&1; then
  exec kubectl kustomize "$dir"
fi
echo "render.sh: needs kustomize (v5) or kubectl on PATH" >&2
exit 1
