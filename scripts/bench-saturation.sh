#!/usr/bin/env bash
# Saturation (docs/BENCHMARKS.md): offered versus delivered versus lost records as the load
# rises, with the real agent. Paced generators (syscall_bench paced-ioctl, one record per
# call; two or more above 100 000/s, up to 400 000/s each) run in an agent cgroup at each rate for 8 s; offered is
# what they made, delivered and lost the agent's own counters (agentguard status: events
# read, ring reservations that failed) from before the step until the agent has drained it,
# all as rates over the 8 s. A last step at 1000/s checks that the agent is still there,
# still counting, and loses nothing once the load is gone. Needs root.
#   scripts/bench-saturation.sh [RUNS]     (default 3; RATES="25000 50000 100000 200000 400000 800000")
# EVENTS=true (default): the agent writes every event as JSON (the most expensive consumer);
# EVENTS=false: the packaged configuration (violations only).
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
RUNS=${1:-3}
read -r -a RATE_LIST <<< "${RATES:-25000 50000 100000 200000 400000 800000}"
export EVENTS=${EVENTS:-true}
STEP_S=8
. "$ROOT/scripts/bench-agent.sh"
. "$ROOT/scripts/bench-stats.sh"
bench_init "saturation-events-$EVENTS"
rm -f "$OUT/samples.tsv" "$OUT/raw.txt"
label="saturation (events: $EVENTS)"

counter() {   # counter eventsTotal|lostTotal -> the agent's value now
    "$AG" status --runtime-dir "$RUNTIME/run" --json | tr -d ' \n' | grep -o "\"$1\":\"[0-9]*\"" | grep -o '[0-9]*' || echo 0
}

settled_events() {   # the agent's event count once it stops growing (the backlog drained)
    local before after
    after=$(counter eventsTotal)
    for _ in $(seq 1 60); do
        sleep 0.5
        before=$after; after=$(counter eventsTotal)
        [ "$after" = "$before" ] && break
    done
    echo "$after"
}

step() {   # step RATE -> samples; offered = delivered + lost, as rates over the generators' STEP_S
    local rate=$1 gens=1 pids=() outs=() ev0 ev1 lost0 lost1 calls=0
    [ "$rate" -gt 100000 ] && gens=$(((rate + 399999) / 400000 > 2 ? (rate + 399999) / 400000 : 2))
    ev0=$(settled_events); lost0=$(counter lostTotal)
    for g in $(seq 1 $gens); do
        outs+=("$OUT/gen.$g"); in_cgroup "$BENCH" paced-ioctl $((rate / gens)) "$STEP_S" "$DEV" > "$OUT/gen.$g" &
        pids+=($!)
    done
    wait "${pids[@]}"
    ev1=$(settled_events); lost1=$(counter lostTotal)
    for f in "${outs[@]}"; do calls=$((calls + $(awk '{print $2}' "$f"))); done
    local offered=$((calls / STEP_S)) delivered=$(((ev1 - ev0) / STEP_S)) lost=$(((lost1 - lost0) / STEP_S))
    sample "$label at $rate/s: offered" records/s higher "$offered"
    sample "$label at $rate/s: delivered" records/s higher "$delivered"
    sample "$label at $rate/s: lost" records/s lower "$lost"
    printf "run=%s rate=%s offered_per_s=%s delivered_per_s=%s lost_per_s=%s\n" "$run" "$rate" "$offered" "$delivered" "$lost" \
        | tee -a "$OUT/raw.txt" >&2
}

for run in $(seq 1 "$RUNS"); do
    agent_start
    for rate in "${RATE_LIST[@]}"; do
        step "$rate"
    done
    step 1000   # after the overload: still running, still counting, nothing lost
    kill -0 "$AGENT_PID" || { echo "bench-saturation: the agent died" >&2; exit 1; }
    agent_stop
done
summarize
print_results | tee "$OUT/summary.txt"
echo "bench-saturation: $RUNS runs, $(nproc) CPUs, $(uname -r), events: $EVENTS; raw lines in $OUT/raw.txt" >&2
