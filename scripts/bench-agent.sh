# Shared by the agent benchmarks (sourced): an agent cgroup, a stand-in nvidiactl, an agent
# configuration, starting and stopping the agent, and clean-up on exit. Needs root.
#   bench_init NAME     sets BENCH, AG, OUT, CG2, CG_REL, DEV, RUNTIME; writes $RUNTIME/agent.yaml
# The configuration follows SYSCALL_OUTCOMES (auto), WAKEUP_DELAY_MS (2), GPU_STANDIN (1: register
# the stand-in) and EVENTS (true: write every event as JSON to /dev/null).

bench_init() {
    local name=$1
    "$ROOT/scripts/bootstrap.sh" >&2
    BENCH="$ROOT/agent/target/native/syscall_bench"
    AG="$ROOT/bin/agentguard"
    OUT="$ROOT/target/bench-$name"
    mkdir -p "$OUT"
    CG2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
    [ -n "$CG2" ] || { echo "bench-$name: no cgroup2 mount" >&2; exit 1; }
    CG_REL="agentguard-bench/$name"
    mkdir -p "$CG2/$CG_REL"
    DEV=/dev/agentguard-bench-$name-nvidiactl
    [ -e "$DEV" ] || mknod "$DEV" c 1 7          # /dev/full's numbers: a stand-in for nvidiactl
    RUNTIME=$(mktemp -d)
    AGENT_PID=
    trap bench_cleanup EXIT
    cat > "$RUNTIME/agent.yaml" <<YAML
agent_cgroups: [$CG_REL]
runtime_dir: $RUNTIME/run
metrics: {listen: ""}
stats_interval_ms: 0
syscall_outcomes: "${SYSCALL_OUTCOMES:-auto}"
ring_buffer: {wakeup_delay_ms: ${WAKEUP_DELAY_MS:-2}}
gpu: {standins: [$([ "${GPU_STANDIN:-1}" = 1 ] && echo "\"$DEV=control\"")]}
enforcement: {pin_path: ""}
output: {path: /dev/null, format: json, events: ${EVENTS:-true}}
policies:
  default:
    egress: {default: allow}
    gpu: {devices: all, compute: true}
    exec: {deny: []}
YAML
}

bench_cleanup() {
    agent_stop
    cgroup_kill
    rm -f "$DEV"; rm -rf "$RUNTIME"
    rmdir "$CG2/$CG_REL" "$CG2/agentguard-bench" 2>/dev/null || true
}

# Starts the agent and waits until it answers `agentguard status`.
agent_start() {
    "$AG" run --config "$RUNTIME/agent.yaml" 2>"$OUT/agent.log" & AGENT_PID=$!
    for _ in $(seq 1 120); do
        "$AG" status --runtime-dir "$RUNTIME/run" >/dev/null 2>&1 && return 0
        kill -0 "$AGENT_PID" 2>/dev/null || { cat "$OUT/agent.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "bench: the agent did not answer within 60 s" >&2; exit 1
}

agent_stop() {
    [ -n "$AGENT_PID" ] || return 0
    kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=
}

# Kills whatever still runs in the benchmark's cgroup (a generator started with `in_cgroup ... &`
# is a child of the subshell that $! names, so killing $! would leave it running).
cgroup_kill() {
    [ -e "$CG2/$CG_REL/cgroup.kill" ] && echo 1 > "$CG2/$CG_REL/cgroup.kill" || true
}

# Runs a command inside the benchmark's agent cgroup.
in_cgroup() {
    sh -c 'echo $$ > "$0" && exec "$@"' "$CG2/$CG_REL/cgroup.procs" "$@"
}
