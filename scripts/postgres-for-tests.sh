#!/usr/bin/env bash
# Starts a local PostgreSQL for the collector's store tests and prints the environment the
# tests read (AGENTGUARD_TEST_PG_URL, PGUSER, PGPASSWORD). Installs the server if missing;
# the role's password is generated here once and kept (root only), so that a rerun does not
# lock out test runs already connected with it. Safe to rerun. Needs root.
set -euo pipefail
# the caller's PG* settings (a previous eval of this script) must not steer the admin psql
unset PGUSER PGPASSWORD PGHOST PGDATABASE PGPORT
PASSWORD_FILE=/var/lib/postgresql/agentguard-test.password
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "postgres-for-tests: installing postgresql" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
    pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 2>/dev/null || true
for _ in $(seq 1 50); do
    pg_isready -q -h 127.0.0.1 -p "$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')" && break
    sleep 0.2
done
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
if [ ! -s "$PASSWORD_FILE" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24 > "$PASSWORD_FILE")
fi
password=$(cat "$PASSWORD_FILE")
su postgres -c "psql -q -p $port -v ON_ERROR_STOP=1" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentguard_test') THEN
    CREATE ROLE agentguard_test LOGIN;
  END IF;
END \$\$;
ALTER ROLE agentguard_test PASSWORD '$password';
SQL
su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_database WHERE datname = 'agentguard_test'\"" | grep -q 1 \
    || su postgres -c "createdb -p $port -O agentguard_test agentguard_test"
echo "export AGENTGUARD_TEST_PG_URL=jdbc:postgresql://127.0.0.1:$port/agentguard_test"
echo "export PGUSER=agentguard_test"
echo "export PGPASSWORD=$password"
