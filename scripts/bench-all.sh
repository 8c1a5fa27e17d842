#!/usr/bin/env bash
# Every benchmark of docs/BENCHMARKS.md, one after the other (about 50 minutes on the 2-vCPU
# development VM), then the comparison of their figures with the committed ones
# (scripts/bench-compare.sh; exit status 1 if any is worse). Needs root.
#   scripts/bench-all.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
rm -rf "$ROOT"/target/bench-*/results.tsv
"$ROOT/scripts/bench-classifier.sh"
"$ROOT/scripts/bench-ring.sh" 5
"$ROOT/scripts/bench-syscalls.sh" 5
GPU_STANDIN=0 SYSCALL_OUTCOMES=off "$ROOT/scripts/bench-syscalls.sh" 5
EVENTS=false "$ROOT/scripts/bench-syscalls.sh" 5
EVENTS=false GPU_STANDIN=0 SYSCALL_OUTCOMES=off "$ROOT/scripts/bench-syscalls.sh" 5
EVENTS=false "$ROOT/scripts/bench-resources.sh"
EVENTS=true "$ROOT/scripts/bench-resources.sh"
EVENTS=true "$ROOT/scripts/bench-saturation.sh" 3
EVENTS=false "$ROOT/scripts/bench-saturation.sh" 3
"$ROOT/scripts/bench-e2e.sh" 3
cat "$ROOT"/target/bench-*/results.tsv > "$ROOT/target/bench-results.tsv"
echo "bench-all: figures in target/bench-results.tsv; against docs/bench/baseline.tsv:" >&2
"$ROOT/scripts/bench-compare.sh" "$ROOT/target/bench-results.tsv"
