#!/usr/bin/env bash
# End to end (docs/BENCHMARKS.md): from the kernel event to the violation acknowledged by a
# collector on loopback. The real collector runs in io.agentguard.bench.EndToEndLatency with an
# interceptor that timestamps each ack; the real agent (packaged settings: violations only,
# batched wakeups) reports to it over gRPC in plaintext. In an agent cgroup, a paced
# generator makes RATE violations/s (UDP connect() to 127.0.0.1:9, matched by a benchmark
# rule) while a second one adds BACKGROUND events/s that match nothing (GPU-style ioctls).
# Meanwhile `syscall_bench fsync` samples the fdatasync latency of the disk under the spool and
# the collector's database (both sync before a record is safe), reported alongside.
# Needs root.
#   scripts/bench-e2e.sh [RUNS]     (default 3; RATES="100 1000", BACKGROUND=10000, SECONDS_PER_RUN=10,
#                                    WARMUP_S=5: violations of the first seconds are not counted)
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
RUNS=${1:-3}
read -r -a RATE_LIST <<< "${RATES:-100 1000}"
BACKGROUND=${BACKGROUND:-10000}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
WARMUP_S=${WARMUP_S:-5}
export EVENTS=false
. "$ROOT/scripts/bench-agent.sh"
. "$ROOT/scripts/bench-stats.sh"
bench_init e2e
. "$ROOT/scripts/find-java.sh"
JAR="$ROOT/benchmarks/target/benchmarks.jar"
[ -f "$JAR" ] || (cd "$ROOT" && mvn -q -B install -DskipTests -pl benchmarks -am)
rm -f "$OUT/samples.tsv" "$OUT/raw.txt"
mkdir -p "$RUNTIME/rules"
cat > "$RUNTIME/rules/bench.yaml" <<'YAML'
- rule: Benchmark connect to port 9
  desc: every connect() of the end-to-end benchmark's generator is a violation
  condition: evt.type = connect and conn.port = 9 and proc.name = syscall_bench
  output: "benchmark connect by %proc.name"
  priority: NOTICE
YAML
cp "$RUNTIME/agent.yaml" "$RUNTIME/agent.base.yaml"
COLLECTOR_PID=

stop_collector() {
    [ -n "$COLLECTOR_PID" ] && kill "$COLLECTOR_PID" 2>/dev/null && wait "$COLLECTOR_PID" 2>/dev/null
    COLLECTOR_PID=
}
trap 'stop_collector; bench_cleanup' EXIT

for run in $(seq 1 "$RUNS"); do
    for rate in "${RATE_LIST[@]}"; do
        count=$((rate * SECONDS_PER_RUN))
        rm -rf "$RUNTIME/collector" "$RUNTIME/spool" "$RUNTIME/port"; mkdir -p "$RUNTIME/collector"
        "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$JAR" io.agentguard.bench.EndToEndLatency \
            --db "$RUNTIME/collector" --port-file "$RUNTIME/port" --count "$count" --warmup-s "$WARMUP_S" \
            --timeout-s $(((WARMUP_S + SECONDS_PER_RUN) * 4 + 30)) --trace "$OUT/trace-run$run-rate$rate.txt" > "$OUT/collector.out" 2> "$OUT/collector.log" & COLLECTOR_PID=$!
        for _ in $(seq 1 100); do [ -s "$RUNTIME/port" ] && break; sleep 0.2; done
        [ -s "$RUNTIME/port" ] || { cat "$OUT/collector.log" >&2; exit 1; }
        { cat "$RUNTIME/agent.base.yaml"; cat <<YAML
rules: {paths: ["$RUNTIME/rules/bench.yaml"]}
report: {collectors: ["127.0.0.1:$(cat "$RUNTIME/port")"], tls: plaintext, spool_dir: "$RUNTIME/spool", node: bench}
YAML
        } > "$RUNTIME/agent.yaml"
        agent_start
        # the generators outlast the count (skipped warm-up, start-up): the collector ends the run
        in_cgroup "$BENCH" paced-ioctl "$BACKGROUND" $(((WARMUP_S + SECONDS_PER_RUN) * 2 + 10)) "$DEV" >/dev/null & BG=$!
        in_cgroup "$BENCH" paced-connect-udp "$rate" $(((WARMUP_S + SECONDS_PER_RUN) * 2 + 10)) >/dev/null & GEN=$!
        # the disk the spool and the collector's database sit on, meanwhile: fdatasync latency
        "$BENCH" fsync $((WARMUP_S + SECONDS_PER_RUN)) "$RUNTIME/fsync-probe" > "$OUT/fsync.out" & PROBE=$!
        wait "$COLLECTOR_PID" || { cat "$OUT/collector.log" "$OUT/agent.log" >&2; exit 1; }
        COLLECTOR_PID=
        cgroup_kill; wait "$BG" "$GEN" 2>/dev/null || true
        wait "$PROBE" || true
        agent_stop
        read -r _ _ fsync_p50 fsync_p99 fsync_max < "$OUT/fsync.out" || true
        line="$(cat "$OUT/collector.out") fsync_p50_us=$fsync_p50 fsync_p99_us=$fsync_p99 fsync_max_us=$fsync_max"
        echo "run=$run rate=$rate $line" | tee -a "$OUT/raw.txt" >&2
        sample "e2e $rate violations/s: disk fdatasync p99 (context)" us lower "$fsync_p99"
        for p in p50 p90 p99 max; do
            sample "e2e $rate violations/s + $BACKGROUND events/s: $p" us lower \
                "$(echo "$line" | tr ' ' '\n' | sed -n "s/^${p}_us=//p")"
        done
    done
done
summarize
print_results | tee "$OUT/summary.txt"
echo "bench-e2e: $RUNS runs, $(nproc) CPUs, $(uname -r); raw lines in $OUT/raw.txt" >&2
