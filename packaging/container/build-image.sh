#!/usr/bin/env bash
# Builds the agentguard OCI image from Debian packages and the agent's .deb, offline apart from
# Debian's package mirror (no registry, no base image):
#   build-image.sh [--deb FILE] [--tag NAME:TAG] [--output oci-archive:FILE] [--cache DIR]
# --deb     the agentguard .deb (default: packaging/target/agentguard_*.deb, what build-deb.sh made)
# --tag     default localhost/agentguard:VERSION (the .deb's version, "~" as "-")
# --output  also writes the image as an OCI archive, to load on nodes without a registry
#           (podman load -i FILE; containerd: ctr -n k8s.io images import FILE)
# --cache   where the downloaded Debian packages are kept (default: packaging/target/image-debs)
# The root file system: glibc, libgcc, libbpf, libelf, zlib (what the daemon and its native
# tools link against), busybox-static for the entrypoint's shell, the agent's .deb (its own Java
# runtime) and packaging/container/entrypoint. Needs root (buildah mount) and buildah.
set -euo pipefail
HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
PACKAGING=$(cd "$HERE/.." && pwd)
DEB="" TAG="" OUTPUT="" CACHE="$PACKAGING/target/image-debs"
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) DEB=$2; shift 2 ;;
        --tag) TAG=$2; shift 2 ;;
        --output) OUTPUT=$2; shift 2 ;;
        --cache) CACHE=$2; shift 2 ;;
        *) echo "build-image: unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
    esac
done
if [ -z "$DEB" ]; then
    DEB=$(ls "$PACKAGING"/target/agentguard_*.deb 2>/dev/null | head -n 1 || true)
    [ -n "$DEB" ] || { echo "build-image: no packaging/target/agentguard_*.deb: build it first (mvn package -pl packaging -am)" >&2; exit 1; }
fi
DEB=$(readlink -f "$DEB")
case "$OUTPUT" in ""|oci-archive:*) ;; *) echo "build-image: --output takes oci-archive:FILE" >&2; exit 2 ;; esac
VERSION=$(dpkg-deb --field "$DEB" Version)
[ -n "$TAG" ] || TAG="localhost/agentguard:${VERSION//\~/-}"

# what the daemon (libbpf, libelf, glibc), the bundled runtime (glibc, libgcc_s for thread exit)
# and the shell of the entrypoint need; nothing else (no package manager, no coreutils)
PACKAGES=(libc6 libgcc-s1 libbpf1 libelf1 zlib1g busybox-static)
mkdir -p "$CACHE"
for p in "${PACKAGES[@]}"; do
    # the candidate version's file name (apt writes an epoch as %3a), so that an older cached one is not used
    v=$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')
    [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "build-image: no candidate for $p (apt-get update?)" >&2; exit 1; }
    if ! ls "$CACHE/${p}_${v//:/%3a}_"*.deb >/dev/null 2>&1; then
        # apt's sandbox user cannot write into a root-only directory: download as root
        (cd "$CACHE" && apt-get download -o APT::Sandbox::User=root -q "$p=$v" >/dev/null)
    fi
done

CTR=$(buildah from scratch)
trap 'buildah rm "$CTR" >/dev/null 2>&1 || true' EXIT
ROOTFS=$(buildah mount "$CTR")
for p in "${PACKAGES[@]}"; do
    v=$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')
    dpkg -x "$(ls "$CACHE/${p}_${v//:/%3a}_"*.deb | head -n 1)" "$ROOTFS"
done
dpkg -x "$DEB" "$ROOTFS"

# the shell and the few applets the entrypoint uses, not every applet: the agent resolves
# well-known program names (sh, nc, wget ...) to file identities inside its own file system
for applet in sh mkdir cat grep mount; do
    ln -sf busybox "$ROOTFS/bin/$applet"
done
install -m 0755 "$HERE/entrypoint" "$ROOTFS/usr/lib/agentguard/entrypoint"
# glibc finds its libraries through ld.so.cache (libc-bin, which makes it, is not installed)
mkdir -p "$ROOTFS/etc/ld.so.conf.d"
echo "include /etc/ld.so.conf.d/*.conf" > "$ROOTFS/etc/ld.so.conf"
ldconfig -r "$ROOTFS"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\n' > "$ROOTFS/etc/group"
install -d -m 0755 "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/run" "$ROOTFS/root" "$ROOTFS/etc/agentguard/rules.d"
install -d -m 1777 "$ROOTFS/tmp"
install -d -m 0700 "$ROOTFS/var/lib/agentguard" "$ROOTFS/var/lib/agentguard/spool"
# not used in a container: manuals, lintian overrides, the systemd unit (the entrypoint replaces it)
rm -rf "$ROOTFS/usr/share/man" "$ROOTFS/usr/share/lintian" "$ROOTFS/usr/share/info" "$ROOTFS/lib/systemd"
buildah umount "$CTR" >/dev/null

buildah config \
    --entrypoint '["/usr/lib/agentguard/entrypoint"]' --cmd '[]' \
    --env PATH=/usr/sbin:/usr/bin:/sbin:/bin --env AGENTGUARD_CONFIG=/etc/agentguard/agentguard.yaml \
    --env AGENTGUARD_HOST_ROOT=/proc/1/root \
    --stop-signal SIGTERM --workingdir / \
    --label org.opencontainers.image.title=agentguard \
    --label org.opencontainers.image.description="eBPF guard for AI agent workloads (run privileged, host PID; docs/KUBERNETES.md)" \
    --label org.opencontainers.image.version="$VERSION" \
    --label org.opencontainers.image.licenses="Apache-2.0 AND GPL-2.0-only" \
    "$CTR"
buildah commit --quiet --rm "$CTR" "$TAG" >/dev/null
trap - EXIT
echo "build-image: $TAG ($(buildah images --format '{{.Size}}' "$TAG" | head -n 1))"
if [ -n "$OUTPUT" ]; then
    FILE=$(readlink -f "${OUTPUT#oci-archive:}")
    rm -f "$FILE"
    buildah push --quiet "$TAG" "oci-archive:$FILE:$TAG" >/dev/null
    echo "build-image: $FILE ($(du -h "$FILE" | cut -f1))"
fi
