#!/usr/bin/env bash
# Runs the classifier JMH benchmark (docs/BENCHMARKS.md). Extra arguments go to JMH,
# e.g. -p rules=default. Results: stdout and benchmarks/target/classifier.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" --deps-only
. "$ROOT/scripts/find-java.sh"
cd "$ROOT"
mvn -q -B install -DskipTests
"$JAVA" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
    -jar benchmarks/target/benchmarks.jar ClassifierBenchmark -prof gc -rf text \
    -rff benchmarks/target/classifier.txt "$@"
