#!/usr/bin/env bash
# The wire contract of proto/ (ctest runs it as contract_test):
#   1. buf lint with proto/buf.yaml;
#   2. buf breaking: every commit that changed proto/ since the checks
#      began (the commit that added proto/buf.yaml) against its parent, and
#      the working tree against HEAD, so a renumbered field, a changed type
#      or a removed message fails whichever commit made it, not only the
#      last one;
#   3. the check itself: a copy of proto/ with a field renumbered and one
#      with a field's type changed must both fail buf breaking;
#   4. docs/api.md (protoc-gen-doc, from the proto comments) is what the
#      protos generate now.
#
#   scripts/contract.sh               check
#   scripts/contract.sh --write-docs  regenerate docs/api.md
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_buf
ensure_protoc_gen_doc
buf=$REBOUND_BUF

generate_docs() {  # generate_docs OUT_DIR
  # Debian's protoc finds google/protobuf/*.proto in /usr/include itself.
  LC_ALL=C protoc -I proto --plugin=protoc-gen-doc="$REBOUND_PROTOC_GEN_DOC" \
    --doc_out="$1" --doc_opt=markdown,api.md proto/rebound/v1/*.proto
}

if [[ "${1:-}" == --write-docs ]]; then
  generate_docs docs
  echo "wrote docs/api.md"
  exit 0
fi

fail() { echo "contract: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say "buf lint proto ($("$buf" --version))"
"$buf" lint proto || fail "buf lint found the problems above (fix them, or record an exception with its reason in proto/buf.yaml)"

say "buf breaking"
base=$(git log --diff-filter=A --format=%H -- proto/buf.yaml | tail -n 1)
checked=0
if [[ -n "$base" ]]; then
  for c in $(git rev-list --reverse "$base..HEAD" -- proto/); do
    if ! git cat-file -e "$c~1" 2>/dev/null; then
      # A shallow clone: the parent is not here to compare with.
      echo "buf breaking: $(git rev-parse --short "$c")'s parent is not in this (shallow) clone; not compared" >&2
      continue
    fi
    # Each side is extracted with git archive rather than given to buf as
    # ".git#ref=...": buf clones a ref with depth 50, so a commit more than
    # 50 commits behind HEAD was not found (CI run 45).
    rm -rf "$tmp/new" "$tmp/old" && mkdir -p "$tmp/new" "$tmp/old"
    git archive "$c" proto | tar -x -C "$tmp/new"
    git archive "$c~1" proto | tar -x -C "$tmp/old"
    "$buf" breaking "$tmp/new/proto" --against "$tmp/old/proto" ||
      fail "commit $(git log -1 --format='%h %s' "$c" | cut -c1-80) breaks the wire contract of its parent"
    checked=$((checked + 1))
  done
fi
if git rev-parse -q --verify HEAD >/dev/null; then
  rm -rf "$tmp/old" && mkdir -p "$tmp/old"
  git archive HEAD proto | tar -x -C "$tmp/old"
  "$buf" breaking proto --against "$tmp/old/proto" ||
    fail "the working tree's proto/ breaks the wire contract of HEAD"
fi
echo "buf breaking: $checked commit(s) since $(git rev-parse --short "${base:-HEAD}") and the working tree: no breaking change"

say "buf breaking catches a renumbered field and a changed type"
for change in 's/uint64 batch_id = 1;/uint64 batch_id = 11;/' 's/uint64 batch_id = 1;/string batch_id = 1;/'; do
  rm -rf "$tmp/proto" && cp -r proto "$tmp/proto"
  sed -i "$change" "$tmp/proto/rebound/v1/ingest.proto"
  ! diff -q proto/rebound/v1/ingest.proto "$tmp/proto/rebound/v1/ingest.proto" >/dev/null ||
    fail "the self-check's edit ($change) no longer applies to ingest.proto"
  if "$buf" breaking "$tmp/proto" --against proto >"$tmp/out" 2>&1; then
    fail "buf breaking passed a breaking edit ($change)"
  fi
  echo "refused ($change): $(head -n 1 "$tmp/out")"
done

say "docs/api.md matches the protos"
generate_docs "$tmp"
diff -u docs/api.md "$tmp/api.md" >"$tmp/docs.diff" ||
  { head -n 40 "$tmp/docs.diff" >&2; fail "docs/api.md is stale: run scripts/contract.sh --write-docs and commit it"; }
echo "contract ok"
