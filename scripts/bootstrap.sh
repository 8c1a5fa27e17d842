#!/usr/bin/env bash
# Installs what agentguard needs on Debian 12 (root) and builds it. Safe to rerun:
# packages already present are skipped, Maven rebuilds only what changed.
# --deps-only: install packages, do not build.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# openssh-client: the demo's tunnel step; systemd: systemd-analyze for the unit test
PACKAGES=(clang llvm libbpf-dev libbpf1 bpftool libelf-dev zlib1g-dev make gcc maven openssh-client systemd util-linux)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bootstrap: missing packages ${missing[*]}; run as root or install them" >&2
        exit 1
    fi
    echo "bootstrap: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
. "$ROOT/scripts/find-java.sh"
if [ "${1:-}" = "--deps-only" ]; then
    exit 0
fi
echo "bootstrap: building with $JAVA_HOME" >&2
cd "$ROOT"
# the .deb (packaging/) is built by scripts/test.sh and `mvn install`, not needed to run from here
mvn -q -B install -DskipTests -pl '!packaging' "$@"
echo "bootstrap: built agent/target/agentguard-agent.jar" >&2
