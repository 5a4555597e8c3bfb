#!/usr/bin/env bash
# Build the base image hubledger/base:bookworm with no container registry at all:
# debootstrap writes a minimal Debian bookworm root filesystem (Python 3.11, venv,
# CA certificates and the C++ runtime that plyvel's bundled LevelDB links against),
# and `docker import` turns it into an image.
#
# The root filesystem tarball is cached outside the repository, so a later run (or a
# run after `docker image rm`) only imports it again. --force rebuilds from scratch.
#
# Environment: HL_BASE_IMAGE (image tag), HL_CACHE_DIR (cache directory),
# DEBIAN_MIRROR (default: the host's own Debian mirror, else debootstrap's default).
set -euo pipefail

IMAGE=${HL_BASE_IMAGE:-hubledger/base:bookworm}
CACHE_DIR=${HL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hubledger}
SUITE=bookworm
# python3.11-venv brings ensurepip's wheels; libstdc++6 is not bundled in manylinux wheels.
PACKAGES=python3.11,python3.11-venv,python3-distutils,ca-certificates,libstdc++6
TARBALL="$CACHE_DIR/base-$SUITE-rootfs.tar"
FORCE=0

usage() {
    echo "usage: $0 [--force]   build $IMAGE from a debootstrap root filesystem" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
    shift
done

log() { echo "build-base: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

host_mirror() {
    # The first Debian archive the host itself uses: it is known to be reachable from here.
    local sources
    for sources in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -r "$sources" ] || continue
        sed -n -E 's#^URIs:[[:space:]]*(\S+/debian)/?$#\1#p; s#^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(\S+/debian)/?[[:space:]].*#\2#p' \
            "$sources" | head -n 1
        return 0
    done
}

build_rootfs() {
    command -v debootstrap >/dev/null || {
        log "installing debootstrap"
        as_root apt-get install -y -qq debootstrap >/dev/null || {
            as_root apt-get update -qq && as_root apt-get install -y -qq debootstrap >/dev/null
        }
    }
    local mirror=${DEBIAN_MIRROR:-$(host_mirror)}
    local rootfs="$CACHE_DIR/rootfs.$$"
    trap 'as_root rm -rf "$rootfs"' EXIT
    log "debootstrap $SUITE (minbase + $PACKAGES) from ${mirror:-the default mirror of debootstrap}"
    as_root debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$CACHE_DIR/debs" \
        "$SUITE" "$rootfs" ${mirror:+"$mirror"} >"$CACHE_DIR/debootstrap.log" 2>&1 || {
        as_root cat "$rootfs/debootstrap/debootstrap.log" >>"$CACHE_DIR/debootstrap.log" 2>/dev/null || true
        tail -n 30 "$CACHE_DIR/debootstrap.log" >&2
        log "debootstrap failed; the whole log is $CACHE_DIR/debootstrap.log"
        exit 1
    }
    strip_rootfs "$rootfs"
    as_root tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" .
    as_root chown "$(id -u):$(id -g)" "$TARBALL.tmp"
    mv "$TARBALL.tmp" "$TARBALL"
    as_root rm -rf "$rootfs"
    trap - EXIT
}

strip_rootfs() {
    # Documentation, translations and package lists are dead weight in a container;
    # the copyright files stay.
    local root=$1
    as_root find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    as_root find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    as_root rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
        "$root"/usr/share/lintian "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* \
        "$root"/var/cache/debconf/*-old "$root"/var/log/*.log "$root"/var/log/apt/* \
        "$root"/usr/share/python-wheels/../doc
    # No daemon may start inside the build chroot; debootstrap's policy file is not wanted later.
    as_root rm -f "$root/usr/sbin/policy-rc.d"
}

mkdir -p "$CACHE_DIR/debs"
exec 9>"$CACHE_DIR/build-base.lock"
flock 9  # two builds at once (parallel test runs) share one result

if [ "$FORCE" -eq 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE already exists (use --force to rebuild)"
    exit 0
fi
if [ "$FORCE" -eq 1 ] || [ ! -s "$TARBALL" ]; then
    started=$SECONDS
    build_rootfs
    log "root filesystem built in $((SECONDS - started)) s: $TARBALL"
fi
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap $SUITE minbase + $PACKAGES" \
    "$TARBALL" "$IMAGE" >/dev/null
size_bytes=$(docker image inspect --format '{{.Size}}' "$IMAGE")
log "imported $IMAGE ($((size_bytes / 1000000)) MB)"
