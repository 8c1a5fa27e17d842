-- Schema 2: records keyed by (node, spool epoch, sequence), content hashes, conflicts.
-- Rows from schema 1 keep their ids and move under the empty epoch (agents before epochs);
-- hashes are computed when first compared.
ALTER TABLE violations ADD COLUMN IF NOT EXISTS epoch TEXT NOT NULL DEFAULT '';
ALTER TABLE violations ADD COLUMN IF NOT EXISTS hash BYTEA;
ALTER TABLE violations ADD COLUMN IF NOT EXISTS conflicted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE violations DROP CONSTRAINT IF EXISTS violations_node_sequence_key;
ALTER TABLE violations ADD CONSTRAINT violations_node_epoch_sequence_key UNIQUE (node, epoch, sequence);
ALTER TABLE events ADD COLUMN IF NOT EXISTS epoch TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN IF NOT EXISTS hash BYTEA;
ALTER TABLE events ADD COLUMN IF NOT EXISTS conflicted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_node_sequence_key;
ALTER TABLE events ADD CONSTRAINT events_node_epoch_sequence_key UNIQUE (node, epoch, sequence);
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS epoch TEXT;
CREATE TABLE spools (node TEXT NOT NULL, epoch TEXT NOT NULL, last_sequence BIGINT NOT NULL DEFAULT 0,
    first_seen_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, PRIMARY KEY (node, epoch));
INSERT INTO spools (node, epoch, last_sequence, first_seen_ms, last_seen_ms)
    SELECT node, '', last_sequence, COALESCE(last_seen_ms, 0), COALESCE(last_seen_ms, 0) FROM nodes;
CREATE TABLE conflicts (id BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, epoch TEXT NOT NULL,
    sequence BIGINT NOT NULL, received_ms BIGINT NOT NULL, kind TEXT NOT NULL, hash BYTEA NOT NULL,
    data BYTEA NOT NULL, peer TEXT, UNIQUE (node, epoch, sequence, hash));
CREATE INDEX IF NOT EXISTS violations_time ON violations (time_ms);
CREATE INDEX IF NOT EXISTS violations_node_rule ON violations (node, rule);
CREATE INDEX IF NOT EXISTS events_time ON events (time_ms);
-- read by collectors from before Flyway, which refuse a schema newer than theirs
CREATE TABLE schema_info (version INTEGER NOT NULL);
INSERT INTO schema_info (version) VALUES (2);
