#!/usr/bin/env bash
# Build the node image hubledger/node:latest with no container registry:
#   1. the base image hubledger/base:bookworm (scripts/image/build-base.sh; reused when present),
#   2. a wheelhouse in build/wheelhouse: every runtime dependency (and the build backend)
#      as wheels for CPython 3.11 on Linux, the Python of Debian bookworm, at the versions
#      and with the hashes of requirements/node.txt and requirements/build.txt,
#   3. docker build with BASE_IMAGE=hubledger/base:bookworm; the Dockerfile installs only
#      from the wheelhouse (pip install --no-index --find-links --require-hashes).
# The build stage is kept tagged as hubledger/node-build:latest, the layer cache of the next
# build; images it replaces are removed, so a build leaves no dangling image behind.
#
# Environment: HL_BASE_IMAGE, HL_NODE_IMAGE (image tags), PYTHON (host interpreter with pip).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BASE_IMAGE=${HL_BASE_IMAGE:-hubledger/base:bookworm}
NODE_IMAGE=${HL_NODE_IMAGE:-hubledger/node:latest}
BUILD_IMAGE=${HL_NODE_BUILD_IMAGE:-hubledger/node-build:latest}
PYTHON=${PYTHON:-python3}
WHEELHOUSE="$ROOT/build/wheelhouse"

log() { echo "build-node: $*" >&2; }

started=$SECONDS
HL_BASE_IMAGE="$BASE_IMAGE" "$ROOT/scripts/image/build-base.sh"

# Wheels are chosen for the image's interpreter, not the host's: CPython 3.11 on glibc 2.36
# (bookworm), binary only, so nothing is compiled and any host with pip can fill it.
# pip takes each accepted platform tag literally, so every manylinux level up to 2.36 is named.
platforms=()
for glibc_minor in $(seq 36 -1 17); do
    platforms+=(--platform "manylinux_2_${glibc_minor}_$(uname -m)")
done
platforms+=(--platform "manylinux2014_$(uname -m)")
mkdir -p "$WHEELHOUSE"
log "filling $WHEELHOUSE"
"$PYTHON" -m pip download --quiet --disable-pip-version-check \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
    "${platforms[@]}" \
    --require-hashes --dest "$WHEELHOUSE" \
    -r "$ROOT/requirements/node.txt" -r "$ROOT/requirements/build.txt"

log "building $NODE_IMAGE from $BASE_IMAGE"
docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" --target build --tag "$BUILD_IMAGE" "$ROOT" >/dev/null
docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$NODE_IMAGE" "$ROOT" >/dev/null
# The images this build replaced (older node images, older build stages) are untagged now.
for kind in node node-build; do
    docker image prune --force --filter "label=org.hubledger.image=$kind" >/dev/null
done
size_bytes=$(docker image inspect --format '{{.Size}}' "$NODE_IMAGE")
log "built $NODE_IMAGE ($((size_bytes / 1000000)) MB) in $((SECONDS - started)) s"
