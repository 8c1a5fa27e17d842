#!/usr/bin/env bash
# Installs what agentguard needs on Debian 12 (root) and builds it. Safe to rerun:
# packages already present are skipped, Maven rebuilds only what changed.
# --deps-only: install packages, do not build.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
# openssh-client: the demo's tunnel step; systemd: systemd-analyze for the unit test;
# openssh-server, ncat, socat: the tunnel tests and the corpus play attackers with the real tools
# (tests start their own sshd on loopback: the install must not start a system one);
# podman, buildah, runc, busybox-static: the container image is built and run offline (runc:
# crun refuses hybrid cgroup layouts); prometheus: promtool checks the shipped alerting rules
PACKAGES=(clang llvm libbpf-dev libbpf1 bpftool libelf-dev zlib1g-dev make gcc maven openssh-client systemd util-linux
          openssh-server ncat socat podman buildah runc busybox-static prometheus)
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
    # policy-rc.d exiting 101 keeps maintainer scripts from starting services (openssh-server's
    # sshd); only one we created is removed
    policy_rc=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_rc=/usr/sbin/policy-rc.d
        trap 'rm -f "$policy_rc"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ -n "$policy_rc" ]; then
        rm -f "$policy_rc"
        trap - EXIT
    fi
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
