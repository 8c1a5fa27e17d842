#!/usr/bin/env bash
# Agent CPU and memory at a steady event rate (docs/BENCHMARKS.md): a paced load generator
# (syscall_bench paced-ioctl: one record per call) runs in an agent cgroup at each RATE; the
# agent's CPU time and RSS are sampled over the middle of the run. Needs root.
#   scripts/bench-resources.sh [RATE...]      (default: 0 10000 100000 events/s)
# EVENTS=false: write violations only (the packaged configuration) instead of every event.
# RUNS=N (default 3): the agent is started afresh for each run; figures are medians over runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
[ $# -gt 0 ] && RATES=("$@") || RATES=(0 10000 100000)
. "$ROOT/scripts/bench-agent.sh"
RUNS=${RUNS:-3}
. "$ROOT/scripts/bench-stats.sh"
bench_init "resources-events-${EVENTS:-true}"
rm -f "$OUT/samples.tsv"
label="resources (events: ${EVENTS:-true}${JAVA_TOOL_OPTIONS:+, $JAVA_TOOL_OPTIONS})"
HZ=$(getconf CLK_TCK)
WARM_S=5 SAMPLE_S=15
printf "%-4s %-10s %12s %10s %10s %10s %s\n" "run" "events/s" "delivered/s" "agent CPU" "RSS MiB" "peak MiB" "status" \
    | tee "$OUT/runs.txt"
for run in $(seq 1 "$RUNS"); do
    agent_start
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
        delivered=$(echo "($ev1 - $ev0) / ($t1 - $t0)" | bc)
        cpu=$(echo "scale=1; ($cpu1 - $cpu0) * 100 / $HZ / ($t1 - $t0)" | bc)
        sample "$label at $rate/s: delivered" events/s higher "$delivered"
        sample "$label at $rate/s: agent CPU" "% of a CPU" lower "$cpu"
        sample "$label at $rate/s: RSS" MiB lower "$((rss / 1024))"
        printf "%-4s %-10s %12.0f %9.1f%% %10.0f %10.0f %s\n" "$run" "$rate" "$delivered" "$cpu" "$((rss / 1024))" "$((hwm / 1024))" \
            "$(echo "$status" | grep -E '^events:' | sed 's/,.*lost/, lost/; s/, invalid.*//')" | tee -a "$OUT/runs.txt"
    done
    agent_stop
done
summarize
print_results | tee "$OUT/summary.txt"
echo "bench-resources: $(nproc) CPUs, $(uname -r); agent CPU in % of one CPU" >&2
