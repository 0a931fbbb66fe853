#!/usr/bin/env bash
# Keeps the client docs true by running them against a fresh local Rebound
# (scripts/serve.sh, its own Kafka and Redis):
#   1. the README's Python quickstart, exactly its commands (the block
#      between <!-- quickstart --> markers), timed;
#   2. every `sh` block of docs/examples.md in order (grpcurl), then every
#      `python` block in order, in one process.
#   tests/docs_examples_test.sh BIN_DIR SRC_DIR
set -euo pipefail
export REBOUND_BUILD_DIR=${1:?usage: docs_examples_test.sh BIN_DIR SRC_DIR}
SRC=${2:?usage: docs_examples_test.sh BIN_DIR SRC_DIR}
source "$SRC/scripts/lib.sh"
ensure_grpcurl
ensure_python_client
work=$(mktemp -d)
export REBOUND_STACK_DIR="$work/stack"
cleanup() { "$SRC/scripts/serve.sh" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -n 5 "$REBOUND_STACK_DIR"/serve/*.log >&2 2>/dev/null || true; exit 1; }

block() {  # block FILE LANG [MARKER]: the fenced LANG blocks (after MARKER)
  python3 - "$@" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
if len(sys.argv) > 3:
    m = re.search(r"<!-- %s -->(.*?)<!-- /%s -->" % (sys.argv[3], sys.argv[3]), text, re.S)
    if not m:
        sys.exit(f"no <!-- {sys.argv[3]} --> block in {sys.argv[1]}")
    text = m.group(1)
blocks = re.findall(r"```%s\n(.*?)```" % re.escape(sys.argv[2]), text, re.S)
if not blocks:
    sys.exit(f"no {sys.argv[2]} blocks in {sys.argv[1]}")
print("\n".join(blocks))
PY
}

# 1. The quickstart, as a newcomer runs it from the repository root.
block "$SRC/README.md" sh quickstart >"$work/quickstart.sh" || fail "README quickstart"
venv_made=0
[[ -e "$SRC/.venv-rebound" ]] || venv_made=1
t0=$SECONDS
(cd "$SRC" && bash -euo pipefail "$work/quickstart.sh") >"$work/quickstart.out" 2>&1 ||
  { cat "$work/quickstart.out" >&2; fail "the README quickstart failed"; }
((venv_made == 0)) || rm -rf "$SRC/.venv-rebound"
cat "$work/quickstart.out"
grep -q '^published 2, rejected 0$' "$work/quickstart.out" || fail "quickstart published nothing"
grep -q '^suggestion ' "$work/quickstart.out" || fail "quickstart streamed no suggestion"
echo "README quickstart: $((SECONDS - t0)) s from nothing to a streamed suggestion (services built already)"

# 2. docs/examples.md, on a pipeline of its own.
eval "$("$SRC/scripts/serve.sh" start)"
block "$SRC/docs/examples.md" sh >"$work/examples.sh"
block "$SRC/docs/examples.md" python >"$work/examples.py"
(cd "$work" && PATH="$CACHE_DIR/bin:$PATH" bash -euo pipefail "$work/examples.sh") >"$work/sh.out" 2>&1 ||
  { tail -n 40 "$work/sh.out" >&2; fail "a grpcurl example of docs/examples.md failed"; }
echo "docs/examples.md: every grpcurl example ran"
(cd "$work" && "$REBOUND_PYTHON" "$work/examples.py") >"$work/py.out" 2>&1 ||
  { tail -n 40 "$work/py.out" >&2; fail "a Python example of docs/examples.md failed"; }
cat "$work/py.out"
grep -q "unknown member: NOT_FOUND" "$work/py.out" || fail "scores of an unknown member"
grep -q "bad draft: \[('request.note'" "$work/py.out" || fail "the bad draft's field"
echo "docs/examples.md: every Python example ran"
