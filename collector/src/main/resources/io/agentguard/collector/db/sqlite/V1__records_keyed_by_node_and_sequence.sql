-- Schema 1 (the first collector): records keyed by (node, sequence), no spool epochs.
CREATE TABLE violations (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, sequence BIGINT NOT NULL,
    received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, rule TEXT NOT NULL, priority INTEGER NOT NULL,
    cgroup TEXT, pid BIGINT, exe TEXT, data BLOB NOT NULL, UNIQUE (node, sequence));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, sequence BIGINT NOT NULL,
    received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, data BLOB NOT NULL, UNIQUE (node, sequence));
CREATE TABLE nodes (node TEXT PRIMARY KEY, last_sequence BIGINT NOT NULL DEFAULT 0,
    agent_version TEXT, kernel TEXT, mode TEXT, last_seen_ms BIGINT, heartbeat BLOB);
CREATE INDEX IF NOT EXISTS violations_time ON violations (time_ms);
CREATE INDEX IF NOT EXISTS violations_node_rule ON violations (node, rule);
CREATE INDEX IF NOT EXISTS events_time ON events (time_ms);
