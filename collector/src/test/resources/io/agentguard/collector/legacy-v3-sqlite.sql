-- The schema as the collector before Flyway (JdbcStore at schema 3, commit 371e15f) made it on SQLite:
-- captured from its sqlite_master after a fresh open. One statement a line.
CREATE TABLE violations (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, rule TEXT NOT NULL, priority INTEGER NOT NULL, cgroup TEXT, pid BIGINT, exe TEXT, data BLOB NOT NULL, hash BLOB, conflicted INTEGER NOT NULL DEFAULT 0, occurrences BIGINT NOT NULL DEFAULT 1, summary INTEGER NOT NULL DEFAULT 0, aggregation_key TEXT, block_kind INTEGER NOT NULL DEFAULT 0, last_time_ms BIGINT, folded INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, data BLOB NOT NULL, hash BLOB, conflicted INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence));
CREATE TABLE nodes (node TEXT PRIMARY KEY, last_sequence BIGINT NOT NULL DEFAULT 0, agent_version TEXT, kernel TEXT, mode TEXT, last_seen_ms BIGINT, heartbeat BLOB, epoch TEXT);
CREATE TABLE spools (node TEXT NOT NULL, epoch TEXT NOT NULL, last_sequence BIGINT NOT NULL DEFAULT 0, first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, PRIMARY KEY (node, epoch));
CREATE TABLE conflicts (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, epoch TEXT NOT NULL, sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, kind TEXT NOT NULL, hash BLOB NOT NULL, data BLOB NOT NULL, peer TEXT, UNIQUE (node, epoch, sequence, hash));
CREATE TABLE schema_info (version INTEGER NOT NULL);
CREATE INDEX violations_time ON violations (time_ms);
CREATE INDEX violations_node_rule ON violations (node, rule);
CREATE INDEX violations_aggregation ON violations (node, aggregation_key);
CREATE INDEX events_time ON events (time_ms);
INSERT INTO schema_info (version) VALUES (3);
