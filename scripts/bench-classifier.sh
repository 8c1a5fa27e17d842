#!/usr/bin/env bash
# Runs the classifier JMH benchmark (docs/BENCHMARKS.md). Extra arguments go to JMH,
# e.g. -p rules=default. Results: stdout, benchmarks/target/classifier.txt, and the figures
# (score as median, score ± the 99.9 % interval as spread) in target/bench-classifier/results.tsv.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" --deps-only
. "$ROOT/scripts/find-java.sh"
cd "$ROOT"
mvn -q -B install -DskipTests
"$JAVA" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
    -jar benchmarks/target/benchmarks.jar ClassifierBenchmark -prof gc -rf csv \
    -rff benchmarks/target/classifier.csv "$@" | tee benchmarks/target/classifier.txt
mkdir -p target/bench-classifier
# "Benchmark","Mode","Threads","Samples","Score","Score Error (99.9%)","Unit","Param: rules"
awk -F',' 'NR > 1 {
        gsub(/"/, ""); rules = $8
        if ($1 ~ /alloc.rate.norm$/) { name = "bytes allocated per event"; unit = "B/event"; better = "lower" }
        else if ($1 ~ /:/) next
        else { name = "events/s on one core"; unit = "events/s"; better = "higher" }
        lo = $5 - $6; if (lo < 0) lo = 0
        printf "classifier rules=%s: %s\t%s\t%s\t%s\t%s\t%s\t%s\n", rules, name, unit, better, $5, lo, $5 + $6, $4
    }' benchmarks/target/classifier.csv > target/bench-classifier/results.tsv
cat target/bench-classifier/results.tsv
