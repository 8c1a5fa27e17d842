#!/usr/bin/env bash
# Cost of agent cgroups by pattern when cgroups come and go: a native load generator
# (native/cgroup_churn churn: mkdir + rmdir in a loop, as fast as it goes) measures the rate
# and per-op latency without the agent (baseline), then with the agent watching a pattern
# that every new cgroup matches (each mkdir runs the kernel matcher and inserts; each rmdir
# deletes) and one that none matches (the matcher runs and says no), all in this one run;
# plus the daemon's CPU while the churn runs. Usage: scripts/bench-scope-patterns.sh [OPS]
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OPS=${1:-20000}
TOOL="$ROOT/agent/target/native/cgroup_churn"
[ -x "$TOOL" ] || make -s -C "$ROOT/native" BUILD="$ROOT/agent/target/native" "$ROOT/agent/target/native/cgroup_churn"
MOUNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
REL=agentguard-bench-scope-$$
BASE="$MOUNT/$REL"
WORK=$(mktemp -d)
mkdir -p "$BASE/jobs" "$BASE/fixed"
AGENT=
cleanup() {
    [ -n "${STATS:-}" ] && echo "$STATS" > /proc/sys/kernel/bpf_stats_enabled
    [ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null || true
    rmdir "$BASE/jobs" "$BASE/fixed" "$BASE" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

echo "baseline (no agent):      $("$TOOL" churn "$BASE/jobs" "job_%ld" "$OPS")"

cat > "$WORK/agentguard.yaml" <<YAML
agent_cgroups:
  - "$REL/fixed"
  - "$REL/jobs/job_*"
runtime_dir: $WORK/run
mode: monitor
output: {path: /dev/null, events: false}
enforcement: {pin_path: ""}
metrics: {listen: "127.0.0.1:0"}
YAML
"$ROOT/bin/agentguard" run --config "$WORK/agentguard.yaml" > "$WORK/agent.log" 2>&1 &
AGENT=$!
for _ in $(seq 1 300); do
    grep -q "watching" "$WORK/agent.log" && break
    sleep 0.1
done
grep -q "watching" "$WORK/agent.log" || { cat "$WORK/agent.log"; exit 1; }
PID=$(pgrep -P "$AGENT" java || echo "$AGENT")
HZ=$(getconf CLK_TCK)
# the kernel programs' own time (bpf_stats): the newest programs of those names are this agent's
STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
echo 1 > /proc/sys/kernel/bpf_stats_enabled
prog_stats() {
    bpftool -j prog show | python3 -c '
import json, sys
newest = {}
for p in json.load(sys.stdin):   # the newest program of each name: this agent, loaded last
    if p.get("name") in ("ag_cgroup_mkdir", "ag_cgroup_rmdir") and p["id"] > newest.get(p["name"], {"id": -1})["id"]:
        newest[p["name"]] = p
for name, p in newest.items():
    print(name, p.get("run_cnt", 0), p.get("run_time_ns", 0))
'
}
t0=$(cpu_ticks "$PID"); s0=$(date +%s.%N)
before=$(prog_stats)
echo "agent, every mkdir match: $("$TOOL" churn "$BASE/jobs" "job_%ld" "$OPS")"
mid=$(prog_stats)
echo "agent, no mkdir matches:  $("$TOOL" churn "$BASE/jobs" "other_%ld" "$OPS")"
after=$(prog_stats)
echo "$STATS" > /proc/sys/kernel/bpf_stats_enabled
per_run() {   # name, stats before, stats after -> ns per run
    awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN {
        split(a, la, "\n"); split(b, lb, "\n")
        for (i in la) { split(la[i], f, " "); if (f[1] == n) { c0 = f[2]; t0 = f[3] } }
        for (i in lb) { split(lb[i], f, " "); if (f[1] == n) { c1 = f[2]; t1 = f[3] } }
        if (c1 > c0) printf "%s %d runs, %.0f ns each", n, c1 - c0, (t1 - t0) / (c1 - c0); else printf "%s no runs", n }'
}
echo "kernel, matching mkdirs:     $(per_run ag_cgroup_mkdir "$before" "$mid"); $(per_run ag_cgroup_rmdir "$before" "$mid")"
echo "kernel, non-matching mkdirs: $(per_run ag_cgroup_mkdir "$mid" "$after"); $(per_run ag_cgroup_rmdir "$mid" "$after")"
t1=$(cpu_ticks "$PID"); s1=$(date +%s.%N)
awk -v t="$((t1 - t0))" -v hz="$HZ" -v s0="$s0" -v s1="$s1" \
    'BEGIN { printf "daemon CPU during both agent runs: %.2f s over %.1f s wall (%.1f%% of one core)\n", t/hz, s1-s0, 100*t/hz/(s1-s0) }'
echo "baseline again (agent up, churn outside the pattern's parent): $("$TOOL" churn "$BASE" "x_%ld" "$OPS")"
