#!/usr/bin/env bash
# The fleet benchmark (docs/BENCHMARKS.md, section 10): N simulated agents (default 1000, real
# gRPC streams in one JVM) against two collector replicas (`agentguard-collector serve` from the
# built jar, separate processes) on one PostgreSQL database; replica r1 is SIGKILLed mid-run and
# restarted. Ends with exactly-once storage checked per (node, sequence): exit 1 if not.
#   scripts/bench-fleet.sh [--agents 1000] [--rate 3000] [--seconds 60] [--kill-at 20]
#                          [--down-seconds 5] [--kill false] [--batch 500] [--window 8] ...
# Uses the local PostgreSQL of scripts/postgres-for-tests.sh with a role and database of its own
# (agentguard_fleet), so it never resets the test role's password under a running test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/find-java.sh
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    mvn -B -o -q package -pl collector -am -DskipTests
    mvn -B -o -q dependency:build-classpath -pl collector -Dmdep.includeScope=test \
        -Dmdep.outputFile=target/fleet-classpath.txt >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
pg_ctlcluster "$version" main start 2>/dev/null || true
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentguard_fleet') THEN CREATE ROLE agentguard_fleet LOGIN; END IF;
END \$\$;
ALTER ROLE agentguard_fleet PASSWORD '$password';
SQL
su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_database WHERE datname = 'agentguard_fleet'\"" | grep -q 1 \
    || su postgres -c "createdb -p $port -O agentguard_fleet agentguard_fleet"
export PGUSER=agentguard_fleet PGPASSWORD=$password
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB," \
     "kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
exec "$JAVA_HOME/bin/java" -Xmx1g -cp "collector/target/test-classes:collector/target/agentguard-collector.jar:$(cat collector/target/fleet-classpath.txt)" \
    io.agentguard.collector.fleet.FleetBenchmark --db "jdbc:postgresql://127.0.0.1:$port/agentguard_fleet" \
    --launch "$JAVA_HOME/bin/java -jar collector/target/agentguard-collector.jar" --out target/fleet "$@"
