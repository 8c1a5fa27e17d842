-- The schema as the collector before Flyway (JdbcStore at schema 3, commit 371e15f) made it on PostgreSQL:
-- its CREATE statements (pg_dump of a schema it created shows the same tables, constraints and indexes).
-- One statement a line.
CREATE TABLE IF NOT EXISTS violations (id BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, rule TEXT NOT NULL, priority INTEGER NOT NULL, cgroup TEXT, pid BIGINT, exe TEXT, data BYTEA NOT NULL, hash BYTEA, conflicted INTEGER NOT NULL DEFAULT 0, occurrences BIGINT NOT NULL DEFAULT 1, summary INTEGER NOT NULL DEFAULT 0, aggregation_key TEXT, block_kind INTEGER NOT NULL DEFAULT 0, last_time_ms BIGINT, folded INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence));
CREATE TABLE IF NOT EXISTS events (id BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, data BYTEA NOT NULL, hash BYTEA, conflicted INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence));
CREATE TABLE IF NOT EXISTS nodes (node TEXT PRIMARY KEY, last_sequence BIGINT NOT NULL DEFAULT 0, agent_version TEXT, kernel TEXT, mode TEXT, last_seen_ms BIGINT, heartbeat BYTEA, epoch TEXT);
CREATE TABLE IF NOT EXISTS spools (node TEXT NOT NULL, epoch TEXT NOT NULL, last_sequence BIGINT NOT NULL DEFAULT 0, first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, PRIMARY KEY (node, epoch));
CREATE TABLE IF NOT EXISTS conflicts (id BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, epoch TEXT NOT NULL, sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, kind TEXT NOT NULL, hash BYTEA NOT NULL, data BYTEA NOT NULL, peer TEXT, UNIQUE (node, epoch, sequence, hash));
CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS violations_time ON violations (time_ms);
CREATE INDEX IF NOT EXISTS violations_node_rule ON violations (node, rule);
CREATE INDEX IF NOT EXISTS violations_aggregation ON violations (node, aggregation_key);
CREATE INDEX IF NOT EXISTS events_time ON events (time_ms);
INSERT INTO schema_info (version) VALUES (3);
