#!/usr/bin/env bash
# Syscall overhead (docs/BENCHMARKS.md): ns per connect() (UDP, TCP), fork+execve,
# NVIDIA-style ioctl and open+close, for a process inside an agent cgroup and one outside, with the agent
# not loaded and loaded, alternating in every round. Needs root.
#   scripts/bench-syscalls.sh [ROUNDS]        (default 5; results: stdout and target/bench-syscalls-*/)
# SYSCALL_OUTCOMES=off|on|auto sets the agent's syscall_outcomes (default auto: on, since the
# ioctl tracepoint is attached for the stand-in); WAKEUP_DELAY_MS sets ring_buffer.wakeup_delay_ms
# (default 2; 0: the kernel wakes the reader per record, the behaviour before batching).
# GPU_STANDIN=0: no stand-in, so no ioctl tracepoint (a node without an NVIDIA driver); with
# SYSCALL_OUTCOMES=off as well, no syscall tracepoint at all. EVENTS=false: the agent writes
# violations only (the packaged configuration) instead of every event as JSON.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ROUNDS=${1:-5}
. "$ROOT/scripts/bench-agent.sh"
. "$ROOT/scripts/bench-stats.sh"
bench_init "syscalls-wakeup${WAKEUP_DELAY_MS:-2}-standin${GPU_STANDIN:-1}-outcomes${SYSCALL_OUTCOMES:-auto}$([ "${EVENTS:-true}" = false ] && echo -violations-only)"
rm -f "$OUT/samples.tsv"

# op iterations: each run takes about a second here
OPS=("connect-udp 100000" "connect-tcp 30000" "exec 1000" "ioctl 300000" "open 300000")

measure() {   # where op iterations -> ns per call
    local where=$1 op=$2 n=$3
    if [ "$where" = inside ]; then
        in_cgroup "$BENCH" "$op" "$n" "$DEV" | awk '{print $2}'
    else
        "$BENCH" "$op" "$n" "$DEV" | awk '{print $2}'
    fi
}

# Waits until the agent has drained what the last run produced (its CPU time stops growing),
# so that a measurement does not pay for the previous one's events on a small machine.
settle() {
    [ -n "$AGENT_PID" ] || return 0
    local before after
    for _ in $(seq 1 100); do
        before=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
        sleep 0.2
        after=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat")
        [ $((after - before)) -le 1 ] && return 0
    done
}

RESULTS="$OUT/raw.txt"
: > "$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    for agent in off on; do
        if [ "$agent" = on ]; then agent_start; fi
        for spec in "${OPS[@]}"; do
            set -- $spec
            for where in outside inside; do
                settle
                echo "$agent $where $1 $(measure "$where" "$1" "$2") $round" >> "$RESULTS"
            done
        done
        if [ "$agent" = on ]; then
            "$AG" status --runtime-dir "$RUNTIME/run" | grep -E "^events:" > "$OUT/agent-status-round$round.txt" || true
            agent_stop
        fi
    done
    echo "bench-syscalls: round $round/$ROUNDS done" >&2
done

# median and spread (min..max) per (agent, where, op); overhead = median(on) / median(off) - 1
summary() {
    sort -k1,1 -k2,2 -k3,3 -k4,4n "$RESULTS" | awk '
        { key = $3 " " $2 " " $1; v[key, ++n[key]] = $4; keys[key] = 1 }
        END {
            for (k in keys) {
                c = n[k]; m = (c % 2) ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
                med[k] = m; lo[k] = v[k, 1]; hi[k] = v[k, c]
            }
            printf "%-12s %-8s %14s %22s %14s %22s %9s\n", "call", "process", "off ns", "off min..max", "on ns", "on min..max", "overhead"
            split("connect-udp connect-tcp exec ioctl open", ops, " ")
            split("outside inside", wheres, " ")
            for (i = 1; i <= 5; i++) for (j = 1; j <= 2; j++) {
                a = ops[i] " " wheres[j] " off"; b = ops[i] " " wheres[j] " on"
                printf "%-12s %-8s %14.0f %22s %14.0f %22s %+8.1f%%\n", ops[i], wheres[j], med[a],
                    sprintf("%.0f..%.0f", lo[a], hi[a]), med[b], sprintf("%.0f..%.0f", lo[b], hi[b]),
                    (med[b] / med[a] - 1) * 100
            }
        }'
}
summary | tee "$OUT/summary.txt"

# The same as figures for scripts/bench-compare.sh: ns per call, and the overhead of each round
# (|| true: under set -e, an assignment whose substitution fails ends the script)
label="syscalls (wakeup ${WAKEUP_DELAY_MS:-2} ms, stand-in ${GPU_STANDIN:-1}, outcomes ${SYSCALL_OUTCOMES:-auto}$([ "${EVENTS:-true}" = false ] && echo ", violations only" || true))"
while read -r agent where op ns _; do
    sample "$label $op $where: agent $agent" ns lower "$ns"
done < "$RESULTS"
awk '{ v[$3 " " $2 " " $5, $1] = $4; k[$3 " " $2 " " $5] = 1 }
     END { for (x in k) { split(x, f, " "); printf "%s %s %.2f\n", f[1], f[2], (v[x, "on"] / v[x, "off"] - 1) * 100 } }' "$RESULTS" |
    while read -r op where pct; do sample "$label $op $where: overhead" % lower "$pct"; done
summarize

# Attribution: what the agent's BPF programs themselves cost per call (kernel.bpf_stats_enabled;
# a separate pass, since the statistics add their own cost).
prog_stats() {   # -> "name run_time_ns run_cnt" per agentguard program
    bpftool prog show | awk '/ name ag_/ { n = ""; t = 0; c = 0
        for (i = 1; i < NF; i++) { if ($i == "name") n = $(i + 1); if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) }
        print n, t, c }'
}
agent_start
STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
{
    printf "\n%-12s %-8s %-18s %12s %10s %12s\n" call process program "runs/call" "ns/run" "ns/call"
    for spec in "${OPS[@]}"; do
        set -- $spec
        for where in outside inside; do
            settle
            before=$(prog_stats)
            measure "$where" "$1" "$2" >/dev/null
            after=$(prog_stats)
            LC_ALL=C join --nocheck-order <(echo "$before" | LC_ALL=C sort) <(echo "$after" | LC_ALL=C sort) | awk -v op="$1" -v where="$where" -v n="$2" '
                { c = $5 - $3; t = $4 - $2; calls = n + int(n / 10)   # with the warm-up
                  if (c / calls >= 0.01) printf "%-12s %-8s %-18s %12.2f %10.0f %12.0f\n", op, where, $1, c / calls, t / c, t / calls }' || true
        done
    done
} | tee "$OUT/attribution.txt"
sysctl -qw kernel.bpf_stats_enabled="$STATS_BEFORE"
echo "bench-syscalls: $ROUNDS rounds on $(nproc) CPUs, $(uname -r); raw: $RESULTS" >&2
