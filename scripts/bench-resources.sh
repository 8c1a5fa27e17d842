#!/usr/bin/env bash
# Agent CPU and memory at a steady event rate (docs/BENCHMARKS.md): a paced load generator
# (syscall_bench paced-ioctl: one record per call) runs in an agent cgroup at each RATE; the
# agent's CPU time and RSS are sampled over the middle of the run. Needs root.
#   scripts/bench-resources.sh [RATE...]      (default: 0 10000 100000 events/s)
# EVENTS=false: write violations only (the packaged configuration) instead of every event.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
[ $# -gt 0 ] && RATES=("$@") || RATES=(0 10000 100000)
. "$ROOT/scripts/bench-agent.sh"
bench_init resources
agent_start
HZ=$(getconf CLK_TCK)
WARM_S=5 SAMPLE_S=15
printf "%-10s %12s %10s %10s %10s %s\n" "events/s" "delivered/s" "agent CPU" "RSS MiB" "peak MiB" "status"
for rate in "${RATES[@]}"; do
    if [ "$rate" -gt 0 ]; then
        in_cgroup "$BENCH" paced-ioctl "$rate" $((WARM_S + SAMPLE_S + 2)) "$DEV" >/dev/null & GEN=$!
    else
        GEN=
    fi
    sleep "$WARM_S"
    t0=$(date +%s.%N)
    cpu0=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
    ev0=$("$AG" status --runtime-dir "$RUNTIME/run" --json | grep -o '"eventsTotal": *"[0-9]*"' | grep -o '[0-9]*' || echo 0)
    sleep "$SAMPLE_S"
    cpu1=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
    t1=$(date +%s.%N)
    status=$("$AG" status --runtime-dir "$RUNTIME/run")
    ev1=$("$AG" status --runtime-dir "$RUNTIME/run" --json | grep -o '"eventsTotal": *"[0-9]*"' | grep -o '[0-9]*' || echo 0)
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
    [ -n "$GEN" ] && wait "$GEN"
    printf "%-10s %12.0f %9.1f%% %10.0f %10.0f %s\n" "$rate" "$(echo "($ev1 - $ev0) / ($t1 - $t0)" | bc)" \
        "$(echo "scale=1; ($cpu1 - $cpu0) * 100 / $HZ / ($t1 - $t0)" | bc)" "$((rss / 1024))" "$((hwm / 1024))" \
        "$(echo "$status" | grep -E '^events:' | sed 's/,.*lost/, lost/; s/, invalid.*//')"
done | tee "$OUT/summary.txt"
echo "bench-resources: $(nproc) CPUs, $(uname -r); agent CPU in % of one CPU" >&2
