-- Schema 2: records keyed by (node, spool epoch, sequence), content hashes, conflicts.
-- Rows from schema 1 keep their ids and move under the empty epoch (agents before epochs);
-- hashes are computed when first compared. SQLite cannot drop a table constraint: the
-- tables are rebuilt.
ALTER TABLE violations RENAME TO violations_v1;
CREATE TABLE violations (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '',
    sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, rule TEXT NOT NULL,
    priority INTEGER NOT NULL, cgroup TEXT, pid BIGINT, exe TEXT, data BLOB NOT NULL, hash BLOB,
    conflicted INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence));
INSERT INTO violations (id, node, epoch, sequence, received_ms, time_ms, rule, priority, cgroup, pid, exe, data)
    SELECT id, node, '', sequence, received_ms, time_ms, rule, priority, cgroup, pid, exe, data FROM violations_v1;
DROP TABLE violations_v1;
ALTER TABLE events RENAME TO events_v1;
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '',
    sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, time_ms BIGINT NOT NULL, data BLOB NOT NULL, hash BLOB,
    conflicted INTEGER NOT NULL DEFAULT 0, UNIQUE (node, epoch, sequence));
INSERT INTO events (id, node, epoch, sequence, received_ms, time_ms, data)
    SELECT id, node, '', sequence, received_ms, time_ms, data FROM events_v1;
DROP TABLE events_v1;
ALTER TABLE nodes ADD COLUMN epoch TEXT;
CREATE TABLE spools (node TEXT NOT NULL, epoch TEXT NOT NULL, last_sequence BIGINT NOT NULL DEFAULT 0,
    first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, PRIMARY KEY (node, epoch));
INSERT INTO spools (node, epoch, last_sequence, first_seen_ms, last_seen_ms)
    SELECT node, '', last_sequence, COALESCE(last_seen_ms, 0), COALESCE(last_seen_ms, 0) FROM nodes;
CREATE TABLE conflicts (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, epoch TEXT NOT NULL,
    sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, kind TEXT NOT NULL, hash BLOB NOT NULL,
    data BLOB NOT NULL, peer TEXT, UNIQUE (node, epoch, sequence, hash));
CREATE INDEX IF NOT EXISTS violations_time ON violations (time_ms);
CREATE INDEX IF NOT EXISTS violations_node_rule ON violations (node, rule);
CREATE INDEX IF NOT EXISTS events_time ON events (time_ms);
-- read by collectors from before Flyway, which refuse a schema newer than theirs
CREATE TABLE schema_info (version INTEGER NOT NULL);
INSERT INTO schema_info (version) VALUES (2);
