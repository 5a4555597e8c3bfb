#!/usr/bin/env bash
# Build hubledger/prometheus:latest, the Prometheus of the compose profile "monitoring", with no
# container registry: FROM the node's base image (scripts/image/build-base.sh; reused when
# present), with the prometheus binary of Debian bookworm's package, fetched with apt-get from
# the host's own Debian mirror into build/debs/, and monitoring/prometheus.yml and alerts.yml.
#
# Environment: HL_BASE_IMAGE, HL_PROMETHEUS_IMAGE (image tags).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BASE_IMAGE=${HL_BASE_IMAGE:-hubledger/base:bookworm}
IMAGE=${HL_PROMETHEUS_IMAGE:-hubledger/prometheus:latest}
DEBS="$ROOT/build/debs"
CONTEXT="$ROOT/build/prometheus-context"

log() { echo "build-prometheus: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

started=$SECONDS
HL_BASE_IMAGE="$BASE_IMAGE" "$ROOT/scripts/image/build-base.sh"

mkdir -p "$DEBS"
if ! ls "$DEBS"/prometheus_*.deb >/dev/null 2>&1; then
    command -v apt-get >/dev/null || { log "apt-get is needed to fetch Debian's prometheus package"; exit 1; }
    log "fetching Debian's prometheus package into $DEBS"
    (cd "$DEBS" && apt-get download prometheus >/dev/null 2>&1) || {
        as_root apt-get update -qq && (cd "$DEBS" && apt-get download prometheus >/dev/null)
    }
fi
package=$(ls "$DEBS"/prometheus_*.deb | sort -V | tail -n 1)

rm -rf "$CONTEXT"
mkdir -p "$CONTEXT"
cp "$ROOT/monitoring/Dockerfile" "$ROOT/monitoring/prometheus.yml" "$ROOT/monitoring/alerts.yml" \
    "$ROOT/scripts/image/prometheus_targets.py" "$CONTEXT/"
cp "$package" "$CONTEXT/prometheus.deb"

log "building $IMAGE from $BASE_IMAGE and $(basename "$package")"
docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$IMAGE" "$CONTEXT" >/dev/null
# The build stage and the images this build replaced are untagged: none is left dangling.
for kind in prometheus prometheus-build; do
    docker image prune --force --filter "label=org.hubledger.image=$kind" >/dev/null
done
rm -rf "$CONTEXT"
size_bytes=$(docker image inspect --format '{{.Size}}' "$IMAGE")
log "built $IMAGE ($((size_bytes / 1000000)) MB) in $((SECONDS - started)) s"
