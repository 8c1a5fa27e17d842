#!/usr/bin/env bash
# Ring throughput (docs/BENCHMARKS.md): the agent's Java reader (RingBufferReader, driven by
# io.agentguard.bench.RingReaderBenchmark) against a reference C consumer on libbpf's
# ring_buffer API (native/ring_reader), both loading the benchmark's BPF object
# (agent/target/bpf/agentguard-bench.bpf.o: the agent's hook files plus the benchmark program
# ag_bench_emit, bpf/bench/) with only ag_bench_emit enabled, fed by the same generator
# (syscall_bench burst) in the same run, alternating which goes first. Reader on CPU 0,
# generator on CPU 1. Needs root.
#   scripts/bench-ring.sh [RUNS]        (default 5; figures are medians over RUNS)
# drain RECORD: the generator fills nine tenths of the ring in one bpf_loop, then the reader
#        drains it, timed (the reader's own ceiling: no producer in the way). RECORD: ioctl
#        (312-byte GPU ioctl records, the densest real stream) or header (64 bytes: per-record
#        overhead rather than memory traffic).
# stream WAKEUP BURST: BURST records per getpgid() for STREAM_S seconds (default 5) under the
#        wakeup policy (kernel: the kernel wakes an idle reader per record; batched: the agent's
#        default, poll every 2 ms and a forced wakeup at a quarter full).
# ONLY=drain (or "stream batched"...): run only the configurations starting with that.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
RUNS=${1:-5}
STREAM_S=${STREAM_S:-5}
. "$ROOT/scripts/bench-agent.sh"
. "$ROOT/scripts/bench-stats.sh"
bench_init ring
. "$ROOT/scripts/find-java.sh"
[ "$(nproc)" -ge 2 ] || { echo "bench-ring: needs two CPUs (reader and generator on their own)" >&2; exit 1; }
OBJ="$ROOT/agent/target/bpf/agentguard-bench.bpf.o"
JAR="$ROOT/benchmarks/target/benchmarks.jar"
[ -f "$JAR" ] || (cd "$ROOT" && mvn -q -B install -DskipTests -pl benchmarks -am)
[ -f "$OBJ" ] || { echo "bench-ring: $OBJ missing: build the agent (mvn -B -q package -DskipTests -pl agent -am)" >&2; exit 1; }
COMMON=(--object "$OBJ" --cgroup "$CG2/$CG_REL" --generator "$BENCH" --reader-cpu 0 --generator-cpu 1)
rm -f "$OUT/samples.tsv" "$OUT/raw.txt"

reader() {   # reader java|c ARGS... -> prints its key=value line
    case $1 in
        java) shift; "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$JAR" io.agentguard.bench.RingReaderBenchmark "$@" ;;
        c) shift; "$ROOT/agent/target/native/ring_reader" "$@" ;;
    esac
}

field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

CONFIGS=("drain ioctl" "drain header" "stream kernel 1" "stream batched 1" "stream kernel 64" "stream batched 64")
for run in $(seq 1 "$RUNS"); do
    [ $((run % 2)) = 1 ] && order="java c" || order="c java"
    for config in "${CONFIGS[@]}"; do
        [[ $config == "${ONLY:-}"* ]] || continue
        set -- $config
        if [ "$1" = drain ]; then
            args=(--mode drain --rounds 300 --record "$2"); name="drain $2"
        else
            args=(--mode stream --wakeup "$2" --burst "$3" --seconds "$STREAM_S"); name="stream $2, $3/call"
        fi
        declare -A rate=()
        for r in $order; do
            line=$(reader "$r" "${COMMON[@]}" "${args[@]}")
            echo "run=$run $line" | tee -a "$OUT/raw.txt" >&2
            rate[$r]=$(field "$line" delivered_per_s)
            sample "ring $name: $r records/s" records/s higher "${rate[$r]}"
            if [ "$1" = stream ]; then
                sample "ring $name: $r lost" records lower "$(field "$line" lost)"
                sample "ring $name: $r reader CPU per record" ns lower "$(field "$line" reader_cpu_ns_per_record)"
            fi
        done
        sample "ring $name: java/c records/s" ratio higher "$(printf '%.3f' "$(echo "scale=4; ${rate[java]} / ${rate[c]}" | bc)")"
        unset rate
    done
done
summarize
print_results | tee "$OUT/summary.txt"
echo "bench-ring: $RUNS runs, $(nproc) CPUs, $(uname -r); raw lines in $OUT/raw.txt, figures in $OUT/results.tsv" >&2
