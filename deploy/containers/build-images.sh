#!/usr/bin/env bash
# Builds Rebound's service images with podman, with no registry: the Debian
# 12 base comes from debootstrap (minbase), imported once as
# localhost/debian:bookworm. Prints each image's size.
#
#   deploy/containers/build-images.sh [ingest scoring notify dev-kafka dev-redis]
#
# Default: the three services. dev-kafka and dev-redis are the development
# dependencies (Containerfile.dev), for a dev overlay.
#
# Environment: REBOUND_IMAGE_TAG (default: the git revision, or "dev"),
# REBOUND_CACHE_DIR (default ~/.cache/rebound: the debootstrap tree),
# REBOUND_PREBUILT_DIR (a cmake build directory of this tree, built on
# Debian 12: its rebound-{ingest,scoring,notify} are packaged instead of
# compiling them again in the image's compile stage; CI packages the
# binaries its tests ran).
# Operators with Docker build the same Containerfile (see its header).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/containers"
CACHE="${REBOUND_CACHE_DIR:-${HOME:-/root}/.cache/rebound}"
BASE=localhost/debian:bookworm
SERVICES=("$@")
[ ${#SERVICES[@]} -gt 0 ] || SERVICES=(ingest scoring notify)

say() { printf '[images] %s\n' "$*" >&2; }

need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v runc >/dev/null || need+=(runc)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# No per-container ulimits (root here cannot raise them), cgroupfs, runc.
export CONTAINERS_CONF="$HERE/containers.conf"

if ! podman image exists "$BASE"; then
  tree="$CACHE/debootstrap-bookworm"
  if [ ! -f "$tree/.complete" ]; then
    say "debootstrap --variant=minbase bookworm (once, ~1 min)"
    rm -rf "$tree"
    mkdir -p "$tree"
    debootstrap --variant=minbase bookworm "$tree" http://deb.debian.org/debian >/dev/null
    touch "$tree/.complete"
  fi
  say "importing $tree as $BASE"
  tar -C "$tree" --exclude=./.complete -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$BASE" >/dev/null
fi

revision="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
tag="${REBOUND_IMAGE_TAG:-$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)}"
source_url="$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || echo unknown)"
prebuilt=()
if [ -n "${REBOUND_PREBUILT_DIR:-}" ]; then
  # A named build context replaces the Containerfile's compile stage.
  staging="$(mktemp -d)"
  trap 'rm -rf "$staging"' EXIT
  mkdir "$staging/binaries"
  for svc in ingest scoring notify; do
    bin="$REBOUND_PREBUILT_DIR/services/$svc/rebound-$svc"
    [ -x "$bin" ] || { say "REBOUND_PREBUILT_DIR: $bin is missing"; exit 1; }
    cp "$bin" "$staging/binaries/"
  done
  prebuilt=(--build-context "compile=$staging")
  say "packaging the binaries of $REBOUND_PREBUILT_DIR (no compile stage)"
fi
for svc in "${SERVICES[@]}"; do
  say "building rebound/$svc:$tag"
  file="$HERE/Containerfile"
  target="$svc"
  extra=("${prebuilt[@]}")
  case "$svc" in
    dev-*)
      file="$HERE/Containerfile.dev"
      target="${svc#dev-}"
      extra=()
      # Maven fetches over HTTPS: trust what this host trusts beyond Debian's
      # bundle (an egress proxy's CA), for that step only.
      if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        extra+=(--volume /usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro)
      fi
      ;;
  esac
  podman build --runtime runc --network host "${extra[@]}" \
    -f "$file" --target "$target" \
    --build-arg BASE="$BASE" --build-arg VERSION="$tag" \
    --build-arg REVISION="$revision" --build-arg SOURCE="$source_url" \
    -t "rebound/$svc:$tag" -t "rebound/$svc:latest" "$ROOT" >&2
done
for svc in "${SERVICES[@]}"; do
  bytes="$(podman image inspect --format '{{.Size}}' "rebound/$svc:$tag")"
  printf 'rebound/%s:%s %d MB\n' "$svc" "$tag" "$((bytes / 1000000))"
done
