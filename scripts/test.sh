#!/usr/bin/env bash
# Runs the whole test suite: unit tests and kernel tests (real BPF, real cgroups; needs
# root). With AGENTGUARD_REQUIRE_BPF=1 a kernel test that cannot load BPF fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" --deps-only
. "$ROOT/scripts/find-java.sh"
cd "$ROOT"
# the collector's PostgreSQL store is tested against a real server (generated password)
eval "$("$ROOT/scripts/postgres-for-tests.sh")"
mvn -B install "$@"
